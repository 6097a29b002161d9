"""The organisation's public details: set by admins (audited), shown on every public page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, OrgSetting, Role, Urgency
from intake.services import settings as org_settings
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import make_org_key, make_user, sign_in

TOR_PROJECT_ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid"
PROFILE = {
    "org_name": "Taiwan Defenders Desk",
    "org_description": "We help human rights defenders in East Asia.",
    "org_response_time": "within 2 working days",
    "org_contact": "desk@example.org",
    "org_onion": f"{TOR_PROJECT_ONION}.onion",
}


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


def _admin_client(web: Flask) -> FlaskClient:
    client = web.test_client()
    sign_in(client, make_user(Role.ADMIN))
    return client


def test_admin_sets_the_public_details_and_the_change_is_audited(web: Flask) -> None:
    client = _admin_client(web)
    assert "Organisation name" in client.get("/admin/settings").text
    response = client.post("/admin/settings/profile", data=PROFILE)
    assert response.status_code == 302
    profile = org_settings.org_profile()
    assert profile.name == "Taiwan Defenders Desk"
    assert profile.onion == f"http://{TOR_PROJECT_ONION}.onion"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "settings.profile")
    ).one()
    assert event.detail["org_name"] == {"from": "", "to": "Taiwan Defenders Desk"}
    assert TOR_PROJECT_ONION in client.get("/admin/settings").text


def test_public_pages_name_the_organisation_and_say_when_to_expect_an_answer(web: Flask) -> None:
    org = make_org_key()
    _admin_client(web).post("/admin/settings/profile", data=PROFILE)
    public = web.test_client()
    for path in ["/", "/request"]:
        page = public.get(path)
        assert "· Taiwan Defenders Desk</title>" in page.text, path
        assert 'id="org-name">Taiwan Defenders Desk<' in page.text, path
        assert "within 2 working days" in page.text, path
        assert page.headers["Onion-Location"].startswith(f"http://{TOR_PROJECT_ONION}.onion/")
    landing = public.get("/").text
    assert "We help human rights defenders in East Asia." in landing
    assert "desk@example.org" in landing
    assert public.get("/request?lang=es").headers["Onion-Location"].endswith("/request?lang=es")
    # The no-JS receipt and the status page.
    routing = Routing(urgency=Urgency.DAYS, threats=("detention",), profiles=(), country="TW",
                      languages=(), consent_given=False)  # fmt: skip
    submission = submissions.create_case_from_plaintext(
        routing, org_key=org.key, answers={"what_happened": "x"}, files=[], locale="en"
    )
    with public.session_transaction() as session:
        session["receipt_once"] = submission.receipt_code
    receipt = public.get("/request/receipt")
    assert "within 2 working days" in receipt.text
    assert "Taiwan Defenders Desk" in receipt.text
    token = public.get("/status").text.split('name="csrf_token" value="')[1].split('"')[0]
    status = public.post("/status", data={"csrf_token": token, "code": submission.receipt_code})
    assert status.status_code == 200
    assert "within 2 working days" in status.text
    assert "Taiwan Defenders Desk" in status.text


def test_without_settings_the_pages_say_refuge_and_send_no_onion_header(web: Flask) -> None:
    make_org_key()
    page = web.test_client().get("/")
    assert "· Refuge</title>" in page.text
    assert "Onion-Location" not in page.headers
    assert 'id="org-about"' not in page.text


def test_free_text_is_escaped_on_public_pages(web: Flask) -> None:
    make_org_key()
    hostile = {**PROFILE, "org_name": "<script>alert(1)</script>", "org_contact": '"><img src=x>'}
    assert _admin_client(web).post("/admin/settings/profile", data=hostile).status_code == 302
    text = web.test_client().get("/request").text
    assert "<script>alert(1)" not in text
    assert "<img src=x>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("org_onion", "example.onion"),
        ("org_onion", "facebookcorewwwi.onion"),  # v2: gone since 2021
        ("org_onion", TOR_PROJECT_ONION[:-1] + "a.onion"),  # one character wrong: bad checksum
        ("org_onion", "javascript:alert(1)"),
        ("org_name", "N" * 121),
        ("org_description", "D" * 256),
        ("org_contact", "C" * 201),
        ("org_description__ar", "D" * 256),
        ("org_response_time__zh_Hant", "R" * 121),
        # Shown reversed on the public pages: a contact that reads as another address.
        ("org_contact", "help@\u202egro.elpmaxe"),
        ("org_name", "Refuge \u2067desk"),
    ],
)
def test_bad_values_are_refused_and_nothing_changes(web: Flask, field: str, value: str) -> None:
    client = _admin_client(web)
    response = client.post("/admin/settings/profile", data={**PROFILE, field: value})
    assert response.status_code == 422
    if "\u202e" in value or "\u2067" in value:
        said = response.get_data(as_text=True)
        assert f'id="{field}-error">This holds an invisible character that reverses' in said
    assert db.session.scalars(sa.select(OrgSetting)).all() == []
    assert (
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "settings.profile")
        ).all()
        == []
    )


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.VIEWER])
def test_only_admins_change_the_public_details(web: Flask, role: Role) -> None:
    client = web.test_client()
    sign_in(client, role)
    assert client.post("/admin/settings/profile", data=PROFILE).status_code == 403
    assert org_settings.org_profile().name == ""


def test_the_profile_form_needs_a_csrf_token(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite")
    with app.app_context():
        client = app.test_client()
        sign_in(client, make_user(Role.ADMIN))
        assert client.post("/admin/settings/profile", data=PROFILE).status_code in {400, 422}
        assert org_settings.org_profile().name == ""


ARABIC = "نساعد المدافعين عن حقوق الإنسان في شرق آسيا."


def test_the_description_and_response_time_can_be_written_per_public_language(
    web: Flask,
) -> None:
    """A defender reading the Arabic pages got the English description and "within 2 working
    days" (the only text there was). Each public language may have its own; a language
    without one shows the text above."""
    make_org_key()
    client = _admin_client(web)
    settings_page = client.get("/admin/settings").text
    assert 'name="org_description__ar"' in settings_page
    assert 'name="org_response_time__zh_Hant"' in settings_page
    response = client.post(
        "/admin/settings/profile",
        data={**PROFILE, "org_description__ar": ARABIC, "org_response_time__ar": "خلال يومي عمل"},
    )
    assert response.status_code == 302
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "settings.profile")
    ).one()
    assert event.detail["org_description.ar"] == {"from": "", "to": ARABIC}
    public = web.test_client()
    arabic = public.get("/?lang=ar").text
    assert ARABIC in arabic
    assert "خلال يومي عمل" in arabic
    assert "We help human rights defenders in East Asia." not in arabic
    assert "within 2 working days" not in arabic
    spanish = public.get("/?lang=es").text  # none written: the text above
    assert "We help human rights defenders in East Asia." in spanish
    assert ARABIC not in spanish
    assert "within 2 working days" in public.get("/request?lang=es").text
    # The form shows what is on record, opened where something is written.
    again = client.get("/admin/settings").text
    assert ARABIC in again
    assert 'id="profile-translations" open' in again
    # It says, while folded, which languages still show the text above somewhere (a reviewer
    # read "within 2 working days" on the French pages and nothing had said so).
    unwritten = re.search(r"<p class=\"hint\" data-profile-unwritten>([^<]+)</p>", again)
    assert unwritten is not None
    assert "Français" in unwritten.group(1)
    assert "Español, Français" in unwritten.group(1)  # listed as the reader's language lists
    assert "العربية" not in unwritten.group(1)  # both its fields are written
    # Only a field whose general text exists counts: the reviewer's Spanish description,
    # with no general response time either, was listed.
    client.post(
        "/admin/settings/profile",
        data={**PROFILE, "org_response_time": "", "org_description__es": "Ayudamos."},
    )
    listed = client.get("/admin/settings").text
    assert "Español" not in listed.split("data-profile-unwritten>")[1].split("</p>")[0]
    assert "Français" in listed.split("data-profile-unwritten>")[1].split("</p>")[0]
    # With no general text there is nothing "above" to see: no such line.
    client.post(
        "/admin/settings/profile", data={**PROFILE, "org_description": "", "org_response_time": ""}
    )
    assert "data-profile-unwritten" not in client.get("/admin/settings").text
    client.post("/admin/settings/profile", data=PROFILE)
    # Emptied again: the Arabic pages fall back to the text above.
    client.post("/admin/settings/profile", data=PROFILE)
    assert "We help human rights defenders in East Asia." in public.get("/?lang=ar").text
