"""Locale choice for public and staff pages (DESIGN §7: en, 繁體中文, 简体中文)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, has_request_context, request, session

PACKAGE_DIR = Path(__file__).resolve().parent

# Browser language tags mapped to our locales: Taiwan and Hong Kong read Traditional script.
_BROWSER_TAGS = {
    "en": "en",
    "zh-tw": "zh_Hant",
    "zh-hk": "zh_Hant",
    "zh-mo": "zh_Hant",
    "zh-hant": "zh_Hant",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh": "zh_Hans",
}
LANGUAGE_NAMES = {"en": "English", "zh_Hant": "繁體中文", "zh_Hans": "简体中文"}


def translation_directories() -> list[str]:
    """Every ``translations`` folder in the package: one per area, merged by Flask-Babel, so
    each area keeps its own catalogue."""
    return [str(path) for path in sorted(PACKAGE_DIR.rglob("translations")) if path.is_dir()]


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    languages = current_app.config["LANGUAGES"]
    if value in languages:
        return value
    return _BROWSER_TAGS.get(value.strip().lower().replace("_", "-"))


def select_locale() -> str:
    if not has_request_context():  # CLI, worker, tests: the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session["lang"] = chosen
        return chosen
    stored = normalise_locale(session.get("lang"))
    if stored:
        return stored
    from flask_login import current_user

    if current_user and current_user.is_authenticated and current_user.language:
        return str(current_user.language)  # the staff member's last choice, on any device
    best = request.accept_languages.best_match(list(_BROWSER_TAGS))
    return _BROWSER_TAGS.get(best or "", current_app.config["BABEL_DEFAULT_LOCALE"])


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
