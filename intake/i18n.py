"""Locale choice for public and staff pages (DESIGN §7).

Public pages (the landing page, the form, the receipt, /status and error pages outside the
staff areas) are offered in ``PUBLIC_LANGUAGES``; staff pages in ``STAFF_LANGUAGES``. A staff
page asked for a language it does not offer (``?lang=ar`` followed from a public page) falls
back to the staff member's own choice, then the browser's, then the default.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from markupsafe import Markup

PACKAGE_DIR = Path(__file__).resolve().parent

# Characters that reorder what follows them (embeddings, overrides, isolates): "reversed"
# typed after U+202E shows as "desrever", and an address or a phone number can be made to
# read as another (a review typed one into a directory entry's name). Staff forms and the
# directory refuse them; marks of direction (U+200E, U+200F) change no order and stay.
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

# The blueprints whose pages only staff see; every other page (the public blueprint, error
# pages for unknown addresses) is a public page.
STAFF_AREAS = frozenset({"admin", "auth", "cases", "directory", "referrals", "reports"})

# Each language written in its own name, as a reader looking for it would recognise it.
LANGUAGE_NAMES = {
    "en": "English",
    "zh_Hant": "繁體中文",
    "zh_Hans": "简体中文",
    "es": "Español",
    "fr": "Français",
    "ru": "Русский",
    "ar": "العربية",
}
RIGHT_TO_LEFT = frozenset({"ar"})

# Chinese regions that read Traditional script; any other zh tag reads Simplified.
_TRADITIONAL_SUBTAGS = frozenset({"hant", "tw", "hk", "mo"})


def translation_directories() -> list[str]:
    """Every ``translations`` folder in the package: one per area, merged by Flask-Babel, so
    each area keeps its own catalogue."""
    return [str(path) for path in sorted(PACKAGE_DIR.rglob("translations")) if path.is_dir()]


def is_staff_page() -> bool:
    return has_request_context() and request.blueprint in STAFF_AREAS


def offered_languages() -> tuple[str, ...]:
    """The languages this page can be read in, in the order the switch lists them."""
    key = "STAFF_LANGUAGES" if is_staff_page() else "PUBLIC_LANGUAGES"
    return tuple(current_app.config[key])


def text_direction(locale: str) -> str:
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"


def locale_of_tag(tag: str) -> str | None:
    """Our locale for a language tag as browsers and links write it: ``es-MX`` → ``es``,
    ``zh-TW``/``zh-Hant-HK`` → ``zh_Hant``, ``zh-CN``/``zh`` → ``zh_Hans``, ``ar-SD`` → ``ar``."""
    if tag in LANGUAGE_NAMES:
        return tag
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "zh":
        return "zh_Hant" if _TRADITIONAL_SUBTAGS & set(parts[1:]) else "zh_Hans"
    return parts[0] if parts[0] in LANGUAGE_NAMES else None


def normalise_locale(value: str | None, offered: Collection[str] | None = None) -> str | None:
    """``value`` as one of the ``offered`` locales (default: this page's), or None."""
    if not value:
        return None
    locale = locale_of_tag(value)
    if locale is None:
        return None
    return locale if locale in (offered or offered_languages()) else None


def select_locale() -> str:
    if not has_request_context():  # CLI, worker, tests: the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    offered = offered_languages()
    chosen = normalise_locale(request.args.get("lang"), offered)
    if chosen:
        session["lang"] = chosen
        return chosen
    stored = normalise_locale(session.get("lang"), offered)
    if stored:
        return stored
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        own = normalise_locale(current_user.language, offered)
        if own:  # the staff member's last choice, on any device
            return own
    for tag, _quality in request.accept_languages:  # best first
        browser = normalise_locale(tag, offered)
        if browser:
            return browser
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


# Languages whose sentences follow one another without a space: a space after "。" shows.
_NO_SPACE_BETWEEN_SENTENCES = ("zh",)


def sentence_gap() -> str:
    """What goes between two sentences, or after a colon before a link, in the reader's
    language: a space, or nothing after "。" and "：" (templates write it where markup parts
    two sentences: ``</strong>{{- sentence_gap() }}{{ _("…") }}``)."""
    locale = str(get_locale() or "en")
    return "" if locale.startswith(_NO_SPACE_BETWEEN_SENTENCES) else " "


def sentences(*parts: object) -> str:
    """Sentences one after the other, as the reader's language writes them: "… period. Requests
    …" but "…时区。求助…" (a space after 。 showed as a gap; a review of /reports). A template's
    ``_()`` gives markup (its variables escaped): joined as markup, it is not escaped twice."""
    kept = [part for part in parts if str(part).strip()]
    if any(isinstance(part, Markup) for part in kept):
        return Markup(sentence_gap()).join(  # noqa: S704 — a space, or nothing
            part.strip() if isinstance(part, Markup) else str(part).strip() for part in kept
        )
    return sentence_gap().join(str(part).strip() for part in kept)


def compile_catalogues() -> int:
    """Compile each area's ``.po`` catalogue to ``.mo`` when it changed; returns how many."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = 0
    for po_path in sorted(PACKAGE_DIR.rglob("translations/*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parent.parent.name)
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)
        compiled += 1
    return compiled
