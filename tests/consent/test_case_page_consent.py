"""Consent on the case page: record and withdraw, roles, CSRF, hostile input, audit (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, Case, ConsentPurpose, ConsentRecord, Referral, Role
from intake.services import consent
from tests.builders import make_case, make_entry, make_org_key, make_user, sign_in
from tests.cases.test_routes import csrf_from

GOOD = {
    "purpose": "reprisals_report",
    "given_by": "family",
    "given_via": "call_note",
    "given_on": "",
    "entry_id": "",
}


@pytest.fixture
def case(app: Flask) -> Case:
    make_entry()
    return make_case(make_org_key(), consent_given=False)


def _signed_in(app: Flask, role: Role) -> tuple[FlaskClient, str]:
    client = app.test_client()
    sign_in(client, make_user(role))
    return client, ""


def _token(client: FlaskClient, case: Case) -> str:
    return csrf_from(client.get(f"/cases/{case.ref}"))


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) or 0


def _consent_events() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like("consent.%"))
            .order_by(AuditEvent.id)
        )
    )


def test_caseworker_records_then_withdraws_and_the_page_shows_both(app: Flask, case: Case) -> None:
    client, _ = _signed_in(app, Role.CASEWORKER)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "data-consent-none" in page
    token = _token(client, case)
    response = client.post(f"/cases/{case.ref}/consent", data={**GOOD, "csrf_token": token})
    assert response.status_code == 303
    # At the message: the form's own #record-consent would be kept across the redirect.
    assert response.headers["Location"].endswith("#main")
    assert consent.reprisals_consent(case) is True
    record = db.session.scalars(sa.select(ConsentRecord)).one()
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert f'data-consent-record="{record.id}"' in page
    assert 'data-consent-active="1"' in page
    # Its withdrawal is named with its purpose: two alike "Record a withdrawal" read the same.
    assert (
        f'<summary id="withdraw-{record.id}" '
        f'aria-labelledby="withdraw-{record.id} consent-purpose-{record.id}">'
    ) in page
    assert f'<strong id="consent-purpose-{record.id}">' in page
    response = client.post(
        f"/cases/{case.ref}/consent/{record.id}/withdraw",
        data={"withdrawn_by": "lawyer", "withdrawn_via": "follow_up_message", "csrf_token": token},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert consent.reprisals_consent(case) is False
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert 'data-consent-active="0"' in page
    assert _consent_events() == ["consent.recorded", "consent.withdrawn"]


def test_viewers_cannot_record_or_withdraw(app: Flask, case: Case) -> None:
    client, _ = _signed_in(app, Role.VIEWER)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "Record consent" not in page
    token = _token(client, case)
    response = client.post(f"/cases/{case.ref}/consent", data={**GOOD, "csrf_token": token})
    assert response.status_code == 403
    assert _count() == 0


def test_recording_without_a_csrf_token_is_refused(app: Flask, case: Case) -> None:
    client, _ = _signed_in(app, Role.CASEWORKER)
    response = client.post(f"/cases/{case.ref}/consent", data=GOOD)
    assert response.status_code == 400
    assert _count() == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"purpose": "everything"},
        {"purpose": ""},
        {"given_by": "submitter"},  # only the form and /status record the submitter
        {"given_by": "<script>alert(1)</script>"},
        {"given_via": "intake_form"},
        {"given_via": "status_page"},
        {"given_on": "2999-01-01"},
        {"given_on": "yesterday"},
        {"given_on": "1970-01-01"},
        {"entry_id": "no-such-entry"},
        {"entry_id": "x" * 5000},
        {"name_of_person": "Jane Doe"},  # no free text about a person, ever
        {"purpose": "publication", "entry_id": "test-ngo"},
    ],
)
def test_hostile_records_are_a_clear_4xx_and_write_nothing(
    app: Flask, case: Case, changes: dict[str, Any]
) -> None:
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    response = client.post(
        f"/cases/{case.ref}/consent", data={**GOOD, **changes, "csrf_token": token}
    )
    assert 400 <= response.status_code < 500
    assert (
        "Nothing was saved" in response.get_data(as_text=True)
        or response.status_code == 409
        or ("directory" in response.get_data(as_text=True))
    )
    assert _count() == 0
    assert _consent_events() == []


def test_a_duplicate_consent_is_refused(app: Flask, case: Case) -> None:
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    assert (
        client.post(f"/cases/{case.ref}/consent", data={**GOOD, "csrf_token": token}).status_code
        == 303
    )
    again = client.post(f"/cases/{case.ref}/consent", data={**GOOD, "csrf_token": token})
    assert again.status_code == 409
    assert _count() == 1


@pytest.mark.parametrize(
    ("record", "data", "status"),
    [
        ("other-case", {"withdrawn_by": "person", "withdrawn_via": "call_note"}, 404),
        ("missing", {"withdrawn_by": "person", "withdrawn_via": "call_note"}, 404),
        ("huge", {"withdrawn_by": "person", "withdrawn_via": "call_note"}, 404),
        ("own", {"withdrawn_by": "submitter", "withdrawn_via": "call_note"}, 400),
        ("own", {"withdrawn_by": "person", "withdrawn_via": "status_page"}, 400),
        ("own", {"withdrawn_by": "person"}, 400),
        ("own", {"withdrawn_by": "person", "withdrawn_via": "call_note", "note": "x"}, 400),
    ],
)
def test_hostile_withdrawals_are_refused_and_change_nothing(
    app: Flask, record: str, data: dict[str, str], status: int
) -> None:
    org = make_org_key()
    case = make_case(org)  # intake consent: two records
    other = make_case(org)
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    ids = {
        "own": consent.records(case)[0].id,
        "other-case": consent.records(other)[0].id,
        "missing": 987654,
        "huge": 2**40,
    }
    response = client.post(
        f"/cases/{case.ref}/consent/{ids[record]}/withdraw", data={**data, "csrf_token": token}
    )
    assert response.status_code == status
    db.session.expire_all()
    assert all(r.active for r in db.session.scalars(sa.select(ConsentRecord)))
    assert _consent_events() == []


def test_a_withdrawal_blocks_a_later_referral_through_the_form(app: Flask) -> None:
    make_entry(referral_kinds=[])
    case = make_case(make_org_key())
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    sharing = next(
        r for r in consent.records(case) if r.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )
    client.post(
        f"/cases/{case.ref}/consent/{sharing.id}/withdraw",
        data={"withdrawn_by": "person", "withdrawn_via": "call_note", "csrf_token": token},
    )
    page = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    assert "No consent is recorded for: Share with an organisation" in page
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "test-ngo", "kind": "ngo_referral", "csrf_token": token},
    )
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0


def test_who_gave_a_consent_reads_as_a_label_and_its_answers(app: Flask, case: Case) -> None:
    """The labels are the form's choices ("The person", "Whoever filled in the request"): set
    into a sentence they read "Given by Whoever filled in the request, Request form, …"."""
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    client.post(f"/cases/{case.ref}/consent", data={**GOOD, "csrf_token": token})
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "Given by: Family · Call (caseworker's note) · " in page
    assert "Given by Family" not in page
    chinese = client.get(f"/cases/{case.ref}?lang=zh_Hant").get_data(as_text=True)
    assert "由家屬透過" in chinese
    assert "Given by" not in chinese


def test_a_refused_record_opens_its_form_at_the_refusal(app: Flask, case: Case) -> None:
    """ "The date cannot be in the future" came back at the top of the page, the form folded
    again over the refused date (a review at 390 px)."""
    client, _ = _signed_in(app, Role.CASEWORKER)
    token = _token(client, case)
    closed = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert '<details class="consent-record" id="record-consent">' in closed
    response = client.post(
        f"/cases/{case.ref}/consent", data={**GOOD, "given_on": "2999-01-01", "csrf_token": token}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<details class="consent-record" id="record-consent" open>' in page
    error = page.index("data-consent-record-error")
    assert "The date cannot be in the future." in page[error : error + 200]
    assert 'value="2999-01-01"' in page  # what was typed, to mend
    assert _count() == 0
