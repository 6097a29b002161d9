"""The defender withdraws a consent at /status with the receipt code (issue 12): asked to
confirm first (JavaScript on and off), CSRF, hostile input, audited, a later referral for that
purpose is blocked, and the page still shows the consent as withdrawn afterwards."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake.extensions import db
from intake.models import AuditEvent, ConsentPurpose, ConsentRecord, ReferralKind, Role, Urgency
from intake.services import consent, referrals, submissions
from intake.services.triage import Routing
from tests.builders import make_entry, make_org_key, make_user
from tests.public.conftest import csrf_token, full_answers

SHOTS = Path(tempfile.gettempdir())  # screenshots to look at by hand
CONFIRMED = {"confirmed": "yes"}


def submit() -> submissions.Submission:
    org = make_org_key()
    return submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=["reprisal"], country="TW", consent_given=True),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )


def _sharing(submission: submissions.Submission) -> ConsentRecord:
    return next(
        r
        for r in consent.records(submission.case)
        if r.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )


def _withdrawals() -> list[AuditEvent]:
    return list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "consent.withdrawn"))
    )


def test_withdrawal_is_confirmed_first_then_blocks_a_later_referral(roomy_app: Flask) -> None:
    make_entry(referral_kinds=[])
    submission = submit()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    page = client.post("/status", data={"csrf_token": token, "code": submission.receipt_code})
    assert 'id="status-consent"' in page.text
    record = _sharing(submission)
    asked = {"csrf_token": token, "code": submission.receipt_code, "record_id": str(record.id)}

    # The first post only asks: nothing changes until the defender confirms.
    question = client.post("/status/consent/withdraw", data=asked)
    assert question.status_code == 200
    assert "Withdraw this consent?" in question.text
    assert 'name="confirmed" value="yes"' in question.text
    db.session.expire_all()
    assert record.active
    assert _withdrawals() == []

    response = client.post("/status/consent/withdraw", data={**asked, **CONFIRMED})
    assert response.status_code == 200
    assert "Your consent was withdrawn" in response.text
    # Still listed, marked withdrawn, with how to give it again.
    assert f'data-consent-record="{record.id}" data-withdrawn' in response.text
    assert 'id="consent-again"' in response.text
    db.session.expire_all()
    assert not record.active
    assert record.withdrawn_via is not None
    assert record.withdrawn_via.value == "status_page"
    (event,) = _withdrawals()
    assert event.actor_label == submissions.SUBMITTER
    assert event.detail["purpose"] == "share_with_organisation"
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(
            submission.case.id, "test-ngo", ReferralKind.NGO_REFERRAL, make_user(Role.CASEWORKER)
        )
    # The other purpose still stands: the defender withdrew one consent, not all.
    referrals.create(
        submission.case.id, "test-ngo", ReferralKind.SP_URGENT_APPEAL, make_user(Role.CASEWORKER)
    )


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed", "asking"])
@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"csrf_token": "forged"}, 400),
        ({"code": "AAAA-AAAA-AAAA-AAAA-AAAA"}, 404),
        ({"code": ""}, 404),
        ({"record_id": "abc"}, 400),
        ({"record_id": "-1"}, 400),
        ({"record_id": "9" * 40}, 400),
        ({"record_id": "987654"}, 404),
        ({"record_id": "other"}, 404),
        ({"name": "Jane Doe"}, 400),
    ],
)
def test_hostile_withdrawals_are_refused_and_change_nothing(
    roomy_app: Flask, change: dict[str, str], status: int, confirmed: bool
) -> None:
    submission = submit()
    other = submit()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    data: dict[str, Any] = {
        "csrf_token": token,
        "code": submission.receipt_code,
        "record_id": str(_sharing(submission).id),
        **(CONFIRMED if confirmed else {}),
        **change,
    }
    if data["record_id"] == "other":
        data["record_id"] = str(_sharing(other).id)
    response = client.post("/status/consent/withdraw", data=data)
    assert response.status_code == status
    db.session.expire_all()
    assert all(r.active for r in db.session.scalars(sa.select(ConsentRecord)))
    assert _withdrawals() == []


def test_withdrawing_twice_changes_nothing_and_shows_the_status_page(roomy_app: Flask) -> None:
    submission = submit()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    data = {
        "csrf_token": token,
        "code": submission.receipt_code,
        "record_id": str(_sharing(submission).id),
        **CONFIRMED,
    }
    assert client.post("/status/consent/withdraw", data=data).status_code == 200
    # Most often a reload: the status page again, with a notice (not an error page).
    again = client.post("/status/consent/withdraw", data=data)
    assert again.status_code == 200
    assert "This consent was already withdrawn. Nothing was changed." in again.text
    assert 'id="shared-status"' in again.text
    # Nor is a withdrawn consent offered for confirmation again.
    asking = {name: value for name, value in data.items() if name != "confirmed"}
    asked = client.post("/status/consent/withdraw", data=asking)
    assert asked.status_code == 200
    assert "Withdraw this consent?" not in asked.text
    assert "This consent was already withdrawn." in asked.text
    assert len(_withdrawals()) == 1


def test_a_repeated_field_is_refused(roomy_app: Flask) -> None:
    submission = submit()
    client = roomy_app.test_client()
    token = csrf_token(client, "/status")
    ids = [str(r.id) for r in consent.records(submission.case)]
    response = client.post(
        "/status/consent/withdraw",
        data={"csrf_token": token, "code": submission.receipt_code, "record_id": ids},
    )
    assert response.status_code == 400
    assert _withdrawals() == []


# What the page says after a withdrawal, in the two languages the test reads it in.
WITHDRAWN_ON = {"en": "Withdrawn on", "ar": "سُحبت في"}
GIVE_AGAIN = {"en": "tell the organisation in a message", "ar": "أخبر المنظمة بذلك في رسالة"}


@pytest.mark.parametrize("locale", ["en", "ar"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_withdrawal_in_the_browser_is_confirmed_first_and_stays_listed(
    app: Flask, live_server: Any, browser: Any, javascript: bool, locale: str
) -> None:
    make_entry(referral_kinds=[])
    submission = submit()
    record = _sharing(submission)
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 360, "height": 800}
    )
    mode = f"{locale}-{'js' if javascript else 'nojs'}"
    try:
        page = context.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def dismiss(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.goto(f"{live_server.url}/status?lang={locale}")
        page.fill("#code", submission.receipt_code)
        page.click("button[type=submit]")
        page.wait_for_selector("#status-consent")
        # The page's scripts sit at the end of the body, after libsodium: the list is there
        # before they run. A person types once the page has loaded; so does this test.
        page.wait_for_load_state()
        # Withdraw on a line of its own under what it withdraws, not after "(since …)".
        label = page.locator(f"#consent-{record.id}").bounding_box()
        button = page.locator(f"[data-consent-record='{record.id}'] button").bounding_box()
        assert label is not None
        assert button is not None
        assert button["y"] >= label["y"] + label["height"], (label, button)
        page.locator("#status-consent").screenshot(path=str(SHOTS / f"consent-list-{mode}.png"))

        # A message half written meanwhile: with JavaScript it waits in the tab while the
        # withdrawal is confirmed, and is back in the box afterwards.
        draft = "Half of what I wanted to add"
        page.fill("#body", draft)

        # One tap asks first (a page of the server's, not a dialog); "keep it" changes nothing.
        page.click(f"[data-consent-record='{record.id}'] button")
        page.wait_for_selector("#consent-confirm")
        page.screenshot(
            path=str(SHOTS / f"defender-withdraw-confirm-{mode}-360.png"), full_page=True
        )
        assert _sharing(submission).active
        page.click("#keep-consent")
        page.wait_for_selector("#status-consent")
        page.wait_for_load_state()
        assert page.locator(f"[data-consent-record='{record.id}'] button").is_visible()
        if javascript:
            expect(page.locator("#body")).to_have_value(draft)
        db.session.expire_all()
        assert _sharing(submission).active

        page.click(f"[data-consent-record='{record.id}'] button")
        page.click("#confirm-withdraw")
        page.wait_for_selector(".flash-success")
        assert page.locator(".flash-success").count() == 1
        withdrawn = page.locator(f"#status-consent [data-consent-record='{record.id}']")
        expect(withdrawn).to_contain_text(WITHDRAWN_ON[locale])
        assert withdrawn.locator("button").count() == 0
        if javascript:
            expect(page.locator("#body")).to_have_value(draft)
        # The other consent still stands and can still be withdrawn.
        assert page.locator("#status-consent li:not([data-withdrawn]) button").count() == 1
        expect(page.locator("#consent-again")).to_contain_text(GIVE_AGAIN[locale])
        page.click("#consent-again a")
        assert page.evaluate("location.hash") == "#follow-up-title"
        page.screenshot(path=str(SHOTS / f"defender-withdrawn-{mode}-360.png"), full_page=True)
        assert dialogs == []
        assert errors == []
    finally:
        context.close()
    db.session.expire_all()
    assert not _sharing(submission).active
    assert not submission.case.consent_given
    assert len(_withdrawals()) == 1
    with pytest.raises(referrals.ConsentRequired):
        referrals.create(
            submission.case.id, "test-ngo", ReferralKind.NGO_REFERRAL, make_user(Role.CASEWORKER)
        )


def test_a_withdrawal_counts_once_against_the_limit_and_guesses_still_count(
    make_app: Any,
) -> None:
    """Asking and confirming are one withdrawal: with a limit of two, a defender withdraws
    both consents (four posts). A refused post (a wrong code) counts, so guessing is still
    throttled."""
    app = make_app("sqlite", FOLLOW_UP_RATE_LIMIT="2 per hour", STATUS_RATE_LIMIT="1000/hour")
    with app.app_context():
        submission = submit()
        client = app.test_client()
        token = csrf_token(client, "/status")
        records = [r for r in consent.records(submission.case) if r.active]
        assert len(records) >= 2
        for record in records[:2]:
            asked = {"csrf_token": token, "code": submission.receipt_code, "record_id": record.id}
            assert client.post("/status/consent/withdraw", data=asked).status_code == 200
            done = client.post("/status/consent/withdraw", data={**asked, **CONFIRMED})
            assert done.status_code == 200
            assert "Your consent was withdrawn" in done.text
        # The limit is used up now: even a question is refused.
        asked = {"csrf_token": token, "code": submission.receipt_code, "record_id": records[0].id}
        assert client.post("/status/consent/withdraw", data=asked).status_code == 429

    app = make_app("sqlite", FOLLOW_UP_RATE_LIMIT="2 per hour", STATUS_RATE_LIMIT="1000/hour")
    with app.app_context():
        submission = submit()
        client = app.test_client()
        token = csrf_token(client, "/status")
        record = _sharing(submission)
        for _ in range(2):
            guess = {"csrf_token": token, "code": "AAAA-BBBB-CCCC-DDDD-EEEE", "record_id": 1}
            assert client.post("/status/consent/withdraw", data=guess).status_code == 404
        asked = {"csrf_token": token, "code": submission.receipt_code, "record_id": record.id}
        assert client.post("/status/consent/withdraw", data=asked).status_code == 429
