"""Chinese staff pages say 你 to the caseworker, throughout, as the admin area always did;
defenders (the public pages) keep the polite 您. Checked in each staff area's catalogue, in the
staff-only strings of the global catalogue, and in what a staff page really shows (the
catalogues are merged, so a later one could give a staff string back its 您)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, gettext

from intake.i18n import STAFF_AREAS

INTAKE = Path(__file__).resolve().parents[1] / "intake"
CHINESE = ["zh_Hant", "zh_Hans"]
POLITE = "您"

# Where the global catalogue's strings for defenders are written (shared with staff or not):
# the request form's questions, the page frame, error pages, the public services.
PUBLIC_SOURCES = (
    "intake/public/",
    "templates/public/",
    "templates/base.html",
    "templates/errors/",
    "intake/labels.py",
    "intake/vocab.py",
    "intake/clock.py",
    "intake/hardening.py",
    "intake/web.py",
    "intake/services/consent.py",
    "intake/services/errors.py",
    "intake/services/submissions.py",
)
# intake/web.py's errors that only a staff member meets (a role's permission, signing out).
STAFF_ONLY_IN_WEB = {
    "You do not have permission to do this.",
    "You are signed out. (That page had expired.)",
}


def catalogue(folder: Path, locale: str) -> Catalog:
    with (folder / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


def said(message: Message) -> str:
    return (
        " ".join(s for s in (message.string or ()) if s)
        if isinstance(message.string, tuple | list)
        else str(message.string or "")
    )


def msgid(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple | list) else message.id)


def is_public(message: Message) -> bool:
    """A global string a defender may see: written in a public source (and not one of the
    staff-only errors of intake/web.py)."""
    if msgid(message) in STAFF_ONLY_IN_WEB:
        return False
    return any(path.startswith(PUBLIC_SOURCES) for path, _line in message.locations)


def polite_in_staff_catalogues(intake: Path, locale: str) -> list[str]:
    found = []
    for area in sorted(STAFF_AREAS):
        folder = intake / area
        if not (folder / "translations" / locale).is_dir():
            continue
        found += [f"{area}: {msgid(m)}" for m in catalogue(folder, locale) if POLITE in said(m)]
    for message in catalogue(intake, locale):
        if POLITE in said(message) and not is_public(message):
            found.append(f"global: {msgid(message)} ({message.locations or 'no #: source'})")
    return found


@pytest.mark.parametrize("locale", CHINESE)
def test_no_staff_string_says_nin(locale: str) -> None:
    assert polite_in_staff_catalogues(INTAKE, locale) == []


@pytest.mark.parametrize("locale", CHINESE)
def test_defenders_keep_nin_and_are_not_flagged(locale: str) -> None:
    public = catalogue(INTAKE / "public", locale)
    assert any(POLITE in said(m) for m in public)
    global_public = [m for m in catalogue(INTAKE, locale) if POLITE in said(m)]
    assert global_public
    assert all(is_public(m) for m in global_public)
    assert "您的姓名" in gettext_of(global_public, "Your name, or the name you want us to use")


def gettext_of(messages: list[Message], wanted: str) -> str:
    return next(said(m) for m in messages if msgid(m) == wanted)


def test_the_check_flags_nin_in_a_staff_catalogue_and_a_staff_only_global_string(
    tmp_path: Path,
) -> None:
    """What the check would say of a staff catalogue, and a global staff-only string, that
    still say 您 (the public catalogue beside them is not its concern)."""
    entry = '\n#: {source}\nmsgid "{id}"\nmsgstr "{text}"\n'
    head = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
    files = {
        "cases": entry.format(
            source="templates/cases/detail.html", id="Unlock", text="請解鎖您的金鑰"
        ),
        "public": entry.format(source="templates/public/status.html", id="Yours", text="您的請求"),
        "": entry.format(source="intake/services/reminders.py", id="Yours all", text="您的所有轉介")
        + entry.format(source="intake/labels.py", id="Your name", text="您的姓名"),
    }
    for folder, body in files.items():
        po = tmp_path / folder / "translations" / "zh_Hant" / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True)
        po.write_text(head + body, encoding="utf-8")
    assert polite_in_staff_catalogues(tmp_path, "zh_Hant") == [
        "cases: Unlock",
        "global: Yours all ([('intake/services/reminders.py', None)])",
    ]


@pytest.mark.parametrize("locale", CHINESE)
def test_a_staff_page_shows_each_staff_string_without_nin(app: Flask, locale: str) -> None:
    """As a staff page looks strings up (every catalogue merged): a staff string shared with a
    public one (a defender may meet it too) is the only one left with 您."""
    shared = {msgid(m) for m in catalogue(INTAKE / "public", locale)} | {
        msgid(m) for m in catalogue(INTAKE, locale) if is_public(m)
    }
    shown = []
    with app.test_request_context("/cases/"), force_locale(locale):
        for area in sorted(STAFF_AREAS):
            if not (INTAKE / area / "translations" / locale).is_dir():
                continue
            for message in catalogue(INTAKE / area, locale):
                text = msgid(message)
                if not text or message.pluralizable or text in shared:
                    continue
                if POLITE in gettext(text):
                    shown.append(f"{area}: {text}")
    assert shown == []
