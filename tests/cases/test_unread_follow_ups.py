"""A defender's follow-up reaches a caseworker: the case is marked unread in the follow-up's
own transaction, the queue says "New message from the submitter" and lists it under "Action
needed", the assignee (else the first admin) gets one e-mail without a word of the message,
and opening the case page shows the new messages and clears the mark."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseMessage,
    CaseStatus,
    MessageKind,
    OutboxStatus,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    Urgency,
    User,
)
from intake.services import queue as queue_service
from intake.services import reminders, retention, submissions
from intake.services.triage import Routing
from tests.builders import OrgKeyPair, make_entry, make_org_key, make_user, sign_in
from tests.conftest import Untranslated, table_count
from tests.mailserver import MailServer
from tests.public.conftest import full_answers, send_sealed_follow_up

CANARY = "CANARY-moved-to-another-prison-7Q"
ROOMY = {"STATUS_RATE_LIMIT": "1000/hour", "FOLLOW_UP_RATE_LIMIT": "1000/hour"}
BADGE = "New message from the submitter"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mail_any_app(
    request: pytest.FixtureRequest, make_app: Any, smtp_server: MailServer
) -> Iterator[Flask]:
    app = make_app(request.param, DAILY_DIGEST=False, **ROOMY, **smtp_server.config())
    with app.app_context():
        yield app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def roomy_any_app(request: pytest.FixtureRequest, make_app: Any) -> Iterator[Flask]:
    app = make_app(request.param, **ROOMY)
    with app.app_context():
        yield app


def _filed(org: OrgKeyPair, **fields: Any) -> tuple[Case, str]:
    """A case filed through the public form's service, then moved along by ``fields``."""
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=("detention",), country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )
    case = submission.case
    for name, value in fields.items():
        setattr(case, name, value)
    db.session.commit()
    return case, submission.receipt_code


def _notices() -> list[ReminderOutbox]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(ReminderOutbox)
            .where(ReminderOutbox.kind == "follow_up")
            .order_by(ReminderOutbox.id)
        )
    )


def _unread_since(case_id: int) -> Any:
    db.session.rollback()
    return db.session.scalar(sa.select(Case.unread_follow_up_at).where(Case.id == case_id))


def _follow_up_messages(case_id: int) -> list[CaseMessage]:
    return list(
        db.session.scalars(
            sa.select(CaseMessage)
            .where(
                CaseMessage.case_id == case_id,
                CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP,
            )
            .order_by(CaseMessage.id)
        )
    )


def test_a_follow_up_marks_the_case_and_mails_its_assignee_a_notice_without_its_words(
    mail_any_app: Flask, smtp_server: MailServer
) -> None:
    org = make_org_key()
    assignee = make_user(Role.CASEWORKER, email="holder@example.org")
    make_user(Role.ADMIN, email="admin@example.org")
    case, code = _filed(org, status=CaseStatus.ASSESSING, assignee_id=assignee.id)
    assert _unread_since(case.id) is None

    response = send_sealed_follow_up(mail_any_app, org, code, f"He was moved today. {CANARY}", None)

    assert response.status_code == 201
    (message,) = _follow_up_messages(case.id)
    # Set in the transaction that stored the message, to the message's own time.
    assert _unread_since(case.id) == message.created_at
    (notice,) = _notices()
    assert (notice.recipient_id, notice.status, notice.offset_key) == (
        assignee.id,
        OutboxStatus.PENDING,
        case.ref,
    )
    assert notice.dedupe_key == f"follow_up:{case.id}:{message.id}"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.follow_up")
    ).one()
    assert event.detail["notice_id"] == notice.id

    # The send task mails it like a reminder: once, to the assignee, no word of the message.
    assert reminders.send(notice.id) == "sent"
    assert reminders.send(notice.id) == "skipped"
    (mail,) = smtp_server.wait_for(1)
    assert mail.recipients == [assignee.email]
    assert f"New message on case {case.ref}" in mail.text
    assert f"/cases/{case.ref}" in mail.body
    assert CANARY not in mail.text
    assert "moved" not in mail.text
    assert "detention" not in mail.text  # not even the routing fields
    assert "no case details" in mail.body


def test_a_repeated_post_with_the_same_token_doubles_nothing(roomy_any_app: Flask) -> None:
    org = make_org_key()
    make_user(Role.ADMIN)
    case, code = _filed(org, status=CaseStatus.ASSESSING)
    token = crypto.new_submission_token()

    first = send_sealed_follow_up(roomy_any_app, org, code, CANARY, token)
    marked = _unread_since(case.id)
    counts = (table_count("case_messages"), table_count("reminder_outbox"))
    again = send_sealed_follow_up(roomy_any_app, org, code, CANARY, token)

    assert (first.status_code, again.status_code) == (201, 201)
    assert marked is not None
    assert _unread_since(case.id) == marked
    assert (table_count("case_messages"), table_count("reminder_outbox")) == counts
    assert len(_notices()) == 1


def test_more_messages_before_anyone_looks_keep_the_first_time_and_one_notice(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    make_user(Role.ADMIN)
    case, code = _filed(org, status=CaseStatus.ASSESSING)
    for text in ("first", "second", "third"):
        assert send_sealed_follow_up(roomy_any_app, org, code, text, None).status_code == 201
    first, *_later = _follow_up_messages(case.id)
    assert _unread_since(case.id) == first.created_at
    assert len(_notices()) == 1


def test_with_nobody_assigned_or_the_holder_gone_the_first_admin_is_told(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    viewer = make_user(Role.VIEWER)
    admin = make_user(Role.ADMIN, email="first-admin@example.org")
    make_user(Role.ADMIN, email="second-admin@example.org")
    gone = make_user(Role.CASEWORKER, email="gone@example.org")
    gone.is_active_account = False
    db.session.commit()
    nobody, nobody_code = _filed(org, status=CaseStatus.ASSESSING)
    left, left_code = _filed(org, status=CaseStatus.ASSESSING, assignee_id=gone.id)
    viewed, viewed_code = _filed(org, status=CaseStatus.ASSESSING, assignee_id=viewer.id)
    for code in (nobody_code, left_code, viewed_code):
        assert send_sealed_follow_up(roomy_any_app, org, code, CANARY, None).status_code == 201
    notices = {notice.offset_key: notice.recipient_id for notice in _notices()}
    assert notices == {nobody.ref: admin.id, left.ref: admin.id, viewed.ref: admin.id}


def test_a_notice_whose_recipient_left_before_it_went_goes_to_the_first_admin(
    mail_any_app: Flask, smtp_server: MailServer
) -> None:
    org = make_org_key()
    holder = make_user(Role.CASEWORKER, email="holder@example.org")
    admin = make_user(Role.ADMIN, email="admin@example.org")
    _case, code = _filed(org, status=CaseStatus.ASSESSING, assignee_id=holder.id)
    assert send_sealed_follow_up(mail_any_app, org, code, CANARY, None).status_code == 201
    (notice,) = _notices()
    db.session.get(User, holder.id).is_active_account = False  # type: ignore[union-attr]
    db.session.commit()
    assert reminders.send(notice.id) == "sent"
    assert smtp_server.wait_for(1)[0].recipients == [admin.email]


# --- the queue and the case page --------------------------------------------------------------


def _queue_html(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _row(html: str, ref: str) -> str | None:
    found = re.search(rf'<tr class="case-row[^"]*" data-ref="{ref}">(.*?)</tr>', html, re.S)
    return found.group(1) if found else None


def _tab_count(html: str, view: str) -> int:
    tab = re.search(
        rf'href="/cases/\?view={view}[^"]*"[^>]*>\s*[^<]+<span class="badge">(\d+)</span>', html
    )
    assert tab is not None, view
    return int(tab.group(1))


def _refer(case: Case, due_in: timedelta) -> None:
    make_entry("ngo-x", name="NGO X")
    db.session.add(
        Referral(
            case_id=case.id,
            entry_id="ngo-x",
            kind=ReferralKind.NGO_REFERRAL,
            state=ReferralState.SENT,
            due_at=utcnow() + due_in,
        )
    )
    db.session.commit()


def test_the_queue_shows_the_message_under_action_needed_until_a_caseworker_opens_the_case(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    client = roomy_any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    # Referred, its referral's answer due in 40 days: "waiting on others", nothing for us.
    case, code = _filed(org, status=CaseStatus.REFERRED, assignee_id=me.id)
    _refer(case, timedelta(days=40))
    before = _queue_html(client)
    assert _row(before, case.ref) is None
    assert _row(_queue_html(client, "view=waiting"), case.ref) is not None
    counts_before = {view: _tab_count(before, view) for view in ("action", "waiting", "open")}

    assert send_sealed_follow_up(roomy_any_app, org, code, CANARY, None).status_code == 201

    after = _queue_html(client)  # the default tab: "Action needed"
    row = _row(after, case.ref)
    assert row is not None
    assert f'<span class="badge badge-follow-up">{BADGE}</span>' in row
    assert CANARY not in after
    assert {view: _tab_count(after, view) for view in ("action", "waiting", "open")} == {
        "action": counts_before["action"] + 1,
        "waiting": counts_before["waiting"] - 1,
        "open": counts_before["open"],
    }
    assert _row(_queue_html(client, "view=waiting"), case.ref) is None
    # Not a deadline: neither overdue nor due this week.
    assert _row(_queue_html(client, "view=overdue"), case.ref) is None
    assert _row(_queue_html(client, "view=week"), case.ref) is None
    mine = _row(_queue_html(client, "view=mine"), case.ref)
    assert mine is not None
    assert BADGE in mine

    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    (message,) = _follow_up_messages(case.id)
    assert 'data-new-follow-ups="1"' in page
    assert f'href="#message-{message.id}"' in page
    item = re.search(
        rf'<li class="([^"]*)"\s+data-kind="follow_up" id="message-{message.id}"', page
    )
    assert item is not None
    assert "message-unread" in item.group(1)
    assert CANARY not in page

    assert _unread_since(case.id) is None
    seen = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "case.view", AuditEvent.actor_id == me.id)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert seen is not None
    assert seen.detail == {"part": "page", "follow_up_seen": True}
    cleared = _queue_html(client)
    assert _row(cleared, case.ref) is None
    assert _tab_count(cleared, "action") == counts_before["action"]
    waiting_row = _row(_queue_html(client, "view=waiting"), case.ref)
    assert waiting_row is not None
    assert BADGE not in waiting_row
    # Opened again, nothing is new any more.
    again = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "data-new-follow-ups" not in again
    assert "message-unread" not in again


def _closed_unread_notice(html: str) -> str | None:
    found = re.search(r'<p class="notice closed-unread" role="status">(.*?)</p>', html, re.S)
    return " ".join(found.group(1).split()) if found else None


def test_a_message_on_a_closed_case_is_announced_above_every_list_until_someone_opens_it(
    roomy_any_app: Flask,
) -> None:
    """/status tells the submitter of a closed case "You can still send us a message"; the
    case stays closed (a person decides to reopen it), so "Action needed" (open cases) does
    not list it: a notice above every list says so and links to those cases."""
    org = make_org_key()
    client = roomy_any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    case, code = _filed(
        org, status=CaseStatus.CLOSED, closed_at=utcnow() - timedelta(days=3), assignee_id=me.id
    )
    quiet, _quiet_code = _filed(org, status=CaseStatus.CLOSED, closed_at=utcnow())
    assert _closed_unread_notice(_queue_html(client)) is None
    assert "No closed case has an unread message." in _queue_html(client, "view=closed_unread")

    assert send_sealed_follow_up(roomy_any_app, org, code, CANARY, None).status_code == 201

    for query in ("", "view=mine", "view=closed", "view=all&sort=ref"):
        html = _queue_html(client, query)
        notice = _closed_unread_notice(html)
        assert notice is not None, query
        assert "The submitter of 1 closed case wrote again." in notice
        assert 'href="/cases/?view=closed_unread' in notice
        assert CANARY not in html
    # Still closed, and not among the open cases that need action.
    assert db.session.get_one(Case, case.id).status == CaseStatus.CLOSED
    assert _row(_queue_html(client), case.ref) is None
    listed = _queue_html(client, "view=closed_unread")
    row = _row(listed, case.ref)
    assert row is not None
    assert BADGE in row
    assert _row(listed, quiet.ref) is None
    assert "Closed cases whose submitter wrote again." in (_closed_unread_notice(listed) or "")
    assert "Closed cases with an unread message" in listed  # the table's caption

    client.get(f"/cases/{case.ref}")  # a caseworker opens it: read
    assert _unread_since(case.id) is None
    assert _closed_unread_notice(_queue_html(client)) is None
    assert _row(_queue_html(client, "view=closed_unread"), case.ref) is None


def test_the_closed_cases_notice_is_in_the_readers_language(
    app: Flask, untranslated: Untranslated
) -> None:
    org = make_org_key()
    client = app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    me.language = "zh_Hans"
    db.session.commit()
    case, _code = _filed(org, status=CaseStatus.CLOSED, closed_at=utcnow())
    assert submissions.add_follow_up_from_plaintext(case, org_key=org.key, body=CANARY, files=[])
    untranslated.clear()
    notice = _closed_unread_notice(_queue_html(client, "lang=zh_Hans"))
    assert notice is not None
    assert "1 个已结案案件的提交者又发来了消息" in notice
    listed = _queue_html(client, "view=closed_unread&lang=zh_Hans")
    assert "有未读消息的已结案案件" in listed
    assert not untranslated.messages


def test_the_closed_unread_count_reads_its_own_index_on_postgresql(pg_app: Flask) -> None:
    statement = sa.select(Case.id).where(queue_service._view_conditions()["closed_unread"])
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))
    assert "ix_cases_closed_unread" in plan, plan


def test_a_viewer_opening_the_case_sees_the_new_message_and_leaves_it_unread(
    roomy_any_app: Flask,
) -> None:
    org = make_org_key()
    case, code = _filed(org, status=CaseStatus.ASSESSING)
    make_user(Role.ADMIN)
    assert send_sealed_follow_up(roomy_any_app, org, code, CANARY, None).status_code == 201
    marked = _unread_since(case.id)
    client = roomy_any_app.test_client()
    sign_in(client, Role.VIEWER)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert 'data-new-follow-ups="1"' in page
    assert _unread_since(case.id) == marked
    row = _row(_queue_html(client), case.ref)
    assert row is not None
    assert BADGE in row


@pytest.mark.parametrize(
    ("locale", "badge"),
    [("zh_Hant", "提交者傳來新訊息"), ("zh_Hans", "提交者发来新消息")],
)
def test_the_badge_the_case_page_and_the_notice_are_in_the_readers_language(
    app: Flask, untranslated: Untranslated, locale: str, badge: str
) -> None:
    org = make_org_key()
    client = app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    me.language = locale
    db.session.commit()
    case, _code = _filed(org, status=CaseStatus.ASSESSING, assignee_id=me.id)
    message = submissions.add_follow_up_from_plaintext(case, org_key=org.key, body=CANARY, files=[])
    assert message is not None
    row = _row(_queue_html(client, f"lang={locale}"), case.ref)
    assert row is not None
    assert badge in row
    untranslated.clear()
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert 'data-new-follow-ups="1"' in page
    assert not untranslated.messages
    (notice,) = _notices()
    subject, body = reminders.compose(notice, locale)
    assert not untranslated.messages
    assert case.ref in subject
    assert "New message" not in subject
    assert f"/cases/{case.ref}" in body
    assert CANARY not in body


def test_a_purged_case_takes_its_follow_up_notice_with_it(any_app: Flask) -> None:
    """The notice names its case by reference: it does not outlive the case."""
    any_app.config["RETENTION_DAYS"] = 365
    org = make_org_key()
    make_user(Role.ADMIN)
    old, _code = _filed(org, status=CaseStatus.ASSESSING)
    kept, _code = _filed(org, status=CaseStatus.ASSESSING)
    for case in (old, kept):
        submissions.add_follow_up_from_plaintext(case, org_key=org.key, body=CANARY, files=[])
    assert len(_notices()) == 2
    closing = db.session.get(Case, old.id)
    assert closing is not None
    closing.status, closing.closed_at = CaseStatus.CLOSED, utcnow() - timedelta(days=400)
    db.session.commit()

    assert retention.purge_closed_cases() == 1

    assert [notice.offset_key for notice in _notices()] == [kept.ref]
