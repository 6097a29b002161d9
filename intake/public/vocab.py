"""Routing vocabularies of DESIGN §4 as the public form offers them.

Threats, profiles, urgency, countries and languages are the directory's (``intake.directory
.vocab``), so a request always matches what triage understands. Countries (ISO 3166-1 alpha-2)
and languages (ISO 639-1) are named by Babel's CLDR data in the reader's language.
"""

from __future__ import annotations

from babel import Locale
from flask_babel import get_locale

from intake.directory import vocab as directory_vocab

# One vocabulary for the form, the directory and triage: ids and labels are the directory's.
THREATS = directory_vocab.THREATS
PROFILES = directory_vocab.PROFILES
URGENCY = directory_vocab.URGENCIES

# Languages offered as checkboxes; any other ISO 639-1 code can be chosen from a list.
COMMON_LANGUAGES = (
    "en", "zh", "es", "fr", "ar", "ru", "pt", "fa", "tr", "ur", "hi", "bn", "vi", "th", "my",
    "id", "ms", "km", "bo", "ug", "ko", "ja", "uk", "sw",
)  # fmt: skip


def _locale() -> Locale:
    locale = get_locale()
    return locale if locale is not None else Locale.parse("en")


COUNTRY_CODES = directory_vocab.ISO_COUNTRIES
ISO_639_1 = directory_vocab.language_codes()


def country_choices() -> list[tuple[str, str]]:
    """(code, name in the reader's language), sorted by name."""
    names = _locale().territories
    english = Locale.parse("en").territories
    return sorted(
        ((code, names.get(code) or english.get(code) or code) for code in COUNTRY_CODES),
        key=lambda pair: pair[1],
    )


def language_name(code: str) -> str:
    return str(_locale().languages.get(code) or Locale.parse("en").languages.get(code) or code)


def common_language_choices() -> list[tuple[str, str]]:
    return [(code, language_name(code)) for code in COMMON_LANGUAGES]


def other_language_choices() -> list[tuple[str, str]]:
    others = sorted(ISO_639_1 - set(COMMON_LANGUAGES))
    return sorted(((code, language_name(code)) for code in others), key=lambda pair: pair[1])
