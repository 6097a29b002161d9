"""/referrals pages: who may see and change what, forms with bad input, views and filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Referral, ReferralKind, ReferralState, Role
from intake.services import referrals
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import CANARY, RECEIVED_BEFORE, sent_referral


def count_referrals() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) or 0)


def test_anonymous_is_sent_to_sign_in(web: Flask) -> None:
    referral = sent_referral()
    client = web.test_client()
    for path in ("/referrals/", f"/referrals/{referral.id}", "/referrals/new?ref=x"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    assert client.post(f"/referrals/{referral.id}/transition").status_code == 302


def test_viewer_reads_but_cannot_change(web: Flask) -> None:
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.VIEWER)
    assert client.get("/referrals/?view=all").status_code == 200
    page = client.get(f"/referrals/{referral.id}")
    assert page.status_code == 200
    assert b'action="/referrals/' not in page.data  # no update form
    assert client.get(f"/referrals/new?ref={referral.case.ref}").status_code == 403
    response = client.post(f"/referrals/{referral.id}/transition", data={"action": "withdraw"})
    assert response.status_code == 403
    assert db.session.get_one(Referral, referral.id).state == ReferralState.SENT


def test_caseworker_starts_a_referral_with_triage_suggestions_first(web: Flask) -> None:
    org = make_org_key()
    make_entry("alpha-ngo", threats=["disappearance"])  # not for this case: not suggested
    make_entry("zeta-ngo")  # for detention, as the case
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)  # before the step dated below
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    page = client.get(f"/referrals/new?ref={case.ref}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index('value="zeta-ngo"') < html.index('value="alpha-ngo"')
    assert "triage suggestions are listed first, best first." in html
    # A case no entry fits is not told its suggestions come first.
    unsuited = make_case(org, threats=["digital"])
    other = client.get(f"/referrals/new?ref={unsuited.ref}").get_data(as_text=True)
    assert "triage suggestions are listed first" not in other
    # A list's hint is read with it (it was only beside it: a keyboard review).
    for name in ("kind", "owner_id"):
        (select,) = [tag for tag in re.findall(r"<select[^>]*>", html) if f'id="{name}"' in tag]
        assert f'aria-describedby="{name}-hint"' in select
    # No preset organisation: the caseworker chooses (issue 11: a preset made wrong clocks).
    option = re.search(r'<option[^>]*value="zeta-ngo"[^>]*>', html)
    assert option is not None
    assert "selected" not in option.group(0)
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "zeta-ngo", "kind": "sp_urgent_appeal", "owner_id": user.id},
    )
    assert response.status_code == 302
    referral = db.session.scalars(sa.select(Referral)).one()
    assert (referral.entry_id, referral.kind, referral.state) == (
        "zeta-ngo",
        ReferralKind.SP_URGENT_APPEAL,
        ReferralState.DRAFT,
    )
    sent = client.post(
        f"/referrals/{referral.id}/transition",
        data={"action": "send", "at": "2026-11-20T10:00"},
    )
    assert sent.status_code == 302
    db.session.refresh(referral)
    assert referral.sent_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    # Submitted to the mandate: the follow-up clock, not yet the government's 60 days.
    assert referral.due_at == referral.sent_at + timedelta(days=30)
    detail = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "2026-12-20" in detail


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"entry_id": "no-such", "kind": "ngo_referral"},
        {"entry_id": "test-ngo", "kind": "launch_missiles"},
        {"entry_id": "test-ngo", "kind": "ngo_referral", "owner_id": "abc"},
        {"entry_id": "test-ngo", "kind": "ngo_referral", "owner_id": "999999"},
        {"entry_id": "test-ngo", "kind": "sp_legislation", "due_hours": "-4"},
        {"entry_id": "test-ngo" * 500, "kind": "ngo_referral"},
        {"entry_id": "<script>alert(1)</script>", "kind": "ngo_referral"},
    ],
)
def test_bad_referral_forms_are_refused_and_write_nothing(web: Flask, data: dict) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    data.setdefault("owner_id", str(user.id))
    response = client.post(f"/referrals/new?ref={case.ref}", data=data)
    assert response.status_code == 422
    assert b"<script>alert(1)" not in response.data
    assert count_referrals() == 0
    # Each refused list is marked and read with its hint and its error.
    html = response.get_data(as_text=True)
    for invalid in re.findall(r"<select[^>]*aria-invalid[^>]*>", html):
        described = re.search(r'aria-describedby="([^"]+)"', invalid)
        assert described is not None, invalid
        assert any(part.endswith("-error") for part in described.group(1).split()), invalid


def test_unknown_case_and_referral_are_404(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert client.get("/referrals/new?ref=RF-NOPE").status_code == 404
    assert client.get("/referrals/new").status_code == 404
    assert client.get("/referrals/new?ref=" + "X" * 500).status_code == 404
    assert client.get("/referrals/424242").status_code == 404
    assert client.post("/referrals/424242/transition", data={"action": "send"}).status_code == 404


def test_consent_gate_on_the_form_and_audited_admin_override(web: Flask) -> None:
    org = make_org_key()
    make_entry()
    case = make_case(org, consent_given=False)
    caseworker = web.test_client()
    user = give_key(sign_in(caseworker, Role.CASEWORKER), org)
    form = {"entry_id": "test-ngo", "kind": "ngo_referral", "owner_id": user.id}
    refused = caseworker.post(f"/referrals/new?ref={case.ref}", data=form)
    assert refused.status_code == 422
    assert b"only an admin" in refused.data
    admin = web.test_client()
    sign_in(admin, Role.ADMIN)
    no_reason = admin.post(f"/referrals/new?ref={case.ref}", data=form)
    assert no_reason.status_code == 422
    # Said beside the reason to choose, not only in a banner at the top.
    assert (
        '<p class="field-error" id="consent_override_reason-error">'
        "No consent is recorded: an admin override needs a reason."
    ) in no_reason.get_data(as_text=True)
    hostile = admin.post(
        f"/referrals/new?ref={case.ref}", data={**form, "consent_override_reason": "<b>x"}
    )
    assert hostile.status_code == 422
    assert count_referrals() == 0
    ok = admin.post(
        f"/referrals/new?ref={case.ref}",
        data={**form, "consent_override_reason": "detained_cannot_be_asked"},
    )
    assert ok.status_code == 302
    assert count_referrals() == 1
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert "referral.consent_override" in actions
    referral = db.session.scalars(sa.select(Referral)).one()
    page = admin.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "The person is detained and cannot be asked" in page


def test_consent_to_share_with_one_organisation_is_not_taken_for_another(web: Flask) -> None:
    """Consent recorded for sharing with one organisation; the admin chose another. The form
    said nothing, and the refused override's reason field stayed folded away under a note
    about UN purposes: the referral could not be started at all."""
    from intake.models import ConsentChannel, ConsentGiver, ConsentPurpose
    from intake.services import consent

    org = make_org_key()
    make_entry("covered-ngo", name="Covered NGO")
    make_entry("other-ngo", name="Other NGO")
    case = make_case(org, consent_given=False)
    admin = web.test_client()
    user = give_key(sign_in(admin, Role.ADMIN), org)
    consent.record(
        case.id,
        ConsentPurpose.SHARE_WITH_ORGANISATION,
        ConsentGiver.PERSON,
        ConsentChannel.CALL_NOTE,
        user,
        entry_id="covered-ngo",
    )
    reads: list[str] = []

    def count(*args: object) -> None:
        if "FROM consent_records" in str(args[2]):
            reads.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = admin.get(f"/referrals/new?ref={case.ref}&entry=other-ngo").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(reads) == 1, "the form reads the case's consent records once"
    # The warning and the reason are shown for the chosen organisation, not folded.
    assert "covers other organisations, not this one" in page
    notice = re.search(r'<div class="notice consent-needed"[^>]*>', page)
    assert notice is not None
    assert "hidden" not in notice.group(0)
    assert 'name="consent_override_reason"' in page
    # referral-new.js is told which organisation each consent covers.
    kinds = re.search(r'<script type="application/json" id="referral-kinds">(.*?)</script>', page)
    assert kinds is not None
    assert '"consent": true' in kinds.group(1)
    assert '"consent": false' in kinds.group(1)
    form = {"entry_id": "other-ngo", "kind": "ngo_referral", "owner_id": user.id}
    refused = admin.post(f"/referrals/new?ref={case.ref}", data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "The referral was not started. Check the form" in html  # at the top
    assert 'id="consent_override_reason-error"' in html  # and beside the reason
    ok = admin.post(
        f"/referrals/new?ref={case.ref}",
        data={**form, "consent_override_reason": "life_or_liberty_at_risk"},
    )
    assert ok.status_code == 302
    covered = admin.get(f"/referrals/new?ref={case.ref}&entry=covered-ngo").get_data(as_text=True)
    notice = re.search(r'<div class="notice consent-needed"[^>]*>', covered)
    assert notice is not None
    assert "hidden" in notice.group(0)  # the covered organisation needs no override


@pytest.mark.parametrize(
    ("data", "status"),
    [
        # Not allowed from sent: the service says so as of a stale page (its state now), 409.
        ({"action": "close"}, 409),
        ({"action": "detonate"}, 422),
        ({"action": "acknowledge", "at": "yesterday"}, 422),
        ({"action": "acknowledge", "at": "2999-01-01T00:00"}, 422),
        ({"action": "withdraw", "at": "9" * 5000}, 422),
        ({"action": "acknowledge", "at": "0001-01-01T00:00"}, 422),
        ({"action": "acknowledge", "at": "2001-01-01T00:00"}, 422),  # before it was sent
    ],
)
def test_bad_transitions_are_refused_and_change_nothing(
    web: Flask, data: dict, status: int
) -> None:
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(f"/referrals/{referral.id}/transition", data=data)
    assert response.status_code == status
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).state == ReferralState.SENT


def test_an_outcome_is_taken_only_when_closing(web: Flask) -> None:
    """ "Reply received" with an outcome chosen said "Reply recorded." and dropped the outcome
    without a word (a review in Chromium); the field is offered only where closing is."""
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'name="outcome"' not in page  # a sent referral cannot be closed yet
    refused = client.post(
        f"/referrals/{referral.id}/transition", data={"action": "reply", "outcome": "action_taken"}
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="outcome-error">(.*?)</p>', html)
    assert error is not None
    assert "An outcome is recorded only when the referral is closed" in error.group(1)
    assert "Choose “Close”" not in html  # which a sent referral does not offer
    assert "The referral was not updated. What to mend is said beside the form." in html
    assert 'name="outcome"' in html  # shown with its error, to be emptied
    db.session.expire_all()
    kept = db.session.get_one(Referral, referral.id)
    assert (kept.state, kept.outcome) == (ReferralState.SENT, None)
    assert (
        client.post(f"/referrals/{referral.id}/transition", data={"action": "reply"}).status_code
        == 302
    )
    assert 'name="outcome"' in client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    closed = client.post(
        f"/referrals/{referral.id}/transition", data={"action": "close", "outcome": "declined"}
    )
    assert closed.status_code == 302
    db.session.expire_all()
    kept = db.session.get_one(Referral, referral.id)
    assert (kept.state, kept.outcome) == (ReferralState.CLOSED, "declined")


def test_a_draft_is_not_awaiting_a_reply(web: Flask) -> None:
    """The awaiting view and the timeline listed unsent drafts ("no clock yet"), and the header
    counted them twice: "Awaiting reply: 46 · Not sent yet: 5" (a review in Chromium)."""
    org = make_org_key()
    owner = make_user()
    sent = sent_referral(sent_at=utcnow() - timedelta(days=3), owner=owner, org=org)
    draft_case = make_case(org)
    draft = referrals.create(draft_case.id, "test-ngo", ReferralKind.NGO_REFERRAL, owner)
    assert draft.state == ReferralState.DRAFT
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for view in ("awaiting", "timeline"):
        html = client.get(f"/referrals/?view={view}").get_data(as_text=True)
        assert sent.case.ref in html, view
        assert draft_case.ref not in html, view
    html = client.get("/referrals/?view=action").get_data(as_text=True)
    assert draft_case.ref in html  # a draft is work to do
    assert "Awaiting reply: 1" in html
    assert "Not sent yet: 1" in html


def test_views_filter_and_show_next_best_for_overdue(web: Flask) -> None:
    org = make_org_key()
    owner = make_user()
    make_entry("other-ngo", name="Other NGO")  # "next best" names the entry as the directory does
    overdue = sent_referral(sent_at=utcnow() - timedelta(days=61), owner=owner, org=org)
    overdue.case.triage = [
        {"id": "other-ngo", "name": "Other NGO", "score": 2, "reasons": ["r"], "caveats": []}
    ]
    db.session.commit()
    soon = sent_referral(sent_at=utcnow() - timedelta(days=57), owner=owner, org=org)
    later = sent_referral(sent_at=utcnow() - timedelta(days=1), owner=owner, org=org)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)

    def refs(query: str) -> set[str]:
        html = client.get(f"/referrals/?{query}").get_data(as_text=True)
        return {r.case.ref for r in (overdue, soon, later) if r.case.ref in html}

    assert refs("view=overdue") == {overdue.case.ref}
    assert refs("view=due_soon") == {soon.case.ref}
    assert refs("view=action") == {overdue.case.ref, soon.case.ref}
    assert refs("view=all") == {overdue.case.ref, soon.case.ref, later.case.ref}
    assert refs("view=timeline") == {overdue.case.ref, soon.case.ref, later.case.ref}
    assert refs(f"view=all&q={soon.case.ref[-4:]}") == {soon.case.ref}
    assert refs("view=all&kind=wgad_opinion") == set()
    html = client.get("/referrals/?view=overdue").get_data(as_text=True)
    assert "Next best: Other NGO" in html
    # Hostile query strings are ignored, never a 500; NUL bytes are refused everywhere.
    for query in (
        "page=-1",
        "page=abc",
        "page=%C2%B2",  # "²".isdigit() is true, int("²") fails
        "owner=%C2%B2",
        "owner=99999999999999999999",
        "owner=%27",
        "q=" + "%25" * 300,
        "kind=x",
    ):
        assert client.get(f"/referrals/?{query}").status_code == 200, query
    assert client.get("/referrals/?view=%00").status_code == 400
    assert client.get("/referrals/99999999999999999999").status_code == 404


def test_a_replied_referrals_deadline_is_said_to_run_no_more_in_the_list(web: Flask) -> None:
    """The list gave a replied referral's coming date as plainly as a running one's, while its
    own page and the case page say "no longer running" (a review in Chromium)."""
    owner = make_user()
    running = sent_referral(sent_at=utcnow() - timedelta(days=3), owner=owner)
    replied = sent_referral(sent_at=utcnow() - timedelta(days=3), owner=owner)
    referrals.transition(replied.id, "reply", owner)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for lang, words in (("en", "no longer running"), ("zh_Hant", "不再計時")):
        html = client.get(f"/referrals/?view=all&lang={lang}").get_data(as_text=True)
        rows = {
            ref: html[html.index(ref) : html.index("</tr>", html.index(ref))]
            for ref in (running.case.ref, replied.case.ref)
        }
        assert words in rows[replied.case.ref], lang
        assert "data-clock-stopped" not in rows[running.case.ref], lang


def test_empty_state_and_no_case_content_on_pages(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert "Nothing is due" in client.get("/referrals/").get_data(as_text=True)
    referral = sent_referral()
    for path in ("/referrals/?view=all", f"/referrals/{referral.id}"):
        assert CANARY not in client.get(path).get_data(as_text=True)


def test_csrf_is_enforced_on_referral_changes(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=True)
    with app.app_context():
        referral = sent_referral()
        client = app.test_client()
        sign_in(client, Role.CASEWORKER)
        response = client.post(f"/referrals/{referral.id}/transition", data={"action": "withdraw"})
        assert response.status_code == 400
        assert db.session.get_one(Referral, referral.id).state == ReferralState.SENT


def test_referral_pages_speak_traditional_chinese(web: Flask) -> None:
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get("/referrals/?view=all&lang=zh_Hant").get_data(as_text=True)
    assert "等待回覆" in html
    detail = client.get(f"/referrals/{referral.id}").get_data(as_text=True)  # language kept
    assert "聯合國特別程序：緊急呼籲（政府回覆期限 60 天）" in detail


def test_referral_page_lists_its_reminders_in_words(web: Flask) -> None:
    from intake.services import reminders

    referral = sent_referral(sent_at=utcnow() - timedelta(days=58))
    reminders.scan(enqueue=lambda _outbox_id: None)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    # 2 days left: the 3-day slot, with the deadline it was for (the scan sends the latest
    # reminder due, and the deadline may move: "On the day — sent, 6 Dec" of a referral due
    # 29 Nov read as a wrong date).
    line = re.compile(r"3 days before \(due <time[^>]*>[^<]+</time>\) — waiting to be sent")
    assert line.search(html), html
    html = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    assert re.search(r"到期前 3 天（期限 <time[^>]*>[^<]+</time>） — 等待寄出", html), html


def test_a_sent_reminder_is_listed_with_the_languages_comma(web: Flask) -> None:
    """ "已寄出, 2026年…": an ASCII comma between Chinese words (a review)."""
    from intake.models import OutboxStatus, ReminderOutbox
    from intake.services import reminders

    referral = sent_referral(sent_at=utcnow() - timedelta(days=58))
    reminders.scan(enqueue=lambda _outbox_id: None)
    row = db.session.scalars(
        sa.select(ReminderOutbox).where(ReminderOutbox.referral_id == referral.id)
    ).first()
    assert row is not None
    row.status, row.sent_at = OutboxStatus.SENT, utcnow()
    db.session.commit()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    assert re.search(r"— 已寄出，<time", html), html
    html = client.get(f"/referrals/{referral.id}?lang=en").get_data(as_text=True)
    assert re.search(r"— sent, <time", html), html


def test_opening_a_referral_page_is_audited_as_a_read_of_its_case(web: Flask) -> None:
    referral = sent_referral()
    client = web.test_client()
    user = sign_in(client, Role.VIEWER)
    assert client.get(f"/referrals/{referral.id}").status_code == 200
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "referral.view")
    ).one()
    assert (event.actor_id, event.target_id) == (user.id, str(referral.case_id))


def test_a_draft_is_in_action_needed_and_counted_as_not_sent_yet(web: Flask) -> None:
    """A draft's clock has not started, so it was in no view that asks for action: easy to
    forget (usability pass). It is listed there, and the summary links to the drafts."""
    org = make_org_key()
    owner = make_user()
    make_entry("test-ngo")
    case = make_case(org)
    draft = referrals.create(case.id, "test-ngo", ReferralKind.SP_URGENT_APPEAL, owner)
    later = sent_referral(sent_at=utcnow() - timedelta(days=1), owner=owner, org=org)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get("/referrals/").get_data(as_text=True)  # "Action needed" by default
    assert draft.case.ref in html
    assert later.case.ref not in html  # its deadline is weeks away
    assert 'data-drafts="1"' in html
    assert "Not sent yet: 1" in html
    drafts = client.get("/referrals/?view=all&state=draft").get_data(as_text=True)
    assert draft.case.ref in drafts
    assert later.case.ref not in drafts


def test_nothing_is_preselected_and_a_withdrawal_is_confirmed_before_it_happens(
    web: Flask,
) -> None:
    referral = sent_referral()  # a UN referral: "Withdraw" is its only generic action
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="action".*?</select>', page, re.S)
    assert select is not None
    options = re.findall(r"<option[^>]*>", select.group(0))
    assert 'value=""' in options[0]  # "Choose what happened" comes first
    assert all("selected" not in option for option in options[1:])
    # "Save" with nothing chosen changes nothing and says why.
    empty = client.post(f"/referrals/{referral.id}/transition", data={"action": ""})
    assert empty.status_code == 422
    assert "Choose what happened." in empty.get_data(as_text=True)
    # Withdraw: a page that says what it means, and nothing changed yet.
    asked = client.post(f"/referrals/{referral.id}/transition", data={"action": "withdraw"})
    assert asked.status_code == 200
    text = asked.get_data(as_text=True)
    assert "cannot be reopened" in text
    assert 'name="confirmed"' in text
    # A language link opens the referral, not the public landing page.
    assert f'href="/referrals/{referral.id}?lang=zh_Hant"' in text
    assert 'href="/?lang=' not in text
    for forged in ({"confirmed": ""}, {"confirmed": "no"}, {"confirmed": "yes" * 1000}):
        again = client.post(
            f"/referrals/{referral.id}/transition", data={"action": "withdraw", **forged}
        )
        assert again.status_code == 200  # asked again, not done
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).state == ReferralState.SENT
    done = client.post(
        f"/referrals/{referral.id}/transition",
        data={"action": "withdraw", "confirmed": "yes"},
        follow_redirects=True,
    )
    assert "Referral withdrawn" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).state == ReferralState.WITHDRAWN
    # Once withdrawn, it cannot be asked again.
    late = client.post(f"/referrals/{referral.id}/transition", data={"action": "withdraw"})
    assert late.status_code == 409


def test_the_withdrawal_page_speaks_chinese(web: Flask, untranslated: Any) -> None:
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    for locale, words in (("zh_Hant", "無法重新開啟"), ("zh_Hans", "无法重新开启")):
        client.get(f"/referrals/?lang={locale}")
        untranslated.clear()
        page = client.post(f"/referrals/{referral.id}/transition", data={"action": "withdraw"})
        assert words in page.get_data(as_text=True)
        detail = client.get(f"/referrals/{referral.id}")
        assert detail.status_code == 200
        assert not untranslated.messages, sorted(untranslated.messages)


def test_the_reminder_schedule_is_the_one_the_scan_follows(web: Flask) -> None:
    owner = make_user(Role.CASEWORKER, email="owner@example.org")
    referral = sent_referral(owner=owner)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    weekly = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "14, 7, 3, and 1 days before the deadline and on the day" in weekly
    assert "then once a week while it is overdue" in weekly
    assert "e-mailed to owner@example.org" in weekly
    owner.overdue_reminders_daily = True
    db.session.commit()
    daily = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    assert "期限前 14、7、3和1 天及當天寄出，逾期後每天寄出" in daily


@pytest.mark.parametrize(
    ("hours_given", "started_at_hour", "expected"),
    [
        # A draft-law letter's 48 hours: "1 day before" and the due day's morning, no more.
        (48, 10, "They go out 1 day before the deadline and on the day, then once a week"),
        # 20 hours from 22:00: the due day starts after the clock did, "1 day before" not.
        (20, 22, "They go out on the day of the deadline, then once a week"),
        # 8 hours, same day: nothing before the deadline can go out.
        (8, 9, "The deadline is too close for a reminder before it"),
    ],
)
def test_a_short_deadline_lists_only_the_reminders_it_will_get(
    web: Flask, hours_given: int, started_at_hour: int, expected: str
) -> None:
    """A reviewer read "14, 7, 3, and 1 days before" on a 48-hour letter, which got only the
    "1 day" reminder (the scan skips slots from before the clock started)."""
    referral = sent_referral()
    start = datetime(2027, 3, 1, started_at_hour, 0, tzinfo=UTC)  # the zone is UTC here
    referral.clock_started_at = start
    referral.due_at = start + timedelta(hours=hours_given)
    db.session.commit()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    schedule = page[page.index("data-reminder-schedule") :][:600]
    assert expected in schedule
    assert "14, 7" not in schedule


def test_a_drafts_schedule_is_the_one_it_would_get_if_sent_now(web: Flask) -> None:
    """A draft to an organisation that answers within two days was promised "14, 7, 3, and 1
    days before": its deadline is not set until it is sent, and the schedule took all the
    organisation's offsets (a review in Chromium)."""
    org = make_org_key()
    make_entry("quick-ngo", name="Quick NGO", response_days=2)
    make_entry("slow-ngo", name="Slow NGO")
    case = make_case(org)
    owner = give_key(make_user(Role.CASEWORKER, email="drafter@example.org"), org)
    quick = referrals.create(case.id, "quick-ngo", ReferralKind.NGO_REFERRAL, owner)
    slow = referrals.create(case.id, "slow-ngo", ReferralKind.NGO_REFERRAL, owner)
    assert quick.due_at is None  # its clock starts when it is sent
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{quick.id}").get_data(as_text=True)
    schedule = page[page.index("data-reminder-schedule") :][:600]
    assert "They go out 1 day before the deadline and on the day" in schedule
    assert "14, 7" not in schedule
    page = client.get(f"/referrals/{slow.id}").get_data(as_text=True)
    assert "14, 7, 3, and 1 days before the deadline and on the day" in page


@pytest.mark.parametrize(
    ("kind", "hours", "accepted"),
    [
        ("sp_legislation", "12", False),
        ("sp_legislation", "47", False),
        ("sp_legislation", "48", True),
        ("sp_legislation", "96", True),
        ("embassy_contact", "12", True),
    ],
)
def test_a_deadline_shorter_than_the_kind_allows_is_refused_beside_the_field(
    web: Flask, kind: str, hours: str, accepted: bool
) -> None:
    org = make_org_key()
    make_entry("test-ngo")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "test-ngo", "kind": kind, "owner_id": user.id, "due_hours": hours},
    )
    if accepted:
        assert response.status_code == 302
        assert count_referrals() == 1
        return
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    message = "A draft-law letter gives the government at least 48 hours"
    assert message in html
    # Beside the hours field, not only at the top of the page.
    field = html[html.index('name="due_hours"') - 1500 : html.index('name="due_hours"') + 500]
    assert message in field
    assert count_referrals() == 0


def test_overdue_page_costs_the_same_statements_for_one_row_as_for_six(web: Flask) -> None:
    """A page of overdue referrals reads its rows' cases, entries, owners and "next best"
    suggestions for the whole page at once: each was a few statements per row."""
    org = make_org_key()
    # Working in Mexico, as the cases: triage ranks it above the rows' own (global) entries.
    make_entry("other-ngo", name="Other NGO", regions=["latin_america"], countries=["MX"])
    made = 0

    def overdue_referral() -> None:
        nonlocal made
        made += 1  # each row its own entry and owner, as on a real page
        sent_referral(sent_at=utcnow() - timedelta(days=61), org=org, entry_id=f"ngo-{made}")

    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    shown: list[str] = []

    def statements_for_overdue_page() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(" ".join(str(args[2]).split())[:90])

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            html = client.get("/referrals/?view=overdue").get_data(as_text=True)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert html.count("Next best: Other NGO") == count_referrals() == made
        shown[:] = seen
        return len(seen)

    overdue_referral()
    one = statements_for_overdue_page()
    for _ in range(5):
        overdue_referral()
    assert statements_for_overdue_page() == one, "\n".join(shown)


def test_new_owners_are_only_staff_who_can_open_the_case_but_the_filter_keeps_past_owners(
    web: Flask,
) -> None:
    """Reminders go to a referral's owner: someone who cannot sign in (second factor never
    confirmed) or does not hold the key the case is sealed to could not act on them."""
    org = make_org_key()
    make_entry("test-ngo")
    case = make_case(org)
    client = web.test_client()
    me = give_key(sign_in(client, Role.CASEWORKER), org)
    able = give_key(make_user(Role.CASEWORKER, email="able@example.org"), org)
    unconfirmed = give_key(make_user(Role.CASEWORKER, email="unconfirmed@example.org"), org)
    unconfirmed.totp_confirmed_at = None
    keyless = make_user(Role.CASEWORKER, email="keyless@example.org")
    other_key = give_key(make_user(Role.ADMIN, email="otherkey@example.org"), make_org_key())
    gone = give_key(make_user(Role.CASEWORKER, email="gone@example.org"), org)
    past = sent_referral(owner=gone, org=org)
    gone.is_active_account = False
    db.session.commit()
    form = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    owner_select = re.search(r'<select[^>]*name="owner_id".*?</select>', form, re.S)
    assert owner_select is not None
    offered = set(re.findall(r"[a-z0-9]+@example\.org", owner_select.group(0)))
    assert offered == {me.email, able.email}
    before = count_referrals()
    for person in (unconfirmed, keyless, other_key, gone):
        refused = client.post(
            f"/referrals/new?ref={case.ref}",
            data={"entry_id": "test-ngo", "kind": "ngo_referral", "owner_id": person.id},
        )
        assert refused.status_code == 422, person.email
    assert count_referrals() == before
    # The service says why, for any caller that gets past the form.
    with pytest.raises(referrals.ReferralError, match="cannot open this case yet"):
        referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, me, owner_id=keyless.id)
    # Filtering the list by a past owner stays possible.
    listing = client.get("/referrals/").get_data(as_text=True)
    owner_filter = re.search(r'<select id="filter-owner".*?</select>', listing, re.S)
    assert owner_filter is not None
    assert gone.email in owner_filter.group(0)
    filtered = client.get(f"/referrals/?view=all&owner={gone.id}")
    assert filtered.status_code == 200
    assert f'href="/referrals/{past.id}"' in filtered.get_data(as_text=True)


SENT_DAYS_AGO = 3  # sent_referral: the request was received a day before


@pytest.mark.parametrize(
    ("days_ago", "said"),
    [
        (-400, "The date cannot be in the future."),
        (SENT_DAYS_AGO + 0.5, "The date cannot be before the referral was sent."),
        # Before the request came in (a reviewer's "sent" a week before the case was received:
        # the referral was overdue at once, first in the queue, and the reports' medians moved).
        (SENT_DAYS_AGO + 1.5, "The date cannot be before the request was received ("),
        ("2001-01-01T00:00", "The date cannot be before the request was received ("),
        ("0001-01-01T00:00", "Check the date: it is long before this referral existed."),
    ],
)
def test_a_refused_date_is_said_beside_the_date_field(
    web: Flask, days_ago: float | str, said: str
) -> None:
    """A date after now, before the referral was sent or before its request was received was
    refused only in the flash, at the top of a long page, and the date field looked right."""
    referral = sent_referral(sent_at=utcnow() - timedelta(days=SENT_DAYS_AGO))
    at = (
        days_ago
        if isinstance(days_ago, str)
        else (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M")
    )
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.post(
        f"/referrals/{referral.id}/transition", data={"action": "reply", "at": at}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="field-error" id="at-error">{said}' in html
    assert re.search(r'<input[^>]*aria-describedby="at-error"[^>]*aria-invalid="true"', html) or (
        re.search(r'<input[^>]*aria-invalid="true"[^>]*aria-describedby="at-error"', html)
    )
    assert "What to mend is said beside the form." in html  # the flash points to it


def test_closing_without_an_outcome_is_said_beside_the_outcome(web: Flask) -> None:
    referral = sent_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    referrals.transition(referral.id, "reply", make_user(Role.CASEWORKER))
    response = client.post(f"/referrals/{referral.id}/transition", data={"action": "close"})
    assert response.status_code == 422
    assert 'id="outcome-error">Choose an outcome to close the referral.' in response.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("locale", "labels"),
    [
        ("en", ["On the day", "1 day before", "7 days before", "When 14 days overdue", "d?"]),
        ("zh_Hant", ["到期當天", "到期前 1 天", "到期前 7 天", "逾期 14 天時", "d?"]),
    ],
)
def test_a_reminder_is_named_by_its_slot_not_by_todays_lateness(
    web: Flask, locale: str, labels: list[str]
) -> None:
    """ "14 day(s) overdue — sent 6 Dec" read as how late a referral 20 days overdue was; the
    reminder is the one sent when it was 14 days overdue."""
    from intake.referrals.routes import reminder_label

    with web.test_request_context(f"/referrals/?lang={locale}"):
        keys = ["d0", "d1", "d7", "overdue-14", "d?"]
        assert [reminder_label(key) for key in keys] == labels


def test_a_running_referral_says_that_its_consent_was_withdrawn(web: Flask) -> None:
    """A reviewer withdrew the consent to share on a case with a referral already sent: the
    referral said nothing and still offered "Reply received", and a new referral said "No
    consent is recorded" rather than that it was withdrawn."""
    from intake.models import ConsentChannel, ConsentGiver, ConsentPurpose
    from intake.services import consent

    referral = sent_referral(kind=ReferralKind.NGO_REFERRAL)
    client = web.test_client()
    assert referral.owner is not None
    caseworker = sign_in(client, referral.owner)  # holds the key: may own another referral
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="consent-withdrawn"' not in page
    sharing = next(
        record
        for record in consent.records(referral.case)
        if record.purpose is ConsentPurpose.SHARE_WITH_ORGANISATION
    )
    consent.withdraw(
        referral.case_id,
        sharing.id,
        ConsentGiver.PERSON,
        ConsentChannel.CALL_NOTE,
        caseworker,
    )
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    notice = re.search(
        r'<p class="notice" role="note" id="consent-withdrawn"[^>]*>(.*?)</p>', page, re.S
    )
    assert notice is not None
    assert "Consent for this referral was withdrawn (" in notice.group(1)
    assert "Ask the organisation to stop using what it received" in notice.group(1)
    # Another referral of the same kind: refused, saying that consent was withdrawn.
    response = client.post(
        f"/referrals/new?ref={referral.case.ref}",
        data={"entry_id": "test-ngo", "kind": "ngo_referral", "owner_id": caseworker.id},
    )
    assert response.status_code == 422
    assert "Consent for this purpose was withdrawn" in response.get_data(as_text=True)
    # Once closed, the referral no longer asks for anything.
    referrals.transition(referral.id, "withdraw", caseworker)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="consent-withdrawn"' not in page


def test_a_referral_to_an_entry_retired_since_says_so(web: Flask) -> None:
    """A reviewer retired an organisation with open referrals: its referral pages showed
    nothing of it."""
    from intake.services import directory

    referral = sent_referral()
    client = web.test_client()
    admin = sign_in(client, Role.ADMIN)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "data-entry-retired" not in page
    directory.set_retired(referral.entry_id, True, actor=admin)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert '<span class="badge" data-entry-retired>Retired from the directory</span>' in page
    chinese = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    assert "已從資源名錄停用" in chinese


def test_a_filter_that_finds_nothing_in_this_view_offers_the_same_filters_in_all(
    web: Flask,
) -> None:
    """A case reference filtered under "Action needed" said "Nothing is due. Referrals not
    sent yet, deadlines within the next 7 days…", though the case had two running UN
    referrals that "All" showed (a review in Chromium)."""
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=utcnow() - timedelta(days=1))
    ref = referral.case.ref
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/?view=action&q={ref}").get_data(as_text=True)
    assert "Nothing is due" not in html
    assert "No referral matches these filters in this view." in html
    link = re.search(r'<a href="([^"]+)" data-same-filters>([^<]+)</a>', html)
    assert link is not None
    assert link.group(2) == "Same filters in “All”"
    found = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f'href="/referrals/{referral.id}"' in found
    # Unfiltered, an empty view still says what it is for.
    assert "Nothing is due" in client.get("/referrals/?view=action").get_data(as_text=True)
    zh = client.get(f"/referrals/?view=action&q={ref}&lang=zh_Hant").get_data(as_text=True)
    assert "在此檢視中沒有符合這些篩選條件的轉介。" in zh


def test_overdue_is_said_once_and_chinese_brackets_are_full_width(web: Flask) -> None:
    """The referral page said "(8 days 16 h overdue) Overdue"; the list's own count read
    "(你的：0 件逾期，0 件即將到期)" with ASCII brackets (a review in Chromium)."""
    referral = sent_referral(ReferralKind.NGO_REFERRAL, sent_at=utcnow() - timedelta(days=20))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    badge = re.search(r'<span class="badge badge-overdue" data-overdue>([^<]+)</span>', page)
    assert badge is not None
    assert "overdue" in badge.group(1)
    assert "overdue)" not in page  # not again in brackets beside it
    assert ">Overdue</span>" not in page
    zh = client.get("/referrals/?lang=zh_Hant").get_data(as_text=True)
    assert "（你的：0 件逾期，0 件即將到期）" in zh
    assert "(你的" not in zh


def test_sending_a_referral_says_that_the_case_moved(web: Flask) -> None:
    """Marking a referral as sent made its New case Referred (and its "first response due"
    went) without a word (a review in Chromium)."""
    org = make_org_key()
    make_entry("test-ngo")
    case = make_case(org)
    owner = give_key(make_user(Role.CASEWORKER, email="mover@example.org"), org)
    draft = referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, owner)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    sent = client.post(
        f"/referrals/{draft.id}/transition", data={"action": "send"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "The case is now “Referred”." in sent
    acknowledged = client.post(
        f"/referrals/{draft.id}/transition", data={"action": "acknowledge"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "The case is now" not in acknowledged  # it did not move this time


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (ReferralKind.NGO_REFERRAL, "its clock has started"),
        (ReferralKind.EMBASSY_CONTACT, "Its deadline does not count from sending"),
    ],
)
def test_sending_says_whether_the_clock_starts_now(
    web: Flask, kind: ReferralKind, said: str
) -> None:
    """An embassy contact's 24 hours run from the request: "its clock has started" on a
    referral already 110 days overdue read as if its deadline had moved (a review)."""
    org = make_org_key()
    make_entry("test-ngo")
    case = make_case(org)
    owner = give_key(make_user(Role.CASEWORKER, email="sender@example.org"), org)
    draft = referrals.create(case.id, "test-ngo", kind, owner)
    due_before = draft.due_at
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = client.post(
        f"/referrals/{draft.id}/transition", data={"action": "send"}, follow_redirects=True
    ).get_data(as_text=True)
    assert said in page
    db.session.expire_all()
    if kind is ReferralKind.EMBASSY_CONTACT:
        assert db.session.get_one(Referral, draft.id).due_at == due_before
