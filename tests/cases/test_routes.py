"""The case page and its changes: who may do what, CSRF, hostile input, and the audit trail."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake import crypto
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseMessage,
    CaseStatus,
    KeyGrant,
    MessageKind,
    Role,
    Urgency,
)
from intake.services import audit, casework
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_attachment,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
)
from tests.conftest import table_count
from tests.sealed import open_file, open_message

CANARY = "CANARY-7f3a-detained-at-dawn"


def csrf_from(response: TestResponse) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


@pytest.fixture
def case(org: OrgKeyPair) -> Case:
    return make_case(org, {"what_happened": CANARY})


def token_for(client: FlaskClient, case: Case) -> str:
    return csrf_from(client.get(f"/cases/{case.ref}"))


def sealed_note(org: OrgKeyPair, text: str = CANARY) -> str:
    return crypto.seal_answers({"body": text}, org.public)


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def db_dump() -> str:
    """Every row of every table as text: where a plaintext leak would show."""
    parts = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            parts.append(repr(tuple(row)))
    return "\n".join(parts)


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/cases/", "/cases/{ref}", "/cases/{ref}/sealed", "/cases/{ref}/attachments/1"],
)
def test_anonymous_is_sent_to_sign_in_for_every_read(
    client: FlaskClient, case: Case, path: str
) -> None:
    response = client.get(path.format(ref=case.ref))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("action", ["status", "assign", "public-status", "notes", "replies"])
def test_anonymous_cannot_change_a_case(client: FlaskClient, case: Case, action: str) -> None:
    client.get("/")
    response = client.post(f"/cases/{case.ref}/{action}", data={})
    # CSRF is checked before the login redirect; either way nothing changes.
    assert response.status_code in (302, 400)
    assert table_count("case_messages") == 0
    assert db.session.get_one(Case, case.id).status == CaseStatus.NEW


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CASEWORKER, Role.ADMIN])
def test_every_staff_role_reads_the_queue_and_the_case(
    app: Flask, client: FlaskClient, case: Case, role: Role
) -> None:
    sign_in(client, role)
    assert client.get("/cases/").status_code == 200
    page = client.get(f"/cases/{case.ref}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    writable = f'action="/cases/{case.ref}/status"' in html
    assert writable == (role != Role.VIEWER)
    assert ("Read-only" in html) == (role == Role.VIEWER)


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("status", {"status": "assessing"}),
        ("assign", {"assignee": "me"}),
        ("public-status", {"hold": "1"}),
        ("notes", {"sealed_body": "x", "org_key_id": "1"}),
        ("replies", {"sealed_body": "x"}),
    ],
)
def test_viewer_is_refused_every_change(
    app: Flask, client: FlaskClient, case: Case, action: str, data: dict[str, str]
) -> None:
    sign_in(client, Role.VIEWER)
    token = token_for(client, case)
    response = client.post(f"/cases/{case.ref}/{action}", data={**data, "csrf_token": token})
    assert response.status_code == 403
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert stored.status == CaseStatus.NEW
    assert stored.assignee_id is None
    assert table_count("case_messages") == 0


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
def test_caseworker_and_admin_move_a_case_through_the_workflow(
    app: Flask, client: FlaskClient, case: Case, role: Role
) -> None:
    sign_in(client, role)
    token = token_for(client, case)
    for step in ("assessing", "referred", "monitoring"):
        response = client.post(
            f"/cases/{case.ref}/status", data={"status": step, "csrf_token": token}
        )
        assert response.status_code == 303
        db.session.expire_all()
        assert db.session.get_one(Case, case.id).status == CaseStatus(step)
    response = client.post(
        f"/cases/{case.ref}/status",
        data={"status": "closed", "outcome": "resolved", "csrf_token": token},
    )
    assert response.status_code == 303
    db.session.expire_all()
    closed = db.session.get_one(Case, case.id)
    assert closed.status == CaseStatus.CLOSED
    assert closed.outcome == "resolved"
    assert closed.closed_at is not None
    changes = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.status").order_by(AuditEvent.id)
    ).all()
    assert [(e.detail["from"], e.detail["to"]) for e in changes] == [
        ("new", "assessing"),
        ("assessing", "referred"),
        ("referred", "monitoring"),
        ("monitoring", "closed"),
    ]
    assert all(e.target_id == str(case.id) for e in changes)
    assert audit.verify_chain().ok


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("status", {"status": "assessing"}),
        ("assign", {"assignee": "me"}),
        ("public-status", {"hold": "1"}),
        ("notes", {"org_key_id": "1"}),
        ("replies", {}),
    ],
)
def test_changes_without_a_csrf_token_are_refused(
    app: Flask,
    client: FlaskClient,
    org: OrgKeyPair,
    case: Case,
    action: str,
    data: dict[str, str],
) -> None:
    sign_in(client, Role.CASEWORKER)
    if action in ("notes", "replies"):
        data = {**data, "sealed_body": sealed_note(org)}
    before = table_count("audit_events")
    for token in (None, "not-a-token"):
        payload = dict(data)
        if token:
            payload["csrf_token"] = token
        response = client.post(f"/cases/{case.ref}/{action}", data=payload)
        assert response.status_code == 400
        assert "expired or was sent from elsewhere" in response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.status, stored.assignee_id) == (CaseStatus.NEW, None)
    assert (stored.shared_status.value, stored.shared_status_held) == ("received", False)
    assert table_count("case_messages") == 0
    assert table_count("audit_events") == before


# --- hostile and mistaken input -------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    ["NOPE", "RF-00000000", "x" * 40, "%3Cscript%3E", "..%2F..%2Fetc", "RF-%00", "'%20OR%201"],
)
def test_unknown_or_malformed_references_are_404(
    app: Flask, client: FlaskClient, case: Case, ref: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    for path in (f"/cases/{ref}", f"/cases/{ref}/sealed"):
        response = client.get(path)
        # NUL bytes are refused before any view runs (400); the rest are unknown cases.
        assert response.status_code == (400 if "%00" in ref else 404)
        assert "<script>" not in response.get_data(as_text=True)


def test_attachment_of_another_case_is_404(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    other = make_case(org)
    attachment = make_attachment(other, org)
    sign_in(client, Role.CASEWORKER)
    assert client.get(f"/cases/{case.ref}/attachments/{attachment.id}").status_code == 404
    for hostile in ("99999999999999999999999", "2147483648", "-1", "1.0", "x"):
        assert client.get(f"/cases/{other.ref}/attachments/{hostile}").status_code == 404
    assert client.get(f"/cases/{other.ref}/attachments/{attachment.id}").status_code == 200


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"status": "monitoring"}, 409, "cannot go from this status"),
        ({"status": "referred"}, 409, "cannot go from this status"),
        ({"status": "closed"}, 400, "Choose an outcome"),
        ({"status": "closed", "outcome": "bribed"}, 400, "Choose an outcome"),
        ({"status": "archived"}, 400, "Choose a status"),
        ({"status": ""}, 400, "Choose a status"),
        ({}, 400, "Choose a status"),
    ],
)
def test_invalid_transitions_are_refused_with_a_message_and_change_nothing(
    app: Flask, client: FlaskClient, case: Case, data: dict[str, str], status: int, message: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    before = table_count("audit_events")
    response = client.post(f"/cases/{case.ref}/status", data={**data, "csrf_token": token})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).status == CaseStatus.NEW
    assert table_count("audit_events") == before


def status_select(html: str, name: str) -> str:
    match = re.search(rf'<select id="[^"]*" name="{name}".*?</select>', html, re.S)
    assert match, f"the page has no {name} select"
    return match.group(0)


def test_move_to_has_nothing_preselected_and_leaving_it_is_refused_beside_the_field(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>", status_select(page, "status"))
    assert options[0] == '<option value="" selected>'
    assert all("selected" not in option for option in options[1:])
    token = token_for(client, case)
    before = table_count("audit_events")
    # What the reviewer did: an outcome chosen, "Move to" left alone.
    response = client.post(
        f"/cases/{case.ref}/status",
        data={
            "status": "",
            "outcome": "resolved",
            "from_status": "new",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="status-to-error">Choose where the case moves.' in html
    assert 'aria-describedby="status-to-error"' in html
    # The outcome they chose is still chosen.
    assert '<option value="resolved" selected>' in status_select(html, "outcome")
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.status, stored.outcome) == (CaseStatus.NEW, None)
    assert table_count("audit_events") == before


@pytest.mark.parametrize("target", ["assessing", "monitoring", "referred", "new"])
def test_an_outcome_with_a_status_other_than_closed_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, org: OrgKeyPair, target: str
) -> None:
    case = make_case(org, status=CaseStatus.ASSESSING)
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    before = table_count("audit_events")
    response = client.post(
        f"/cases/{case.ref}/status",
        data={
            "status": target,
            "outcome": "resolved",
            "from_status": "assessing",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="status-outcome-error">An outcome is recorded only when the case is closed' in html
    assert "Nothing was changed: an outcome is recorded only when the case is closed." in html
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.status, stored.outcome) == (CaseStatus.ASSESSING, None)
    assert table_count("audit_events") == before


def test_closing_without_an_outcome_is_refused_beside_the_outcome(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    response = client.post(
        f"/cases/{case.ref}/status",
        data={"status": "closed", "outcome": "", "from_status": "new", "csrf_token": token},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="status-outcome-error">Choose an outcome to close the case.' in html
    assert '<option value="closed" selected>' in status_select(html, "status")
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).status == CaseStatus.NEW


@pytest.mark.parametrize(
    ("lang", "moved", "closed"),
    [
        ("en", "Moved to Assessing.", "Moved to Closed, with the outcome “Resolved”."),
        ("zh_Hans", "已改为“评估中”。", "已改为“已结案”，结案结果：“已解决”。"),
    ],
)
def test_the_flash_says_where_the_case_moved_in_the_readers_language(
    app: Flask, client: FlaskClient, case: Case, lang: str, moved: str, closed: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = csrf_from(client.get(f"/cases/{case.ref}?lang={lang}"))
    for data, said in (
        ({"status": "assessing", "from_status": "new"}, moved),
        ({"status": "closed", "outcome": "resolved", "from_status": "assessing"}, closed),
    ):
        response = client.post(
            f"/cases/{case.ref}/status", data={**data, "csrf_token": token}, follow_redirects=True
        )
        assert response.status_code == 200
        assert said in response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.status, stored.outcome) == (CaseStatus.CLOSED, "resolved")


@pytest.mark.parametrize(
    "body",
    [
        "status=assessing&status=closed&outcome=resolved",
        "status=closed&outcome=resolved&outcome=duplicate",
        "status=closed&outcome=resolved&from_status=new&from_status=closed",
        "status=" + "closed" * 20000 + "&outcome=resolved",
        "status=closed&outcome=" + "r" * 100000,
        "status=closed&outcome=%00",
        "status=%E2%80%AEclosed&outcome=resolved",
        "status=CLOSED&outcome=RESOLVED",
        "status=closed&outcome=resolved&from_status=archived",
        "status[]=closed&outcome=resolved",
    ],
)
def test_hostile_status_changes_are_a_clear_4xx_and_write_nothing(
    app: Flask, client: FlaskClient, case: Case, body: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    before = table_count("audit_events")
    response = client.post(
        f"/cases/{case.ref}/status",
        data=f"{body}&csrf_token={token}",
        content_type="application/x-www-form-urlencoded",
    )
    assert 400 <= response.status_code < 500
    if "%00" not in body:  # NUL bytes are refused before any view runs, with their own words
        assert "Nothing was changed" in response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.status, stored.outcome) == (CaseStatus.NEW, None)
    assert table_count("audit_events") == before


def test_a_closed_case_can_be_reopened_to_assessing_only(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    closed = make_case(org, status=CaseStatus.CLOSED, outcome="resolved")
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, closed)
    refused = client.post(
        f"/cases/{closed.ref}/status", data={"status": "new", "csrf_token": token}
    )
    assert refused.status_code == 409  # "new" is never a target
    reopened = client.post(
        f"/cases/{closed.ref}/status", data={"status": "assessing", "csrf_token": token}
    )
    assert reopened.status_code == 303
    db.session.expire_all()
    stored = db.session.get_one(Case, closed.id)
    assert (stored.status, stored.outcome, stored.closed_at) == (CaseStatus.ASSESSING, None, None)


def test_assignment_to_self_to_a_colleague_and_back_to_nobody(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    colleague = give_key(make_user(Role.ADMIN), org)
    token = token_for(client, case)
    # Each says who holds the case now, and whom it was taken from ("Assignment saved." said
    # neither, and "Assign to me" took a colleague's case without a word about them).
    said = (
        f"Assigned to {me.email}.",
        f"Assigned to {colleague.email} (it was with {me.email}).",
        f"Nobody is assigned to this case now (it was with {colleague.email}).",
    )
    steps = (("me", me.id), (str(colleague.id), colleague.id), ("", None))
    for (value, expected), words in zip(steps, said, strict=True):
        response = client.post(
            f"/cases/{case.ref}/assign",
            data={"assignee": value, "csrf_token": token},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert f'<p class="flash flash-success">{words}</p>' in response.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get_one(Case, case.id).assignee_id == expected
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.assign").order_by(AuditEvent.id)
    ).all()
    assert [e.detail["to_user_id"] for e in events] == [me.id, colleague.id, None]


@pytest.mark.parametrize("value", ["999", "viewer", "-1", "1 OR 1=1", "9" * 30, "１"])
def test_unknown_or_unassignable_assignees_are_refused(
    app: Flask, client: FlaskClient, case: Case, value: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    viewer = make_user(Role.VIEWER)
    inactive = make_user(Role.CASEWORKER)
    inactive.is_active_account = False
    db.session.commit()
    if value == "viewer":
        value = str(viewer.id)
    token = token_for(client, case)
    before = table_count("audit_events")
    for attempt in (value, str(inactive.id)):
        response = client.post(
            f"/cases/{case.ref}/assign", data={"assignee": attempt, "csrf_token": token}
        )
        assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).assignee_id is None
    assert table_count("audit_events") == before


def assign_options(html: str) -> list[str]:
    form = re.search(r'<select id="assignee" name="assignee">(.*?)</select>', html, re.S)
    assert form is not None, "the page has no assign list"
    return re.findall(r'<option[^>]*value="([^"]*)"', form.group(1))


def test_only_staff_who_can_sign_in_and_open_the_case_are_offered_and_others_are_refused(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    """The reviewer's colleague never confirmed their second factor and held no key: offered,
    and "Assignment saved." Their reminders would go to someone who cannot act."""
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    able = give_key(make_user(Role.CASEWORKER), org)
    unconfirmed = give_key(make_user(Role.CASEWORKER), org)
    unconfirmed.totp_confirmed_at = None
    keyless = make_user(Role.ADMIN)
    other_key = give_key(make_user(Role.CASEWORKER), make_org_key())
    revoked = give_key(make_user(Role.CASEWORKER), org)
    revoked.grants[0].revoked_at = revoked.created_at
    db.session.commit()
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    offered = [str(u.id) for u in sorted((me, able), key=lambda u: u.email)]
    assert assign_options(page) == ["", *offered]
    token = csrf_from(client.get(f"/cases/{case.ref}"))
    before = table_count("audit_events")
    for person in (unconfirmed, keyless, other_key, revoked):
        response = client.post(
            f"/cases/{case.ref}/assign", data={"assignee": str(person.id), "csrf_token": token}
        )
        assert response.status_code == 400, person.email
        html = response.get_data(as_text=True)
        assert f"{person.email} cannot open this case yet" in html
        assert "flash-success" not in html
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).assignee_id is None
    assert table_count("audit_events") == before
    # A case already held by someone who cannot open it says so.
    casework.assign(case, able.id, me)
    db.session.execute(sa.delete(KeyGrant).where(KeyGrant.user_id == able.id))
    db.session.commit()
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "data-assignee-cannot-act" in page
    assert str(able.id) not in assign_options(page)


def test_assign_to_me_is_offered_only_to_someone_who_can_open_the_case(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    me = sign_in(client, Role.CASEWORKER)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "data-assign-me" not in page
    response = client.post(
        f"/cases/{case.ref}/assign",
        data={"assignee": "me", "csrf_token": csrf_from(client.get(f"/cases/{case.ref}"))},
    )
    assert response.status_code == 400
    assert f"{me.email} cannot open this case yet" in response.get_data(as_text=True)
    give_key(me, org)
    assert "data-assign-me" in client.get(f"/cases/{case.ref}").get_data(as_text=True)


def test_what_the_submitter_sees_follows_the_case_unless_held_back(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    user = sign_in(client, Role.CASEWORKER)
    casework.change_status(case, CaseStatus.ASSESSING, user)
    assert case.shared_status.value == "assessing"  # derived, no second form
    token = token_for(client, case)
    for bad in ({"hold": "maybe"}, {}, {"hold": "1\x00"}):
        assert (
            client.post(
                f"/cases/{case.ref}/public-status", data={**bad, "csrf_token": token}
            ).status_code
            == 400
        )
    held = client.post(f"/cases/{case.ref}/public-status", data={"hold": "1", "csrf_token": token})
    assert held.status_code == 303
    db.session.expire_all()
    case = db.session.get_one(Case, case.id)
    casework.change_status(case, CaseStatus.REFERRED, user)
    assert (case.status.value, case.shared_status.value) == ("referred", "assessing")
    released = client.post(
        f"/cases/{case.ref}/public-status", data={"hold": "0", "csrf_token": token}
    )
    assert released.status_code == 303
    db.session.expire_all()
    stored = db.session.get_one(Case, case.id)
    assert (stored.shared_status.value, stored.shared_status_held) == ("referred", False)
    casework.change_status(stored, CaseStatus.MONITORING, user)
    assert stored.shared_status.value == "waiting"
    assert audit_actions().count("case.public_status_hold") == 2


# --- sealed notes and replies ---------------------------------------------------------------


def test_a_note_sealed_to_the_org_key_is_stored_as_sent_and_opens_with_the_org_secret(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    me = sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    body = sealed_note(org)
    response = client.post(
        f"/cases/{case.ref}/notes",
        data={"sealed_body": body, "org_key_id": str(org.key.id), "csrf_token": token},
    )
    assert response.status_code == 303
    note = db.session.scalars(sa.select(CaseMessage)).one()
    assert (note.kind, note.author_id, note.org_key_id) == (
        MessageKind.INTERNAL_NOTE,
        me.id,
        org.key.id,
    )
    assert open_message(note.sealed_body, org.secret) == CANARY
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.note")).one()
    assert event.detail == {"message_id": note.id}
    assert CANARY not in db_dump()


def _oversized(org: OrgKeyPair) -> str:
    return crypto.b64(crypto.seal(b"x" * (70 * 1024), org.public))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not base64 at all!",
        CANARY,
        "AAAA",  # valid base64, too short to be sealed
        "-_-_" * 40,  # URL-safe alphabet
        "oversized",
        "A" * 200_000,
    ],
)
def test_malformed_or_oversized_notes_are_refused_and_nothing_is_written(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case, body: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    if body == "oversized":
        body = _oversized(org)
    before = table_count("audit_events")
    response = client.post(
        f"/cases/{case.ref}/notes",
        data={"sealed_body": body, "org_key_id": str(org.key.id), "csrf_token": token},
    )
    assert response.status_code in (400, 413)
    assert table_count("case_messages") == 0
    assert table_count("audit_events") == before
    if body == CANARY:
        assert CANARY not in response.get_data(as_text=True)


@pytest.mark.parametrize("key_id", ["", "0", "999", "abc", "1.5"])
def test_notes_sealed_to_an_unknown_or_old_key_are_refused(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case, key_id: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    response = client.post(
        f"/cases/{case.ref}/notes",
        data={"sealed_body": sealed_note(org), "org_key_id": key_id, "csrf_token": token},
    )
    assert response.status_code == 400
    assert table_count("case_messages") == 0


def test_a_note_to_a_retired_key_is_refused_after_rotation(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    new = make_org_key()
    token = token_for(client, case)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert f'data-note-key-id="{new.key.id}"' in page
    old = client.post(
        f"/cases/{case.ref}/notes",
        data={"sealed_body": sealed_note(org), "org_key_id": str(org.key.id), "csrf_token": token},
    )
    assert old.status_code == 400
    assert table_count("case_messages") == 0


def test_a_reply_is_sealed_to_the_submitter_with_the_staff_copy_to_the_org(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    code = crypto.normalise_receipt_code(crypto.new_receipt_code())
    assert code
    reply_public, reply_secret = crypto.reply_keypair(code)
    case = make_case(org)
    case.reply_public_key = reply_public
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    response = client.post(
        f"/cases/{case.ref}/replies",
        data={
            "sealed_body": crypto.seal_answers({"body": CANARY}, reply_public),
            "sealed_copy": crypto.seal_answers({"body": CANARY, "copy_of_reply": True}, org.public),
            "org_key_id": str(org.key.id),
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    reply, copy = db.session.scalars(sa.select(CaseMessage).order_by(CaseMessage.id)).all()
    assert reply.kind == MessageKind.STAFF_REPLY
    assert open_message(reply.sealed_body, reply_secret) == CANARY
    assert copy.kind == MessageKind.INTERNAL_NOTE
    assert open_message(copy.sealed_body, org.secret) == CANARY
    assert "case.reply" in audit_actions()
    # The JSON the page fetches does not carry the reply (no staff key can open it).
    bundle = client.get(f"/cases/{case.ref}/sealed").get_json()
    by_id = {m["id"]: m for m in bundle["messages"]}
    assert by_id[reply.id]["sealed_body"] is None
    assert by_id[copy.id]["sealed_body"] == copy.sealed_body


@pytest.mark.parametrize("status", [CaseStatus.NEW, CaseStatus.MONITORING])
def test_a_reply_to_a_new_case_is_its_first_response_and_moves_it_to_assessing(
    app: Flask, client: FlaskClient, org: OrgKeyPair, status: CaseStatus
) -> None:
    """Before, the case page still read "First response to the submitter — due in 23 h" after
    "Reply sent", and the case went overdue and reminded. A later reply changes no status."""
    reply_public, _secret = crypto.reply_keypair(crypto.new_receipt_code())
    case = make_case(org, urgency=Urgency.IMMEDIATE, status=status)
    case.reply_public_key = reply_public
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    response = client.post(
        f"/cases/{case.ref}/replies",
        data={
            "sealed_body": crypto.seal_answers({"body": "r"}, reply_public),
            "csrf_token": token_for(client, case),
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    db.session.refresh(case)
    page = response.get_data(as_text=True)
    written = [action for action in audit_actions() if action != "case.view"]
    if status == CaseStatus.NEW:
        assert case.status == CaseStatus.ASSESSING
        assert "This was the first response: the case is now Assessing." in page
        assert "First response to the submitter" not in page
        assert case.attention_at is None  # no referral: nothing due from us now
        assert written[-2:] == ["case.reply", "case.status"]
    else:
        assert case.status == status
        assert "This was the first response" not in page
        assert written[-1] == "case.reply"


def test_no_reply_without_a_reply_key_and_bad_replies_write_nothing(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    silent = make_case(org)
    silent.reply_public_key = None
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, silent)
    refused = client.post(
        f"/cases/{silent.ref}/replies",
        data={"sealed_body": sealed_note(org), "csrf_token": token},
    )
    assert refused.status_code == 409
    case = make_case(org)
    for data in (
        {"sealed_body": "%%%"},
        {"sealed_body": sealed_note(org), "sealed_copy": "%%%", "org_key_id": str(org.key.id)},
        {"sealed_body": sealed_note(org), "sealed_copy": sealed_note(org), "org_key_id": "77"},
    ):
        response = client.post(f"/cases/{case.ref}/replies", data={**data, "csrf_token": token})
        assert response.status_code == 400
    assert table_count("case_messages") == 0


def _unpadded(public_key: str) -> str:
    """Well-formed ciphertext of a message that was not padded: its length would tell."""
    return crypto.b64(crypto.seal(b'{"body": "short"}', public_key))


def test_notes_replies_and_reply_copies_not_padded_to_whole_blocks_are_refused(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    code = crypto.normalise_receipt_code(crypto.new_receipt_code())
    assert code
    reply_public, _secret = crypto.reply_keypair(code)
    case = make_case(org)
    case.reply_public_key = reply_public
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    before = table_count("audit_events")
    key_id = str(org.key.id)
    attempts = [
        (f"/cases/{case.ref}/notes", {"sealed_body": _unpadded(org.public), "org_key_id": key_id}),
        (f"/cases/{case.ref}/replies", {"sealed_body": _unpadded(reply_public)}),
        (
            f"/cases/{case.ref}/replies",
            {
                "sealed_body": crypto.seal_answers({"body": "hi"}, reply_public),
                "sealed_copy": _unpadded(org.public),
                "org_key_id": key_id,
            },
        ),
    ]
    for url, data in attempts:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 400, url
    assert table_count("case_messages") == 0
    assert table_count("audit_events") == before


# --- what the server sends the browser, and the audit of reads ------------------------------


def test_the_sealed_json_carries_ciphertext_only_and_every_read_is_audited(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    attachment = make_attachment(case, org, name=f"{CANARY}.txt", data=CANARY.encode())
    viewer = sign_in(client, Role.VIEWER)
    page = client.get(f"/cases/{case.ref}")
    bundle_response = client.get(f"/cases/{case.ref}/sealed")
    file_response = client.get(f"/cases/{case.ref}/attachments/{attachment.id}")
    for response in (page, bundle_response, file_response):
        assert response.status_code == 200
        assert CANARY.encode() not in response.data
        assert response.headers["Cache-Control"] == "no-store"
    bundle = bundle_response.get_json()
    assert crypto.open_answers(bundle["sealed_answers"], org.secret) == {"what_happened": CANARY}
    assert [a["id"] for a in bundle["attachments"]] == [attachment.id]
    opened = open_file(file_response.data, org.secret)
    assert (opened.name, opened.data) == (f"{CANARY}.txt", CANARY.encode())
    views = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.view").order_by(AuditEvent.id)
    ).all()
    assert [e.detail["part"] for e in views] == ["page", "sealed", "attachment"]
    assert {e.actor_id for e in views} == {viewer.id}
    assert {e.target_id for e in views} == {str(case.id)}
    assert CANARY not in json.dumps([e.detail for e in views])


def test_the_case_page_shows_routing_and_triage_without_decrypting(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    make_entry(
        "un-sr-hrd",
        name="UN Special Rapporteur on HRDs",
        conditions=[
            {"id": "domestic_remedies_exhausted", "text": "<b>only after</b> domestic remedies"}
        ],
    )
    case = make_case(org, {"what_happened": CANARY})
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "UN Special Rapporteur on HRDs" in html
    assert "detention" in html.partition('data-suggestion="un-sr-hrd"')[2]  # why: its threat
    assert "&lt;b&gt;only after&lt;/b&gt;" in html  # escaped, never HTML
    assert "<b>only after" not in html
    assert "Detention" in html
    assert "Mexico" in html  # the name in the reader's language, not the code
    assert CANARY not in html
    assert "Start a referral" in html


def test_staff_pages_are_served_in_traditional_chinese(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    queue = client.get("/cases/?lang=zh_Hant").get_data(as_text=True)
    assert "需要處理" in queue
    detail = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "路由資訊" in detail


def test_a_refused_note_sent_by_fetch_gets_json_and_leaves_no_flash_behind(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    response = client.post(
        f"/cases/{case.ref}/notes",
        data={"sealed_body": "###", "org_key_id": str(org.key.id), "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "not standard base64" in response.get_json()["error"]
    assert "not standard base64" not in client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert table_count("case_messages") == 0


def test_the_case_page_lists_its_referrals_and_starts_a_new_one(
    app: Flask, client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    from datetime import timedelta

    from intake.db import utcnow
    from intake.models import Referral, ReferralKind, ReferralState

    make_entry("un-wgad", name="UN Working Group on Arbitrary Detention")
    db.session.add(
        Referral(
            case_id=case.id,
            entry_id="un-wgad",
            kind=ReferralKind.WGAD_OPINION,
            state=ReferralState.SENT,
            due_at=utcnow() + timedelta(days=2),  # before the first response (3 days)
        )
    )
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "UN Working Group on Arbitrary Detention" in html
    assert 'data-next-action="referral"' in html  # the nearest deadline is the next action
    assert f'href="/referrals/new?ref={case.ref}"' in html
    sign_in(client, Role.VIEWER)
    viewer_html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "/referrals/new" not in viewer_html


def test_a_status_change_from_a_stale_page_is_refused(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    sign_in(client, Role.CASEWORKER)
    token = token_for(client, case)
    first = client.post(
        f"/cases/{case.ref}/status",
        data={"status": "assessing", "from_status": "new", "csrf_token": token},
    )
    assert first.status_code == 303
    # A colleague's page still showed "new" and asks to close it.
    stale = client.post(
        f"/cases/{case.ref}/status",
        data={
            "status": "closed",
            "outcome": "duplicate",
            "from_status": "new",
            "csrf_token": token,
        },
    )
    assert stale.status_code == 409
    assert "Someone changed this case" in stale.get_data(as_text=True)
    bogus = client.post(
        f"/cases/{case.ref}/status",
        data={"status": "closed", "outcome": "duplicate", "from_status": "x", "csrf_token": token},
    )
    assert bogus.status_code == 400
    db.session.expire_all()
    assert db.session.get_one(Case, case.id).status == CaseStatus.ASSESSING
    assert [a for a in audit_actions() if a == "case.status"] == ["case.status"]
