"""The directory form refuses what the import would refuse, beside the field, in the reader's
language: a contact line with a 201-character place and 25 condition lines passed the form,
then came back from the service above it in English ("contact place must be short text",
"conditions must be a list (at most 20)") on a page in Chinese."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import DirectoryEntry, Role
from intake.services import directory as service
from tests.builders import make_entry, sign_in
from tests.conftest import table_count
from tests.directory.test_routes import csrf_from, entry_form

PLACE_OVER = "p" * (service.CONTACT_TEXT_MAX + 1)
NOTES_OVER = "\n".join(f"Condition {n}" for n in range(1, service.CONDITIONS_MAX + 6))  # 25
# What the page says of each, by language: (beside the contacts, beside the notes).
SAID = {
    "en": (
        f"Line 1: a place or a note is at most {service.CONTACT_TEXT_MAX} characters.",
        f"At most {service.CONDITIONS_MAX} conditions and notes together; you gave 26.",
    ),
    "zh_Hant": (
        f"第 1 行：地點或備註最多 {service.CONTACT_TEXT_MAX} 個字元。",
        f"條件與備註合計最多 {service.CONDITIONS_MAX} 項，你填了 26 項。",
    ),
    "zh_Hans": (
        f"第 1 行：地点或备注最多 {service.CONTACT_TEXT_MAX} 个字符。",
        f"条件与备注合计最多 {service.CONDITIONS_MAX} 项，你填了 26 项。",
    ),
}
# The service's own words, which a staff page never shows for what the form can check.
SERVICE_WORDS = ("must be short text", "must be a list", "at most 20)")


def beside(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">(.*?)</p>', page, re.S)
    assert found, page
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def over_the_limits() -> dict[str, object]:
    # One ticked condition (entry_form's) and 25 note lines: 26 in all.
    return entry_form(contacts=f"web | https://example.org | {PLACE_OVER}", notes=NOTES_OVER)


@pytest.mark.parametrize("lang", sorted(SAID))
def test_a_new_entry_over_the_limits_is_refused_beside_its_fields_and_nothing_is_stored(
    client: FlaskClient, app: Flask, lang: str
) -> None:
    sign_in(client, Role.ADMIN)
    before = table_count("directory_entries")
    token = csrf_from(client.get(f"/directory/new?lang={lang}").get_data(as_text=True))
    response = client.post("/directory/new", data={**over_the_limits(), "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    contacts, notes = SAID[lang]
    assert contacts in beside(page, "contacts")
    assert notes in beside(page, "notes")
    assert not any(words in page for words in SERVICE_WORDS), page
    assert table_count("directory_entries") == before


@pytest.mark.parametrize("lang", sorted(SAID))
def test_an_edit_over_the_limits_is_refused_beside_its_fields_and_changes_nothing(
    client: FlaskClient, app: Flask, lang: str
) -> None:
    make_entry("test-ngo", contacts=[{"kind": "web", "value": "https://example.org"}])
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get(f"/directory/test-ngo/edit?lang={lang}").get_data(as_text=True))
    response = client.post(
        "/directory/test-ngo/edit", data={**over_the_limits(), "csrf_token": token}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    contacts, notes = SAID[lang]
    assert contacts in beside(page, "contacts")
    assert notes in beside(page, "notes")
    assert not any(words in page for words in SERVICE_WORDS), page
    db.session.expire_all()
    entry = db.session.get_one(DirectoryEntry, "test-ngo")
    assert entry.name == "Entry test-ngo"
    assert entry.contacts == [{"kind": "web", "value": "https://example.org"}]
    assert entry.conditions == []


def test_what_the_form_takes_at_the_limits_the_service_stores(
    client: FlaskClient, app: Flask
) -> None:
    """The other side of the same limits: at them exactly, the form lets through and the
    service keeps all of it."""
    sign_in(client, Role.ADMIN)
    place = "p" * service.CONTACT_TEXT_MAX
    contacts = "\n".join(
        f"web | https://example.org/{n} | {place}" for n in range(service.CONTACTS_MAX)
    )
    notes = "\n".join(f"Condition {n}" for n in range(service.CONDITIONS_MAX - 1))  # +1 ticked
    token = csrf_from(client.get("/directory/new").get_data(as_text=True))
    response = client.post(
        "/directory/new",
        data={**entry_form(contacts=contacts, notes=notes), "csrf_token": token},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = db.session.get_one(DirectoryEntry, "test-legal-aid")
    assert len(entry.contacts) == service.CONTACTS_MAX
    assert len(entry.conditions) == service.CONDITIONS_MAX


@pytest.mark.parametrize(
    ("override", "field", "said"),
    [
        (
            {"contacts": "\n".join(["phone | +886 2 1234"] * (service.CONTACTS_MAX + 1))},
            "contacts",
            f"At most {service.CONTACTS_MAX} contacts, one per line.",
        ),
        (
            {"notes": "Call first.\n" + "n" * (service.CONDITION_TEXT_MAX + 1)},
            "notes",
            f"Line 2: at most {service.CONDITION_TEXT_MAX} characters.",
        ),
        (
            {"contacts": "web | https://example.org/" + "x" * service.CONTACT_VALUE_MAX},
            "contacts",
            f"Line 1: at most {service.CONTACT_VALUE_MAX} characters.",
        ),
    ],
)
def test_each_of_the_imports_limits_is_the_forms_too(
    client: FlaskClient, app: Flask, override: dict[str, str], field: str, said: str
) -> None:
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/new").get_data(as_text=True))
    response = client.post("/directory/new", data={**entry_form(**override), "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert said in beside(page, field)
    assert not any(words in page for words in SERVICE_WORDS), page
    assert table_count("directory_entries") == 0
