"""The controlled vocabularies of DESIGN §4, in one place: the public form, the directory,
triage, the queue and the reports all use these ids and labels.

Ids are stable (stored in the database, in referrals and in the JSON of the CLI); labels go
through Flask-Babel. Named regions map to ISO 3166-1 alpha-2 countries so that triage can tell
whether a regional organisation or mechanism can act for a person in a given country. Countries
and languages are named by Babel's CLDR data in the reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from intake import collation, directory_words

THREATS: Mapping[str, LazyString] = {
    "violence_threat": _l("Threat of violence"),
    "physical_attack": _l("Physical attack"),
    "detention": _l("Detention or imprisonment"),
    "lawsuit": _l("Lawsuit or prosecution"),
    "rights_violation": _l("Violation of rights"),
    "discrimination": _l("Discrimination"),
    "expression": _l("Attack on freedom of expression"),
    "health": _l("Health emergency"),
    "aid_worker_security": _l("Security of aid workers"),
    "disappearance": _l("Enforced disappearance"),
    "reprisal": _l("Reprisal for cooperating with the UN"),
    "legislation": _l("Draft law or policy"),
    "digital": _l("Digital threat"),
}

PROFILES: Mapping[str, LazyString] = {
    "journalist": _l("Journalist"),
    "freelance_journalist": _l("Freelance journalist"),
    "woman_hrd": _l("Woman human rights defender"),
    "lawyer": _l("Lawyer"),
    "aid_worker": _l("Aid worker"),
    "lgbti": _l("LGBTI defender"),
    "environmental_land": _l("Environmental or land defender"),
    "indigenous": _l("Indigenous defender"),
    "academic": _l("Academic"),
    "organisation": _l("Organisation"),
    "family_member": _l("Family member of a defender"),
}

# A profile that implies another: a freelance journalist is a journalist.
PROFILE_IMPLIES: Mapping[str, tuple[str, ...]] = {"freelance_journalist": ("journalist",)}

URGENCIES: Mapping[str, LazyString] = {
    "immediate": _l("Immediate: life or liberty at risk now"),
    "days": _l("Within days"),
    "weeks": _l("Within weeks"),
    "not_urgent": _l("Not urgent"),
}

KINDS: Mapping[str, LazyString] = {
    "organisation": _l("Organisation"),
    "un_mechanism": _l("UN mechanism"),
    "regional_mechanism": _l("Regional mechanism"),
    "international_court": _l("International court"),
}

SECTIONS: Mapping[str, LazyString] = {
    "immediate_support": _l("Immediate support"),
    "legal_network": _l("Legal network"),
    "international_mechanism": _l("International mechanism"),
}

CONTACT_KINDS: Mapping[str, LazyString] = {
    "web": _l("Website"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "secure_form": _l("Secure online form"),
    "onion": _l("Onion address (Tor)"),
}

# Structured caveats. Triage enforces the ones marked in services.triage (e.g. detention_only).
CONDITIONS: Mapping[str, LazyString] = {
    "domestic_remedies_exhausted": _l("Only after domestic remedies are exhausted"),
    "states_only": _l("Only states can refer a situation"),
    "detention_only": _l("Only for people deprived of their liberty"),
    "disappearance_only": _l("Only for enforced or involuntary disappearances"),
    "reprisal_only": _l("Only for reprisals for cooperating with the UN"),
    "profiles_only": _l("Only for the profiles listed"),
    "immediate_only": _l("Only when life or liberty is at risk now"),
    "no_direct_casework": _l("Does not take individual cases directly"),
    "note": _l("Note"),
}


# A shipped entry's words in the reader's language (its conditions, the UN's names).
in_reader_language = directory_words.in_reader_language


def condition_note(condition_id: str, text: str | None) -> str:
    """A condition's own text, or "" where it only says its (English) label again, as the
    shipped WGAD entry's "Only for people deprived of their liberty." under that very label
    (a review). The entry page and triage's caveats both ask this; English only, so triage's
    stored wording does not depend on the request's language."""
    note = (text or "").strip()
    if condition_id not in CONDITIONS:
        return note

    def bare(words: str) -> str:
        return words.rstrip(".。").casefold()

    return "" if bare(note) == bare(english(CONDITIONS, condition_id)) else note


# The kinds of referral an entry takes (its ``referral_kinds``): ids of ReferralKind, named
# on every page as the referral pages name them (intake.labels.KIND_LABELS).
REFERRAL_KINDS: tuple[str, ...] = (
    "sp_urgent_appeal",
    "sp_allegation_letter",
    "sp_legislation",
    "wgad_opinion",
    "reprisals_report",
    "ngo_referral",
    "embassy_contact",
    "follow_up",
)

REGIONS: Mapping[str, LazyString] = {
    "global": _l("Global"),
    "africa": _l("Africa"),
    "americas": _l("Americas"),
    "latin_america": _l("Latin America and the Caribbean"),
    "north_america": _l("North America"),
    "europe": _l("Europe"),
    "central_europe": _l("Central Europe"),
    "eastern_europe": _l("Eastern Europe"),
    "central_asia": _l("Central Asia"),
    "east_asia": _l("East Asia"),
    "south_asia": _l("South Asia"),
    "southeast_asia": _l("Southeast Asia"),
    "asia_pacific": _l("Asia and the Pacific"),
    "middle_east_north_africa": _l("Middle East and North Africa"),
}

_ISO_ALPHA2 = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_ISO_ALPHA2.split())


def _codes(text: str) -> frozenset[str]:
    codes = frozenset(text.split())
    unknown = codes - ISO_COUNTRIES
    assert not unknown, unknown  # noqa: S101 (a typo in the tables below is a bug)
    return codes


_AFRICA = _codes(
    """DZ AO BJ BW BF BI CV CM CF TD KM CD CG CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG
    MW ML MR MU MA MZ NA NE NG RW ST SN SC SL SO ZA SS SD TZ TG TN UG ZM ZW EH"""
)
_LATIN_AMERICA = _codes(
    """AR BO BR CL CO CR CU DO EC SV GT HN MX NI PA PY PE UY VE HT AG BS BB BZ DM GD GY JM KN LC
    VC SR TT PR"""
)
_NORTH_AMERICA = _codes("US CA")
_EAST_ASIA = _codes("CN HK MO TW JP KR KP MN")
_SOUTHEAST_ASIA = _codes("BN KH ID LA MY MM PH SG TH TL VN")
_SOUTH_ASIA = _codes("AF BD BT IN MV NP PK LK")
_CENTRAL_ASIA = _codes("KZ KG TJ TM UZ")
_CENTRAL_EUROPE = _codes("AT CH CZ DE HU LI PL SI SK EE LV LT HR")
_EASTERN_EUROPE = _codes("BY BG CZ HU PL MD RO RU SK UA AM AZ GE AL BA ME MK RS")
_EUROPE = _codes(
    """AL AD AM AT AZ BE BA BG BY HR CY CZ DK EE FI FR GE DE GR HU IS IE IT LV LI LT LU MT MD MC
    ME NL MK NO PL PT RO RU SM RS SK SI ES SE CH TR UA GB VA"""
)
_OCEANIA = _codes("AU NZ PG FJ SB VU WS TO KI TV NR FM MH PW")
_MENA = _codes("DZ BH EG IR IQ IL JO KW LB LY MA OM PS QA SA SY TN AE YE")

REGION_COUNTRIES: Mapping[str, frozenset[str]] = {
    "africa": _AFRICA,
    "americas": _LATIN_AMERICA | _NORTH_AMERICA,
    "latin_america": _LATIN_AMERICA,
    "north_america": _NORTH_AMERICA,
    "europe": _EUROPE,
    "central_europe": _CENTRAL_EUROPE,
    "eastern_europe": _EASTERN_EUROPE,
    "central_asia": _CENTRAL_ASIA,
    "east_asia": _EAST_ASIA,
    "south_asia": _SOUTH_ASIA,
    "southeast_asia": _SOUTHEAST_ASIA,
    "asia_pacific": _EAST_ASIA | _SOUTHEAST_ASIA | _SOUTH_ASIA | _OCEANIA,
    "middle_east_north_africa": _MENA,
}

# Council of Europe member states: the European Court of Human Rights hears applications
# against these (Russia ceased to be a party in September 2022).
COUNCIL_OF_EUROPE = _EUROPE - _codes("BY RU VA")


@cache
def regions_of(country: str) -> frozenset[str]:
    """Named regions that contain ``country`` (never "global": that is everywhere)."""
    return frozenset(region for region, members in REGION_COUNTRIES.items() if country in members)


@cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 codes (the two-letter codes Babel's CLDR data knows)."""
    return frozenset(str(code) for code in Locale("en").languages if len(str(code)) == 2)


def english(table: Mapping[str, LazyString], key: str) -> str:
    """The untranslated (English) label: stored text such as triage reasons must not depend
    on the locale of the request that happened to compute it."""
    label = table.get(key)
    if label is None:
        return key
    return str(label._args[0]) if label._args else str(label)


@cache
def _cldr(locale: str) -> Locale | None:
    try:
        return Locale.parse(locale)
    except (ValueError, TypeError):
        return None


_ENGLISH = Locale("en")


def _reader_locale() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else "en"


@cache
def _country_name(code: str, locale: str) -> str:
    data = _cldr(locale)
    name = data.territories.get(code) if data else None
    return str(name or _ENGLISH.territories.get(code) or code)


@cache
def _language_name(code: str, locale: str) -> str:
    data = _cldr(locale)
    name = data.languages.get(code) if data else None
    return str(name or _ENGLISH.languages.get(code) or code)


def country_name(code: str, locale: str | None = None) -> str:
    """The country's name in ``locale`` (default: the reader's), else English, else the code."""
    return _country_name(code, locale or _reader_locale())


# How a list of names is separated in a language: Chinese writes 孟加拉文、英文 (the
# enumeration comma), Arabic its own comma; an ASCII ", " between Chinese names read as English.
_LIST_SEPARATORS = {"zh_Hant": "、", "zh_Hans": "、", "ar": "، "}


def joined(names: Iterable[str], locale: str | None = None) -> str:
    """Names side by side, separated as the reader's language separates a list (no "and")."""
    return _LIST_SEPARATORS.get(locale or _reader_locale(), ", ").join(names)


def language_name(code: str, locale: str | None = None) -> str:
    """The language's name in ``locale`` (default: the reader's), else English, else the code."""
    return _language_name(code, locale or _reader_locale())


# --- choices for forms ----------------------------------------------------------------------

# Languages offered as checkboxes on the public form; any other ISO 639-1 code from a list.
COMMON_LANGUAGES = (
    "en", "zh", "es", "fr", "ar", "ru", "pt", "fa", "tr", "ur", "hi", "bn", "vi", "th", "my",
    "id", "ms", "km", "bo", "ug", "ko", "ja", "uk", "sw",
)  # fmt: skip


# The choice lists are built and sorted once per language (issue 14: ~250 countries and ~180
# languages sorted on every form was a fifth of a no-JavaScript submission), in the reader's
# collation (intake.collation), which the staff queue's country filter shares.


@cache
def _country_choices(locale: str) -> tuple[tuple[str, str], ...]:
    pairs = ((code, country_name(code, locale)) for code in ISO_COUNTRIES)
    return tuple(collation.by_name(pairs, lambda pair: pair[1], locale))


@cache
def countries_in_name_order(locale: str) -> tuple[str, ...]:
    """Every country's code, in the order of their names in ``locale`` (the queue's Country
    sort, as its filter lists them)."""
    return tuple(code for code, _name in _country_choices(locale))


@cache
def _common_language_choices(locale: str) -> tuple[tuple[str, str], ...]:
    return tuple((code, language_name(code, locale)) for code in COMMON_LANGUAGES)


@cache
def _other_language_choices(locale: str) -> tuple[tuple[str, str], ...]:
    others = sorted(language_codes() - set(COMMON_LANGUAGES))
    pairs = ((code, language_name(code, locale)) for code in others)
    return tuple(collation.by_name(pairs, lambda pair: pair[1], locale))


@cache
def _countries_by_name(locale: str) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    spellings = {locale, "en", *(("zh_Hant", "zh_Hans") if locale.startswith("zh") else ())}
    for code in ISO_COUNTRIES:
        shown = country_name(code, locale)
        for spelling in spellings:
            names.setdefault(country_name(code, spelling).lower(), (code, shown))
    return names


def countries_by_name() -> dict[str, tuple[str, str]]:
    """Each country's name, lower-cased, in the reader's language and in English (and in both
    Chinese scripts for a Chinese reader) -> (its code, its name in the reader's language)."""
    return _countries_by_name(_reader_locale())


# What people call a country where the official name differs ("Hong Kong SAR China",
# 中國香港特別行政區, "Myanmar (Burma)"): typed into the directory form, these are read too.
COUNTRY_ALIASES = {
    "hong kong": "HK",
    "香港": "HK",
    "macau": "MO",
    "macao": "MO",
    "澳門": "MO",
    "澳门": "MO",
    "taiwan": "TW",
    "台灣": "TW",
    "台湾": "TW",
    "中華民國": "TW",
    "china": "CN",
    "mainland china": "CN",
    "prc": "CN",
    "中國大陸": "CN",
    "中国大陆": "CN",
    "palestine": "PS",
    "巴勒斯坦": "PS",
    "burma": "MM",
    "緬甸": "MM",
    "缅甸": "MM",
    "turkey": "TR",
    "türkiye": "TR",
    "uk": "GB",
    "britain": "GB",
    "great britain": "GB",
    "usa": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "korea": "KR",
    "south korea": "KR",
    "north korea": "KP",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "drc": "CD",
    "east timor": "TL",
    "swaziland": "SZ",
    "viet nam": "VN",
}
# The parts of an official name that people leave out: 中國香港特別行政區 is 香港.
_NAME_TRIMS = (" sar china", "中國", "中国", "特別行政區", "特别行政区")


def _name_key(name: str) -> str:
    """A country's name as compared: lower case, 臺 as 台, without a bracketed part."""
    key = name.casefold().replace("臺", "台").replace("’", "'")
    return key.split(" (")[0].split("（")[0].strip()


@cache
def _countries_by_any_name() -> dict[str, str]:
    names: dict[str, str] = {}
    for locale in ("en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar"):  # i18n.LANGUAGE_NAMES
        for code in ISO_COUNTRIES:
            full = _name_key(country_name(code, locale))
            names.setdefault(full, code)
            trimmed = full
            for part in _NAME_TRIMS:
                trimmed = trimmed.replace(part, "")
            if trimmed.strip():
                names.setdefault(trimmed.strip(), code)
    for alias, code in COUNTRY_ALIASES.items():
        names[_name_key(alias)] = code
    return names


@cache
def _languages_by_any_name() -> dict[str, str]:
    names: dict[str, str] = {}
    codes = language_codes()
    for locale in ("en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar"):  # i18n.LANGUAGE_NAMES
        for code, name in Locale.parse(locale).languages.items():
            if code in codes:
                names.setdefault(name.casefold().strip(), str(code))
    return names


def language_code_for_name(text: str) -> str | None:
    """The ISO 639-1 code a typed language name stands for, in any language Refuge speaks
    ("Spanish", "español", 西班牙文, 西班牙语), or None."""
    return _languages_by_any_name().get(text.casefold().strip())


def country_code_for_name(text: str) -> str | None:
    """The ISO code a typed country name stands for, in any language Refuge speaks, official
    or usual ("Hong Kong", 香港, 臺灣, Burma), or None."""
    return _countries_by_any_name().get(_name_key(text))


def country_choices() -> list[tuple[str, str]]:
    """(code, name in the reader's language), sorted by name."""
    return list(_country_choices(_reader_locale()))


def common_language_choices() -> list[tuple[str, str]]:
    return list(_common_language_choices(_reader_locale()))


def other_language_choices() -> list[tuple[str, str]]:
    return list(_other_language_choices(_reader_locale()))


# The directory's Chinese names and descriptions are written in Traditional script; their
# Simplified forms are converted at development time (scripts/zh_hans_from_hant.py) into this
# table, keyed by the Traditional text, so that an entry edited since shows its Traditional
# text rather than a stale conversion.
_SIMPLIFIED_DIRECTORY = Path(__file__).resolve().parent / "directory" / "data" / "zh_hans.json"


@cache
def _simplified_directory_text() -> dict[str, str]:
    if not _SIMPLIFIED_DIRECTORY.exists():
        return {}
    table: dict[str, str] = json.loads(_SIMPLIFIED_DIRECTORY.read_text(encoding="utf-8"))
    return table


def _chinese(text: str | None, locale: str) -> str | None:
    if not text:
        return None
    if locale == "zh_Hans":
        return _simplified_directory_text().get(text, text)
    return text


def entry_name(entry: Any, locale: str | None = None) -> str:
    """A directory entry's name for the reader: its Chinese name in a Chinese locale (in the
    reader's script) where the directory has one, else its English name."""
    return name_for_reader(str(entry.name), entry.name_zh, locale)


def name_for_reader(name: str, name_zh: str | None, locale: str | None = None) -> str:
    """:func:`entry_name` from an entry's two name columns (a page that reads columns)."""
    locale = locale or _reader_locale()
    if locale.startswith("zh"):
        return _chinese(name_zh, locale) or name
    if locale != "en" and locale == _reader_locale():
        return directory_words.in_reader_language(name)  # the UN's names in es, fr, ru, ar
    return name


def entry_description(entry: Any, locale: str | None = None) -> str:
    """A directory entry's description for the reader, in Chinese where the directory has it."""
    locale = locale or _reader_locale()
    if locale.startswith("zh"):
        return _chinese(entry.description_zh, locale) or str(entry.description_en or "")
    return str(entry.description_en or "")
