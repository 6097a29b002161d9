"""The UN steps on the referral page: timeline, step forms, roles, CSRF and hostile input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import Referral, ReferralKind, ReferralState, Role, UnStep
from intake.services import referrals
from intake.services.keys import current_org_key
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import RECEIVED_BEFORE, draft_un_referral, sealed_fact


def current_key_id() -> int:
    key = current_org_key()
    assert key is not None
    return key.id


def steps() -> list[str]:
    return [step.value for step in db.session.scalars(sa.select(UnStep.kind).order_by(UnStep.id))]


def local(days_ago: int) -> str:
    return (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M")


def test_a_caseworker_records_the_un_steps_and_sees_the_timeline(web: Flask) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "Submitted to the mandate" in page
    assert 'name="action" value="send"' not in page  # the step replaces the generic send
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "submitted", "at": local(40), "channel": "online_form"},
    )
    assert response.status_code == 303
    # At "Step recorded." and the moved deadline: without a fragment of its own, the redirect
    # kept the form's #step-submitted and opened the page below them.
    assert response.headers["Location"].endswith("#main")
    db.session.expire_all()
    submitted = db.session.get_one(Referral, referral.id)
    assert submitted.state == ReferralState.SENT
    assert submitted.due_at == submitted.sent_at + timedelta(days=30)  # type: ignore[operator]
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={
            "step": "communication_sent",
            "at": local(3),
            "communication_type": "allegation_letter",
            "sealed_reference": sealed_fact("AL CHN 7/2025"),
            "org_key_id": str(current_key_id()),
            "joined_mandates": "SR on human rights defenders",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    sent = db.session.get_one(Referral, referral.id)
    assert sent.due_at == sent.clock_started_at + timedelta(days=60)  # type: ignore[operator]
    assert sent.clock_started_at != sent.sent_at
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    # The reference is on the timeline sealed, for un-steps.js to open; never in the clear.
    assert "AL CHN 7/2025" not in page
    assert 'data-sealed-fact="reference"' in page
    for text in (
        "Communication sent to the government",
        "Allegation letter",
        "UN reference (encrypted)",
        "SR on human rights defenders",
        "reply is due",
        'href="#sp-draft"',
        "Government reply received",
    ):
        assert text in page
    assert steps() == ["submitted", "communication_sent"]


def test_viewers_see_the_timeline_but_cannot_record(web: Flask) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "On the UN" in page
    assert f'action="/referrals/{referral.id}/un-step"' not in page
    response = client.post(f"/referrals/{referral.id}/un-step", data={"step": "submitted"})
    assert response.status_code == 403
    assert steps() == []


def test_csrf_is_enforced_on_un_steps(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=True)
    with app.app_context():
        referral = draft_un_referral()
        client = app.test_client()
        sign_in(client, Role.CASEWORKER)
        response = client.post(f"/referrals/{referral.id}/un-step", data={"step": "submitted"})
        assert response.status_code == 400
        assert steps() == []


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"step": "launch"},
        {"step": "submitted", "at": "yesterday"},
        {"step": "submitted", "at": "0001-01-01T00:00"},
        {"step": "submitted", "at": "9999-12-31T23:59"},
        {"step": "submitted", "at": "2026-02-30T10:00"},
        {"step": "submitted", "channel": "carrier-pigeon"},
        {"step": "submitted", "channel": "x" * 5000},
        {"step": "reply_received"},
        {"step": "published", "link": "https://ohchr.org/"},
        {"step": "submitted", "link": "javascript:alert(1)"},
        {"step": "submitted", "reference": "AL CHN 3/2026"},
        {"step": "submitted", "due_hours": "-5"},
        {"step": "submitted", "due_hours": "1e9"},
        {"step": "submitted", "sealed_summary": "plain text"},
    ],
)
def test_hostile_step_forms_are_refused_and_write_nothing(web: Flask, data: dict) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(f"/referrals/{referral.id}/un-step", data=data)
    assert 400 <= response.status_code < 500
    db.session.expire_all()
    assert steps() == []
    assert db.session.get_one(Referral, referral.id).state == ReferralState.DRAFT


@pytest.mark.parametrize(
    "data",
    [
        {"communication_type": "urgent_appeal", "reference": "<script>alert(1)</script>"},
        {"communication_type": "urgent_appeal", "reference": "AL CHN 3/2026\x00"},
        {"communication_type": "urgent_appeal", "joined_mandates": "a" * 301},
        {"communication_type": "urgent_appeal", "joined_mandates": '"><img src=x>'},
        {"communication_type": "urgent_appeal", "due_hours": "72"},  # not a legislation letter
        {"communication_type": "fax"},
        {"communication_type": "urgent_appeal", "at": local(20)},  # before the submission
    ],
)
def test_hostile_communication_forms_are_refused(web: Flask, data: dict) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert (
        client.post(
            f"/referrals/{referral.id}/un-step", data={"step": "submitted", "at": local(10)}
        ).status_code
        == 303
    )
    response = client.post(
        f"/referrals/{referral.id}/un-step", data={"step": "communication_sent", **data}
    )
    assert response.status_code in (400, 422)  # NUL bytes are refused before the view
    assert steps() == ["submitted"]
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "<img src=x>" not in page


def test_steps_of_an_ngo_referral_and_unknown_referrals_are_refused(web: Flask) -> None:
    org = make_org_key()
    make_entry("test-ngo")
    user = make_user(Role.CASEWORKER)
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    ngo = referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, user)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert (
        client.post(f"/referrals/{ngo.id}/un-step", data={"step": "submitted"}).status_code == 422
    )
    assert "On the UN" not in client.get(f"/referrals/{ngo.id}").get_data(as_text=True)
    assert client.post("/referrals/999999/un-step", data={"step": "submitted"}).status_code == 404
    assert client.post(f"/referrals/{2**40}/un-step", data={"step": "submitted"}).status_code == 404
    assert steps() == []


def test_wgad_steps_show_the_six_month_follow_up(web: Flask) -> None:
    referral = draft_un_referral(ReferralKind.WGAD_OPINION)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for step, days in (("submitted", 200), ("opinion_adopted", 30), ("opinion_transmitted", 20)):
        assert (
            client.post(
                f"/referrals/{referral.id}/un-step", data={"step": step, "at": local(days)}
            ).status_code
            == 303
        ), step
    db.session.expire_all()
    wgad = db.session.get_one(Referral, referral.id)
    assert wgad.due_at is not None
    assert wgad.clock_started_at is not None
    assert timedelta(days=180) <= wgad.due_at - wgad.clock_started_at <= timedelta(days=184)
    assert wgad.due_at > datetime(2000, 1, 1, tzinfo=UTC)


def test_a_refused_step_says_why_inside_its_own_form_and_the_page_opens_there(
    web: Flask,
) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    # A future date refused: what was chosen stays chosen, in that form only (the reviewer's
    # "How" came back as "—", and the refused date filled "Withdraw or close" too).
    future = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "submitted", "at": future, "channel": "online_form"},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    submitted = html[html.index('id="step-submitted"') :]
    submitted = submitted[: submitted.index("</details>")]
    assert "future" in submitted
    assert f'name="at" value="{future}"' in submitted
    assert '<option value="online_form" selected>' in submitted
    update = html[html.index('id="update-heading"') :]
    assert future not in update

    client.post(f"/referrals/{referral.id}/un-step", data={"step": "submitted", "at": local(10)})
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    # Each step form posts to an address that brings the browser back to that form.
    assert f'action="/referrals/{referral.id}/un-step#step-communication_sent"' in page
    reference = sealed_fact("UA CHN 3/2026")
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "communication_sent", "communication_type": "urgent_appeal",
              "sealed_reference": reference, "org_key_id": str(current_key_id()),
              "joined_mandates": "WGAD <b>", "at": local(20)},  # before the submission
    )  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    form = html[html.index('id="step-communication_sent"') :]
    form = form[: form.index("</details>")]
    assert "open" in form[: form.index(">")]
    error = form.index("data-step-error")
    assert "cannot be before" in form[error : error + 300]
    # It takes the focus (staff.js; tests/test_keyboard_browser.py), so that it is said and
    # the keyboard is at its form (a review).
    assert 'data-step-error tabindex="-1" data-focus-on-load>' in form
    # The button says which step it records: several "Record" read alike.
    assert (
        'id="record-communication_sent" '
        'aria-labelledby="record-communication_sent step-title-communication_sent"'
    ) in form
    assert '<summary id="step-title-communication_sent">' in form
    assert '<option value="urgent_appeal" selected>' in form
    # The reference comes back as it was posted, sealed, for un-steps.js to open into its field.
    assert f'data-sealed-value="{reference}"' in form
    assert "UA CHN 3/2026" not in html
    assert 'value="WGAD &lt;b&gt;"' in form  # typed text back, escaped
    assert 'class="flash flash-error"' not in html  # said once, where the person is
    assert steps() == ["submitted"]


def test_a_new_un_referral_points_to_its_first_step_and_opens_it(web: Flask) -> None:
    """Reviewer: "Mark it as sent" pointed at a menu offering only "Withdraw", above the UN steps.
    Now the message names the step, the page goes to the steps (first, and the first one open),
    and the generic form below them says it only withdraws or closes."""
    org = make_org_key()
    make_entry("sr-hrd")
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "sr-hrd", "kind": "sp_urgent_appeal", "owner_id": user.id},
    )
    assert response.status_code == 302
    # A Special Procedures referral lands on its draft, just above the steps.
    assert response.headers["Location"].endswith("#sp-draft")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "record it below: “Submitted to the mandate”" in page
    assert "Mark it as sent" not in page
    assert page.index('id="sp-draft"') < page.index('id="un-steps"')
    assert page.index('id="un-steps"') < page.index('id="update-heading"')
    assert '<details class="un-step-form" id="step-submitted" open>' in page
    assert ">Withdraw or close</h2>" in page

    # Once a step is on record, the next ones start folded.
    referral = db.session.scalars(sa.select(Referral)).one()
    client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "submitted", "at": local(2), "channel": "online_form"},
    )
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert " open>" not in page.split('id="un-steps"')[1].split("</section>")[0]


def test_a_new_ngo_referral_still_says_mark_it_as_sent(web: Flask) -> None:
    org = make_org_key()
    make_entry("fld")
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "fld", "kind": "ngo_referral", "owner_id": user.id},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Referral started. Mark it as sent when it has gone out." in page
    assert ">Update</h2>" in page


# Each: what is posted besides the step, and what the page says. The reference and link are
# sealed in the browser (js/un-steps.js): the server takes ciphertext sealed to the current key
# and nothing else, says why, and writes nothing.
NOT_SEALED = "did not arrive encrypted"
WRONG_KEY = "not the organisation&#39;s current key"
HOSTILE_FACTS = [
    ("communication_sent", {"reference": "UA QZX 4242/2031"}, NOT_SEALED, 422),
    ("communication_sent", {"sealed_reference": "UA QZX 4242/2031"}, NOT_SEALED, 422),
    ("communication_sent", {"sealed_reference": "not base64 !!"}, NOT_SEALED, 422),
    ("communication_sent", {"sealed_reference": "QUJD"}, NOT_SEALED, 422),  # too short
    ("communication_sent", {"sealed_reference": "unpadded"}, NOT_SEALED, 422),
    ("communication_sent", {"sealed_reference": "oversized"}, "too long", 413),
    ("communication_sent", {"sealed_reference": "sealed", "org_key_id": "old"}, WRONG_KEY, 409),
    ("communication_sent", {"sealed_reference": "sealed", "org_key_id": "999"}, WRONG_KEY, 409),
    ("communication_sent", {"sealed_reference": "sealed", "org_key_id": ""}, WRONG_KEY, 409),
    ("communication_sent", {"sealed_link": "sealed"}, "publication or follow-up", 422),
    ("published", {"link": "https://canary-qzx.example.org/UA-QZX"}, NOT_SEALED, 422),
    ("published", {"sealed_link": "https://canary-qzx.example.org/UA-QZX"}, NOT_SEALED, 422),
    ("published", {}, "https://", 422),
    ("published", {"sealed_link": "oversized"}, "too long", 413),
]


def _hostile_value(value: str, old_key: int) -> str:
    """The placeholders of HOSTILE_FACTS, made with the current key (sealed when asked)."""
    key = current_org_key()
    assert key is not None
    made = {
        "sealed": sealed_fact("UA QZX 4242/2031"),
        "unpadded": crypto.b64(crypto.seal(b'{"body":"UA QZX 4242/2031"}', key.public_key)),
        "oversized": crypto.b64(crypto.seal(crypto.pad(b"x" * 1500), key.public_key)),
        "old": str(old_key),
    }
    return made.get(value, value)


@pytest.mark.parametrize(("step", "posted", "said", "status"), HOSTILE_FACTS)
def test_a_reference_or_link_not_sealed_to_the_current_key_is_refused_and_nothing_written(
    web: Flask, step: str, posted: dict[str, str], said: str, status: int
) -> None:
    referral = draft_un_referral()
    old_key = current_key_id()
    make_org_key()  # the current key now; the referral's is older
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for earlier in ("submitted", "communication_sent", "no_reply")[
        : 1 if step == "communication_sent" else 3
    ]:
        data = {"step": earlier, "at": local(10 if earlier == "submitted" else 5)}
        if earlier == "communication_sent":
            data["communication_type"] = "urgent_appeal"
        assert client.post(f"/referrals/{referral.id}/un-step", data=data).status_code == 303
    before = steps()
    data = {"step": step, "org_key_id": str(current_key_id())}
    if step == "communication_sent":
        data["communication_type"] = "urgent_appeal"
    data |= {name: _hostile_value(value, old_key) for name, value in posted.items()}
    response = client.post(f"/referrals/{referral.id}/un-step", data=data)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    form = page[page.index(f'id="step-{step}"') :]
    assert said in form[: form.index("</details>")]
    # Nothing in the clear is given back either (a sealed value is, for un-steps.js to open).
    assert "UA QZX" not in page
    assert "canary-qzx" not in page
    db.session.expire_all()
    assert steps() == before
    row = db.session.execute(sa.select(UnStep.sealed_reference, UnStep.sealed_link)).all()
    assert all(reference is None and link is None for reference, link in row)
