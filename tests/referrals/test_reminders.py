"""The reminder outbox: each reminder written once, sent once, content-free, SMTP failures."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import Case, OutboxStatus, Referral, ReminderOutbox, Role
from intake.services import reminders
from tests.auth.helpers import sign_in_through_forms
from tests.builders import give_key, json_of, make_org_key, make_user, sign_in
from tests.mailserver import MailServer
from tests.referrals.conftest import CANARY, sent_referral

SENT = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # due 31 October 09:00 UTC
DUE = SENT + timedelta(days=60)


def collect() -> tuple[list[int], Callable[[int], None]]:
    queued: list[int] = []
    return queued, queued.append


def send_all(ids: list[int]) -> list[str]:
    return [reminders.send(outbox_id) for outbox_id in ids]


def item_count(status: OutboxStatus | None = None) -> int:
    """Reminder items (one per referral and offset), not the batches that carry them."""
    query = sa.select(sa.func.count()).where(ReminderOutbox.kind == "reminder")
    if status is not None:
        query = query.where(ReminderOutbox.status == status)
    return int(db.session.scalar(query) or 0)


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_server: MailServer) -> Iterator[Flask]:
    app = make_app("sqlite", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        yield app


def test_each_reminder_is_written_and_sent_once_across_repeated_scans(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    at_d7 = DUE - timedelta(days=7)
    for _ in range(3):
        reminders.scan(at_d7, enqueue=enqueue)
    assert item_count() == 1
    assert send_all(queued) == ["sent"]
    # Scanning again once it is sent queues nothing; sending again sends nothing.
    reminders.scan(at_d7 + timedelta(hours=1), enqueue=enqueue)
    assert send_all(queued) == ["skipped"]
    # Time travel to three days before: the next slot, once.
    later, enqueue_later = collect()
    reminders.scan(DUE - timedelta(days=3), enqueue=enqueue_later)
    reminders.scan(DUE - timedelta(days=3), enqueue=enqueue_later)
    send_all(later)
    messages = smtp_server.wait_for(2)
    assert len(messages) == 2
    keys = db.session.scalars(
        sa.select(ReminderOutbox.offset_key)
        .where(ReminderOutbox.kind == "reminder")
        .order_by(ReminderOutbox.id)
    )
    assert list(keys) == ["d7", "d3"]
    assert {m.recipients[0] for m in messages} == {referral.owner.email}


def test_reminders_carry_no_case_content_and_all_have_one_shape(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    first = sent_referral(sent_at=SENT)
    second = sent_referral(sent_at=SENT - timedelta(days=3), org=None)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    send_all(queued)
    messages = smtp_server.wait_for(2)
    assert len(messages) == 2
    for received in messages:
        assert CANARY not in received.text
        assert "detention" not in received.text  # not even routing fields
        body = received.body
        assert "no case details" in body
    shapes = [[line.split(":")[0] for line in m.body.splitlines()] for m in messages]
    assert shapes[0] == shapes[1]
    # Each e-mail names its own case reference, and only that one.
    refs = sorted(
        tuple(ref for ref in (first.case.ref, second.case.ref) if ref in m.text) for m in messages
    )
    assert refs == sorted([(first.case.ref,), (second.case.ref,)])


def test_daily_digest_counts_per_caseworker_once_a_day(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    mail_app.config["DAILY_DIGEST"] = True
    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    morning = DUE + timedelta(days=1, hours=-1)  # overdue by 23 h, 08:00 UTC
    reminders.scan(morning, enqueue=enqueue)
    reminders.scan(morning + timedelta(hours=2), enqueue=enqueue)
    digests = db.session.scalars(
        sa.select(ReminderOutbox).where(ReminderOutbox.kind == "digest")
    ).all()
    assert len(digests) == 1
    assert digests[0].recipient_id == referral.owner_id
    assert digests[0].counts == {"overdue": 1, "due_within_7_days": 0, "awaiting": 1}
    send_all(queued)
    subjects = sorted(m.message["Subject"] for m in smtp_server.wait_for(2))
    assert subjects[0].startswith("Refuge daily digest")


def test_smtp_down_is_transient_then_delivered_once_it_is_back(
    make_app: Callable[..., Flask],
) -> None:
    server = MailServer()  # port reserved, nothing listening yet
    app = make_app("sqlite", DAILY_DIGEST=False, **server.config())
    with app.app_context():
        sent_referral(sent_at=SENT)
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        with pytest.raises(reminders.TransientMailError):
            reminders.send(queued[0])
        row = db.session.get_one(ReminderOutbox, queued[0])
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        server.start()
        try:
            assert reminders.send(queued[0]) == "sent"
            assert reminders.send(queued[0]) == "skipped"
            assert len(server.wait_for(1)) == 1
        finally:
            server.stop()


def test_temporary_smtp_refusal_is_retried_and_permanent_refusal_marks_the_row(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    smtp_server.handler.temporary_failures = 1
    with pytest.raises(reminders.TransientMailError):
        reminders.send(queued[0])
    assert reminders.send(queued[0]) == "sent"

    user = make_user(Role.CASEWORKER, email="refused@example.org")
    sent_referral(sent_at=SENT, owner=user, org=make_org_key())

    async def refuse(server: object, session: object, envelope: object) -> str:
        return "550 5.1.1 No such user"

    monkeypatch.setattr(smtp_server.handler, "handle_DATA", refuse)
    more, enqueue_more = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue_more)
    assert send_all(more) == ["failed"]
    row = db.session.get_one(ReminderOutbox, more[0])
    assert row.status == OutboxStatus.FAILED
    assert row.last_error


def test_a_claim_left_by_a_dead_worker_expires_and_is_queued_again(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    row = db.session.get_one(ReminderOutbox, queued[0])
    row.status, row.claimed_at = OutboxStatus.SENDING, now  # as if a worker died mid-send
    db.session.commit()
    again, enqueue_again = collect()
    summary = reminders.scan(now + timedelta(minutes=1), enqueue=enqueue_again)
    assert (summary.claims_recovered, again) == (0, [])  # still within the claim timeout
    summary = reminders.scan(now + timedelta(minutes=15), enqueue=enqueue_again)
    assert summary.claims_recovered == 1
    assert again == [row.id]
    assert send_all(again) == ["sent"]
    assert len(smtp_server.wait_for(1)) == 1


def test_taking_over_a_dead_workers_second_claim_fails_the_row_even_if_a_stale_copy_is_loaded(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    """The claim reads the rows it claims: a copy of the row already in the session (loaded
    before another worker's attempts) must not hide that this would be a third copy."""
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    stale = db.session.get_one(ReminderOutbox, queued[0])
    assert stale.unacknowledged == 0
    with db.engine.begin() as connection:  # behind the session's back: one unacknowledged
        connection.execute(  # attempt, then a worker that died mid-send long ago
            sa.update(ReminderOutbox.__table__)
            .where(ReminderOutbox.__table__.c.id == stale.id)
            .values(unacknowledged=1, status="sending", claimed_at=now - timedelta(hours=1))
        )
    assert reminders.send(queued[0], now) == "failed"
    db.session.refresh(stale)
    assert (stale.status, stale.unacknowledged) == (OutboxStatus.FAILED, 2)
    assert smtp_server.wait_for(1, timeout=1) == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_worker_that_dies_or_fails_before_sending_leaves_its_rows_pending_not_suspect(
    make_app: Callable[..., Flask],
    smtp_server: MailServer,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between its claim and its first e-mail a send task has sent nothing: a worker killed
    there, or composing that fails, must leave the rows as they were (pending, no attempt
    counted). An expired claim counts as an attempt that may have been delivered, and two of
    them fail a row that was never mailed."""
    app = make_app(backend, DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        sent_referral(sent_at=SENT)
        queued, enqueue = collect()
        now = DUE - timedelta(days=7)
        reminders.scan(now, enqueue=enqueue)

        def as_stored() -> tuple[OutboxStatus, int]:
            row = db.session.get_one(ReminderOutbox, queued[0], populate_existing=True)
            return row.status, row.unacknowledged

        for _ in range(2):  # killed right after claiming, twice
            claimed = reminders._claim_and_read(queued, now)  # noqa: SLF001 — the task's step
            assert [row.id for row in claimed.rows] == queued
            db.session.remove()  # the process dies: its connection and transaction go
            assert as_stored() == (OutboxStatus.PENDING, 0)

        # Composing fails (after the claim, before any e-mail): the claim goes with it.
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("composing failed")

        monkeypatch.setattr(reminders, "_compose", broken)
        with pytest.raises(RuntimeError):
            reminders.send_many(queued, now)
        db.session.remove()
        assert as_stored() == (OutboxStatus.PENDING, 0)
        monkeypatch.undo()
        assert reminders.send_many(queued, now) == {queued[0]: "sent"}
        assert len(smtp_server.wait_for(1)) == 1


def test_closed_referrals_get_no_more_reminders(mail_app: Flask, smtp_server: MailServer) -> None:
    from intake.services import referrals

    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    referrals.transition(referral.id, "withdraw", referral.owner)
    assert send_all(queued) == ["cancelled"]
    assert smtp_server.messages == []


@pytest.mark.postgres
def test_two_scans_at_once_send_nothing_twice_on_postgres(
    make_app: Callable[..., Flask], smtp_server: MailServer
) -> None:
    app = make_app("postgres", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        org = make_org_key()
        owner = make_user()
        for _ in range(20):
            sent_referral(sent_at=SENT, owner=owner, org=org)
    queued: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scan_in_thread() -> None:
        try:
            with app.app_context():
                barrier.wait()

                def enqueue(outbox_id: int) -> None:
                    with lock:
                        queued.append(outbox_id)

                reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=scan_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        assert item_count() == 20
        batches = set(queued)
        # One scan gathered every item, or each gathered some: never one item twice.
        assert 1 <= len(batches) <= 2
        # Even if both scans had queued a batch, sending it twice mails it once.
        results = send_all(queued + queued)
        assert results.count("sent") == len(batches)
        assert item_count(OutboxStatus.SENT) == 20
        refs = list(db.session.scalars(sa.select(Case.ref)))
    messages = smtp_server.wait_for(len(batches))
    assert len(messages) == len(batches)
    assert sorted(ref for m in messages for ref in refs if ref in m.body) == sorted(refs)


@pytest.mark.postgres
def test_a_worker_readied_to_send_changes_no_row_and_then_sends_each_email_once(
    make_app: Callable[..., Flask], smtp_server: MailServer
) -> None:
    app = make_app("postgres", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        sent_referral(sent_at=SENT)
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        db.session.commit()
        every_row = sa.select(ReminderOutbox.__table__).order_by(ReminderOutbox.id)
        before = db.session.execute(every_row).all()
        reminders.warm_up()  # what each Celery pool process does before its first task
        db.session.rollback()
        assert db.session.execute(every_row).all() == before
        assert send_all(queued) == ["sent"]
        assert len(smtp_server.wait_for(1)) == 1
        assert item_count(OutboxStatus.SENT) == 1


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_one_send_task_settles_and_mails_its_batches_alike_on_sqlite_and_postgres(
    make_app: Callable[..., Flask], smtp_server: MailServer, backend: str
) -> None:
    """What a send task reads with its claim (one statement on PostgreSQL, several elsewhere):
    each batch's recipient or their stand-in, its still-awaited items with their case
    references, and the organisation's time zone for the deadlines."""
    from intake.services import referrals, settings

    app = make_app(backend, DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        org = make_org_key()
        admin = make_user(Role.ADMIN, email="admin@example.org")
        settings.set_timezone("Asia/Taipei", admin)
        kept = make_user(Role.CASEWORKER, email="kept@example.org")
        leaving = make_user(Role.CASEWORKER, email="leaving@example.org")
        assignee = make_user(Role.CASEWORKER, email="assignee@example.org")
        awaited = sent_referral(sent_at=SENT, owner=kept, org=org)
        withdrawn = sent_referral(sent_at=SENT, owner=kept, org=org)
        handed = sent_referral(sent_at=SENT, owner=leaving, org=org)
        handed.case.assignee_id = assignee.id
        db.session.commit()
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        assert len(queued) == 2  # one batch per recipient
        referrals.transition(withdrawn.id, "withdraw", kept)
        leaving.is_active_account = False
        db.session.commit()
        ref = {referral.id: referral.case.ref for referral in (awaited, withdrawn, handed)}
        awaited_id, withdrawn_id, handed_id = awaited.id, withdrawn.id, handed.id
        db.session.remove()  # a task starts between transactions

        assert reminders.send_many(queued) == dict.fromkeys(queued, "sent")
        bodies = {m.recipients[0]: m.body for m in smtp_server.wait_for(2)}
        assert sorted(bodies) == ["assignee@example.org", "kept@example.org"]
        assert ref[awaited_id] in bodies["kept@example.org"]
        assert ref[withdrawn_id] not in bodies["kept@example.org"]
        assert ref[handed_id] in bodies["assignee@example.org"]
        assert all("Referrals that need you: 1" in body for body in bodies.values())
        assert all("(Taipei, UTC+8)" in body for body in bodies.values())
        statuses = dict(
            db.session.execute(
                sa.select(ReminderOutbox.referral_id, ReminderOutbox.status).where(
                    ReminderOutbox.kind == "reminder"
                )
            ).all()
        )
        assert statuses == {
            awaited_id: OutboxStatus.SENT,
            withdrawn_id: OutboxStatus.CANCELLED,
            handed_id: OutboxStatus.SENT,
        }
        # Sending again changes nothing: every row is marked.
        assert reminders.send_many(queued) == {}
    assert len(smtp_server.messages) == 2


@pytest.mark.parametrize("count", [0, 1, 24, 25, 60, 199, 200, 1000, 5000])
def test_a_scan_shares_its_rows_out_large_tasks_first_and_small_ones_last(count: int) -> None:
    sizes = reminders.task_sizes(count, 200)
    assert sum(sizes) == count
    assert all(1 <= size <= 200 for size in sizes)
    assert all(size >= 25 for size in sizes) or sizes == [count]
    if count >= 600:
        assert sizes[0] == 200
        assert max(sizes[-3:]) <= 50  # the last tasks are small enough to share out
    assert reminders.task_sizes(7, 1) == [1] * 7  # one row per task stays one row per task


def test_a_scan_queues_every_row_once_in_tasks_of_those_sizes(
    mail_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org_key()
    for number in range(12):
        owner = make_user(Role.CASEWORKER, email=f"cw{number}@example.org")
        sent_referral(sent_at=SENT, owner=owner, org=org)
    mail_app.config["REMINDER_SEND_BATCH"] = 4
    tasks: list[list[int]] = []
    monkeypatch.setattr(reminders, "enqueue_send_many", tasks.append)
    assert reminders.scan(DUE - timedelta(days=7)).queued == 12
    assert [len(task) for task in tasks] == reminders.task_sizes(12, 4)
    batches = db.session.scalars(
        sa.select(ReminderOutbox.id)
        .where(ReminderOutbox.kind == "batch")
        .order_by(ReminderOutbox.id)
    )
    assert [row for task in tasks for row in task] == list(batches)


def test_deadlines_scan_cli_prints_a_json_summary(app: Flask) -> None:
    import json

    app.config["DAILY_DIGEST"] = False
    sent_referral(sent_at=datetime.now(UTC) - timedelta(days=55))
    result = app.test_cli_runner().invoke(args=["deadlines", "scan"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["reminders_written"] == 1
    assert summary["queued"] == 1


def test_a_deactivated_owner_hands_reminders_to_the_case_assignee_then_an_admin(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    owner = make_user(Role.CASEWORKER, email="left@example.org")
    assignee = make_user(Role.CASEWORKER, email="assignee@example.org")
    admin = make_user(Role.ADMIN, email="admin@example.org")
    referral = sent_referral(sent_at=SENT, owner=owner)
    referral.case.assignee_id = assignee.id
    owner.is_active_account = False
    db.session.commit()
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    assert db.session.get_one(ReminderOutbox, queued[0]).recipient_id == assignee.id
    # The assignee leaves too after the scan: the send itself finds the stand-in.
    assignee.is_active_account = False
    db.session.commit()
    assert send_all(queued) == ["sent"]
    assert smtp_server.wait_for(1)[0].recipients == [admin.email]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_what_nobody_holds_goes_to_an_admin_who_can_open_cases(
    make_app: Callable[..., Flask], smtp_server: MailServer, database: str
) -> None:
    """The first admin made /setup and never took a key; a second admin holds it: the
    reminder of a referral nobody active holds goes to the one who can open the case (both
    scans: the Python one on SQLite, the SQL one on PostgreSQL). With no admin able to act,
    the first admin is still told."""
    app = make_app(database, DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        keyless = make_user(Role.ADMIN, email="first@example.org")
        owner = make_user(Role.CASEWORKER, email="left@example.org")
        org = make_org_key()
        sent_referral(sent_at=SENT, owner=owner, org=org)
        holder = make_user(Role.ADMIN, email="holder@example.org")
        assert keyless.id < holder.id
        owner.is_active_account = False
        db.session.commit()
        assert reminders.first_admin() == keyless  # nobody else can open cases yet
        give_key(holder, org)
        assert reminders.first_admin() == holder
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        recipients = {row.recipient_id for row in db.session.scalars(sa.select(ReminderOutbox))}
        assert recipients == {holder.id}
        assert send_all(queued) == ["sent"]
        assert smtp_server.wait_for(1)[0].recipients == [holder.email]


def test_a_refused_sender_address_is_retried_not_dropped(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)

    async def refuse_sender(
        server: object, session: object, envelope: object, address: str, options: list[str]
    ) -> str:
        return "553 5.1.8 Sender address rejected"

    # aiosmtpd calls a handler's handle_MAIL only when it has one: RecordingHandler has none.
    monkeypatch.setattr(smtp_server.handler, "handle_MAIL", refuse_sender, raising=False)
    with pytest.raises(reminders.TransientMailError):
        reminders.send(queued[0])
    row = db.session.get_one(ReminderOutbox, queued[0])
    assert row.status == OutboxStatus.PENDING
    assert row.last_error == "SMTPSenderRefused"
    monkeypatch.delattr(smtp_server.handler, "handle_MAIL")  # the admin fixes the configuration
    assert reminders.send(queued[0]) == "sent"


def test_reminders_reach_each_caseworker_in_the_language_they_chose(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    owner = make_user(Role.CASEWORKER, email="taipei@example.org")
    client = mail_app.test_client()
    sign_in(client, owner)
    assert client.get("/cases/?lang=zh_Hant").status_code == 200  # chosen once, kept
    db.session.refresh(owner)
    assert owner.language == "zh_Hant"
    sent_referral(sent_at=SENT, owner=owner)
    english_owner = make_user(Role.CASEWORKER, email="london@example.org")
    sent_referral(sent_at=SENT, owner=english_owner, org=make_org_key())
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    for outbox_id in queued:
        reminders.send(outbox_id, now=now)
    by_recipient = {m.recipients[0]: m for m in smtp_server.wait_for(2)}
    chinese = by_recipient[owner.email]
    body = chinese.body
    assert "此郵件不含任何案件內容" in body
    assert "7 天後" in body
    assert "Refuge 提醒" in str(make_header(decode_header(chinese.message["Subject"])))
    english = by_recipient[english_owner.email].body
    assert "— in 7 days" in english
    assert CANARY not in body + english


def test_reminders_reach_a_caseworker_who_never_chose_in_the_language_of_their_pages(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    """Pages in Chinese from the browser's language, no language link ever clicked: the
    reminders came in English."""
    owner = make_user(Role.CASEWORKER, email="taichung@example.org")
    client = mail_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-TW,zh;q=0.9,en;q=0.5"
    assert sign_in_through_forms(client, owner).status_code == 302
    assert '<html lang="zh-Hant"' in client.get("/cases/").text
    db.session.refresh(owner)
    assert owner.language == "zh_Hant"
    sent_referral(sent_at=SENT, owner=owner)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    for outbox_id in queued:
        reminders.send(outbox_id, now=now)
    (message,) = smtp_server.wait_for(1)
    assert "7 天後" in message.body


def test_a_reminder_sent_late_says_the_real_time_left_not_its_slot(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    """The scan wrote the "7 days before" reminder, then nothing was sent for a fortnight (a
    worker down): the e-mail counts from when it goes, as the staff pages do. It said "Due in 7
    day(s)" of a referral a week overdue."""
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    late = DUE + timedelta(days=6, hours=21, minutes=10)
    for outbox_id in queued:
        reminders.send(outbox_id, now=late)
    (message,) = smtp_server.wait_for(1)
    assert "6 days 21 h overdue" in message.body
    assert "Due in" not in message.body
    subject = str(make_header(decode_header(message.message["Subject"])))
    assert subject == "Refuge reminders: 1 overdue referral"


def test_a_reminder_of_a_deadline_hours_away_says_hours(mail_app: Flask) -> None:
    """A 48-hour letter's "1 day before" reminder read "Due in 1 day(s)" with 8 hours left."""
    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=1), enqueue=enqueue)
    row = db.session.get_one(ReminderOutbox, queued[0])
    subject, body = reminders.compose(row, now=DUE - timedelta(hours=7, minutes=59))
    assert "— in 7 h 59 min" in body
    assert f"referral {referral.id}" in body
    assert subject.startswith("Refuge reminders: 1 referral, first due 2026-10-31")


# --- refusals that are configuration faults, servers that never acknowledge ----------------------


def test_policy_refusal_at_data_is_retried_then_delivered_once(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    smtp_server.handler.refusal = "550 5.7.1 Relaying denied"
    smtp_server.handler.refusals_left = 2  # the relay is mis-configured for a while
    for minutes in (0, 5):
        with pytest.raises(reminders.TransientMailError):
            reminders.send(queued[0], now=now + timedelta(minutes=minutes))
        row = db.session.get_one(ReminderOutbox, queued[0])
        db.session.refresh(row)
        assert row.status == OutboxStatus.PENDING
        assert row.failing_since == now  # counted from the first refusal
    assert reminders.send(queued[0], now=now + timedelta(minutes=30)) == "sent"
    assert len(smtp_server.wait_for(1)) == 1
    assert reminders.send(queued[0]) == "skipped"
    assert len(smtp_server.messages) == 1


def test_a_refusal_that_never_ends_fails_the_row_only_when_the_retry_window_is_over(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    assert mail_app.config["REMINDER_RETRY_HOURS"] == 24
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    smtp_server.handler.refusals_left = -1
    for hours in (0, 1, 23):
        with pytest.raises(reminders.TransientMailError):
            reminders.send(queued[0], now=now + timedelta(hours=hours))
    assert reminders.send(queued[0], now=now + timedelta(hours=24, minutes=1)) == "failed"
    row = db.session.get_one(ReminderOutbox, queued[0])
    db.session.refresh(row)
    assert row.status == OutboxStatus.FAILED
    assert "retry window over" in (row.last_error or "")
    # A failed row is not queued again by the scan; it waits for an admin.
    again, enqueue_again = collect()
    reminders.scan(now + timedelta(hours=25), enqueue=enqueue_again)
    assert again == []
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "reply",
    [
        "535 5.7.8 Authentication credentials invalid",
        "554 5.7.1 Sender not authorised",
        "421 4.7.0 Try later",
    ],
)
def test_configuration_and_temporary_refusals_are_retried(
    mail_app: Flask, smtp_server: MailServer, reply: str
) -> None:
    sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    smtp_server.handler.refusal = reply
    smtp_server.handler.refusals_left = 1
    with pytest.raises(reminders.TransientMailError):
        reminders.send(queued[0])
    assert reminders.send(queued[0]) == "sent"


def test_a_server_that_never_acknowledges_gets_at_most_one_duplicate(
    make_app: Callable[..., Flask], smtp_server: MailServer
) -> None:
    config = {**smtp_server.config(), "MAIL_TIMEOUT": 1}
    app = make_app("sqlite", DAILY_DIGEST=False, **config)
    smtp_server.handler.silence_seconds = 2.5  # longer than MAIL_TIMEOUT
    smtp_server.handler.silences_left = -1
    with app.app_context():
        sent_referral(sent_at=SENT)
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        with pytest.raises(reminders.TransientMailError):
            reminders.send(queued[0])  # copy 1 reached the server, no "250"
        assert reminders.send(queued[0]) == "failed"  # copy 2, no "250" either: stop
        for _ in range(3):
            assert reminders.send(queued[0]) in {"skipped", "failed"}
        row = db.session.get_one(ReminderOutbox, queued[0])
        db.session.refresh(row)
        assert (row.status, row.unacknowledged) == (OutboxStatus.FAILED, 2)
        assert "NoAcknowledgement" in (row.last_error or "")
    messages = smtp_server.wait_for(3, timeout=4)
    assert len(messages) == 2
    assert len({message.message["Message-ID"] for message in messages}) == 1


def test_one_missing_acknowledgement_then_delivery_marks_the_row_sent(
    make_app: Callable[..., Flask], smtp_server: MailServer
) -> None:
    app = make_app("sqlite", DAILY_DIGEST=False, **{**smtp_server.config(), "MAIL_TIMEOUT": 1})
    smtp_server.handler.silence_seconds = 2.5
    smtp_server.handler.silences_left = 1
    with app.app_context():
        sent_referral(sent_at=SENT)
        queued, enqueue = collect()
        reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
        with pytest.raises(reminders.TransientMailError):
            reminders.send(queued[0])
        assert reminders.send(queued[0]) == "sent"
    messages = smtp_server.wait_for(2)
    assert len(messages) == 2  # the one duplicate at-least-once allows, same Message-ID
    assert messages[0].message["Message-ID"] == messages[1].message["Message-ID"]


def test_a_failed_reminder_shows_everywhere_until_an_admin_sends_it_again(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    from intake.models import AuditEvent
    from tests.auth.helpers import csrf_token

    admin = make_user(Role.ADMIN, email="admin@example.org")
    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    smtp_server.handler.refusals_left = -1  # 550 5.7.1: the relay does not know us
    with pytest.raises(reminders.TransientMailError):
        reminders.send(queued[0], now=now)
    assert reminders.send(queued[0], now=now + timedelta(hours=25)) == "failed"

    assert json_of(mail_app.test_client().get("/healthz"))["outbox"]["failed"] == 1
    caseworker = mail_app.test_client()
    sign_in(caseworker, referral.owner)
    listing = caseworker.get("/referrals/?view=awaiting").get_data(as_text=True)
    assert "reminder could not be e-mailed" in listing
    assert 'data-failed-reminders="1"' in listing
    chinese = caseworker.get("/referrals/?view=awaiting&lang=zh_Hant").get_data(as_text=True)
    assert "提醒無法以電子郵件寄出" in chinese
    detail = caseworker.get(f"/referrals/{referral.id}").get_data(as_text=True)
    # The referral page names the reminder (the item), not the e-mail that carried it.
    item_id = db.session.scalar(
        sa.select(ReminderOutbox.id).where(ReminderOutbox.batch_id == queued[0])
    )
    assert f'data-reminder-failed="{item_id}"' in detail
    assert "/admin/reminders/resend" not in detail  # only admins send again
    assert caseworker.post("/admin/reminders/resend").status_code in {400, 403}

    # The admin's daily digest counts it (a count, nothing else).
    mail_app.config["DAILY_DIGEST"] = True
    reminders.scan(now.replace(hour=8) + timedelta(days=1), enqueue=lambda _id: None)
    digest = db.session.scalar(
        sa.select(ReminderOutbox).where(
            ReminderOutbox.kind == "digest", ReminderOutbox.recipient_id == admin.id
        )
    )
    assert digest is not None
    assert digest.counts["reminders_failed"] == 1
    mail_app.config["DAILY_DIGEST"] = False

    client = mail_app.test_client()
    sign_in(client, admin)
    assert 'data-failed-reminders="1"' in client.get("/admin/").get_data(as_text=True)
    assert 'data-process="worker"' in client.get("/admin/").get_data(as_text=True)
    # Each process led by the language's colon (it was an ASCII one after 工作程序（寄送電子郵件）).
    chinese = client.get("/admin/?lang=zh_Hant").get_data(as_text=True)
    assert re.search(r'data-process="worker"[^>]*>工作程序（寄送電子郵件）：\S', chinese), chinese
    client.get("/admin/?lang=en")  # the account's language, back for the rest
    # The failed e-mail is a batch: listed as the reminder e-mail it is, with its referral
    # (it was listed as a "Daily digest").
    listed = client.get("/admin/reminders").get_data(as_text=True)
    assert "Reminder e-mail of" in listed
    assert f'href="/referrals/{referral.id}"' in listed
    assert "Daily digest" not in listed
    assert client.post("/admin/reminders/resend", data={}).status_code == 400  # no CSRF token
    token = csrf_token(client, "/admin/reminders")
    smtp_server.handler.refusals_left = 0  # the admin fixed the mail settings
    response = client.post(
        "/admin/reminders/resend", data={"csrf_token": token, "outbox_id": str(item_id)}
    )
    assert response.status_code == 303
    row = db.session.get_one(ReminderOutbox, queued[0])
    db.session.refresh(row)
    assert (row.status, row.failing_since) == (OutboxStatus.PENDING, None)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "outbox.resend"))
    assert event is not None
    assert event.actor_id == admin.id
    assert reminders.send(queued[0]) == "sent"
    assert len(smtp_server.wait_for(1)) == 1
    assert json_of(mail_app.test_client().get("/healthz"))["outbox"]["failed"] == 0


def test_one_scan_mails_each_recipient_once_listing_every_due_item(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    """30 referrals of three caseworkers, some overdue, some due within days: one e-mail each,
    naming each of their references once, in the organisation's time zone, no case content."""
    org = make_org_key()
    owners = [make_user(Role.CASEWORKER, email=f"cw{n}@example.org") for n in range(3)]
    now = DUE - timedelta(days=7)
    for number in range(30):
        # Deadlines from 20 days ago to 7 days ahead: overdue, due today, due in 1 … 7 days.
        sent_referral(sent_at=SENT - timedelta(days=number), owner=owners[number % 3], org=org)
    queued, enqueue = collect()
    summary = reminders.scan(now, enqueue=enqueue)
    assert summary.reminders_written == 30
    assert (summary.batches_written, len(queued)) == (3, 3)
    for _ in range(3):  # repeated scans add nothing
        reminders.scan(now + timedelta(minutes=5), enqueue=enqueue)
    assert len(set(queued)) == 3  # the scans only ever queue the three batches
    results = send_all(queued)
    assert results.count("sent") == 3
    assert set(results) <= {"sent", "skipped"}
    messages = smtp_server.wait_for(3)
    assert len(messages) == 3
    assert sorted(m.recipients[0] for m in messages) == sorted(o.email for o in owners)
    assert item_count(OutboxStatus.SENT) == 30
    for owner in owners:
        (message,) = [m for m in messages if m.recipients == [owner.email]]
        assert CANARY not in message.text
        refs = list(
            db.session.scalars(
                sa.select(Case.ref).join(Referral).where(Referral.owner_id == owner.id)
            )
        )
        assert all(message.body.count(ref) == 1 for ref in refs)
        assert "Referrals that need you: 10" in message.body
        assert "UTC" in message.body  # no deadline without its zone and offset
    # Each item's shape is the same four lines, overdue or not.
    body = messages[0].body
    assert body.count("Reference: case ") == body.count("Deadline: ") == 10
    later, enqueue_later = collect()
    reminders.scan(now + timedelta(hours=6), enqueue=enqueue_later)
    assert later == []


def test_overdue_referrals_are_reminded_weekly_unless_the_caseworker_asks_for_daily(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    weekly = sent_referral(sent_at=SENT)
    daily_owner = make_user(Role.CASEWORKER, email="daily@example.org")
    daily_owner.overdue_reminders_daily = True
    db.session.commit()
    daily = sent_referral(sent_at=SENT, owner=daily_owner)
    queued, enqueue = collect()
    for day in range(1, 16):
        reminders.scan(DUE + timedelta(days=day, minutes=1), enqueue=enqueue)

    def keys(referral_id: int) -> list[str]:
        return list(
            db.session.scalars(
                sa.select(ReminderOutbox.offset_key)
                .where(ReminderOutbox.referral_id == referral_id)
                .order_by(ReminderOutbox.id)
            )
        )

    # "On the day" was still the newest reminder during the first overdue week.
    assert keys(weekly.id) == ["d0", "overdue-7", "overdue-14"]
    assert keys(daily.id) == [f"overdue-{n}" for n in range(1, 16)]


def test_a_caseworker_asks_for_daily_overdue_reminders_on_the_account_page(
    mail_app: Flask,
) -> None:
    from intake.models import AuditEvent
    from tests.auth.helpers import csrf_token

    owner = make_user(Role.CASEWORKER, email="daily-choice@example.org")
    client = mail_app.test_client()
    sign_in(client, owner)
    page = client.get("/auth/account").get_data(as_text=True)
    weekly = re.search(r'<input[^>]*value="weekly"[^>]*>', page)
    assert weekly is not None
    assert "checked" in weekly.group(0)  # weekly unless asked
    token = csrf_token(client, "/auth/account")
    response = client.post("/auth/reminders", data={"csrf_token": token, "frequency": "daily"})
    assert response.status_code == 302
    db.session.refresh(owner)
    assert owner.overdue_reminders_daily is True
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "user.reminder_preference")
    )
    assert event is not None
    assert event.actor_id == owner.id
    assert client.post("/auth/reminders", data={"frequency": "weekly"}).status_code == 400
    db.session.refresh(owner)
    assert owner.overdue_reminders_daily is True  # no CSRF token: nothing changed


def test_a_slow_mail_server_hands_untried_rows_to_a_new_task_before_their_claim_expires(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the claim timeout into a send task, the rows it has not tried go back to the outbox
    and into a new task: no claim expires while a worker still holds it (a scan would hand it
    to another worker, a duplicate), and each e-mail still goes exactly once."""
    org = make_org_key()
    owners = [make_user(Role.CASEWORKER, email=f"cw{n}@example.org") for n in range(3)]
    for owner in owners:
        sent_referral(sent_at=SENT, owner=owner, org=org)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    assert len(queued) == 3
    clock = iter([0.0])  # the task starts at 0; by its second e-mail, ages have passed
    monkeypatch.setattr(reminders, "monotonic", lambda: next(clock, 10_000.0))
    handed: list[list[int]] = []
    monkeypatch.setattr(reminders, "enqueue_send_many", handed.append)

    first = reminders.send_many(queued)

    assert first == {min(queued): "sent"}
    assert handed == [sorted(queued)[1:]]
    rows = db.session.scalars(sa.select(ReminderOutbox).where(ReminderOutbox.id.in_(handed[0])))
    assert {(row.status, row.claimed_at, row.attempts) for row in rows} == {
        (OutboxStatus.PENDING, None, 0)
    }
    assert reminders.send_many(handed[0]) == dict.fromkeys(handed[0], "sent")
    messages = smtp_server.wait_for(3)
    assert sorted(m.recipients[0] for m in messages) == sorted(o.email for o in owners)
    assert item_count(OutboxStatus.SENT) == 3


def test_a_worker_keeps_its_smtp_session_between_tasks_and_reconnects_when_it_was_dropped(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: a worker process sends task after task over one SMTP session, as a bare
    sender does; a session the server dropped (a restart) is replaced, nothing is lost."""
    from intake.services import delivery

    monkeypatch.setattr(delivery._Kept, "enabled", True)
    server = MailServer().start()
    app = make_app("sqlite", DAILY_DIGEST=False, **server.config())
    try:
        with app.app_context():
            sent_referral(sent_at=SENT)
            sessions = []
            for days_before in (7, 3):
                queued, enqueue = collect()
                reminders.scan(DUE - timedelta(days=days_before), enqueue=enqueue)
                assert send_all(queued) == ["sent"]
                sessions.append(delivery._Kept.backend.connection)
            assert sessions[0] is not None
            assert sessions[1] is sessions[0]
            server.stop()
            server = MailServer(server.port).start()
            queued, enqueue = collect()
            reminders.scan(DUE - timedelta(days=1), enqueue=enqueue)
            assert send_all(queued) == ["sent"]
            assert delivery._Kept.backend.connection is not sessions[0]
            assert len(server.wait_for(1)) == 1
            assert item_count(OutboxStatus.SENT) == 3
    finally:
        delivery.end_kept_session()
        server.stop()


def test_a_send_task_marks_what_it_sent_as_it_goes_so_a_dead_worker_leaves_few_unmarked(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task larger than MARK_SENT_EVERY marks its sent e-mails every that many: a worker
    that dies in the middle leaves only the last few sent and unmarked (to be sent once more
    when their claim expires), not the whole task."""
    org = make_org_key()
    for number in range(5):
        owner = make_user(Role.CASEWORKER, email=f"cw{number}@example.org")
        sent_referral(sent_at=SENT, owner=owner, org=org)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    assert len(queued) == 5
    monkeypatch.setattr(reminders, "MARK_SENT_EVERY", 2)
    transmit = reminders._transmit
    tried: list[int] = []

    def dies_at_the_fourth(mail: Any, now: datetime, backend: Any) -> str:
        if len(tried) == 3:
            raise SystemExit("the worker is killed")  # not an Exception: nothing handles it
        tried.append(mail.row_id)
        return transmit(mail, now, backend)

    monkeypatch.setattr(reminders, "_transmit", dies_at_the_fourth)
    with pytest.raises(SystemExit):
        reminders.send_many(queued)
    db.session.rollback()
    statuses = dict(
        db.session.execute(
            sa.select(ReminderOutbox.id, ReminderOutbox.status).where(ReminderOutbox.id.in_(queued))
        ).all()
    )
    assert smtp_server.wait_for(3)
    # Two marked after the second e-mail; the third went out unmarked; two never tried.
    assert sorted(statuses.values()).count(OutboxStatus.SENT) == 2
    assert [statuses[row] for row in tried[:2]] == [OutboxStatus.SENT] * 2
    assert statuses[tried[2]] == OutboxStatus.SENDING


def test_the_admin_page_says_how_reminders_go_out_and_lists_the_ones_sent(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    admin = make_user(Role.ADMIN, email="admin@example.org")
    client = mail_app.test_client()
    sign_in(client, admin)
    before = client.get("/admin/reminders").get_data(as_text=True)
    assert "every 5 minutes" in before
    assert "14, 7, 3, and 1 days before a deadline" in before
    assert "No reminder e-mail has been sent yet." in before
    referral = sent_referral(sent_at=SENT)
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    waiting = client.get("/admin/reminders").get_data(as_text=True)
    assert 'data-waiting-reminders="1"' in waiting
    assert send_all(queued) == ["sent"]
    after = client.get("/admin/reminders").get_data(as_text=True)
    assert 'data-waiting-reminders="0"' in after
    sent = after[after.index("data-sent-reminders") : after.index("</table>")]
    assert f'data-outbox-id="{queued[0]}"' in sent
    assert referral.owner.email in sent
    assert f'href="/referrals/{referral.id}"' in sent
    assert CANARY not in after  # what the e-mail was about, never what the case says
    chinese = client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True)
    assert "最近寄出" in chinese
    assert "期限前 14、7、3和1 天及當天" in chinese


def test_a_reminder_of_some_overdue_referrals_says_how_many_in_its_subject(
    mail_app: Flask,
) -> None:
    owner = make_user(Role.CASEWORKER, email="both@example.org")
    sent_referral(sent_at=SENT - timedelta(days=30), owner=owner)  # 23 days overdue by then
    sent_referral(sent_at=SENT, owner=owner, org=make_org_key())  # 7 days to go
    queued, enqueue = collect()
    now = DUE - timedelta(days=7)
    reminders.scan(now, enqueue=enqueue)
    (batch,) = [db.session.get_one(ReminderOutbox, outbox_id) for outbox_id in queued]
    subject, body = reminders.compose(batch, now=now)
    assert subject == "Refuge reminders: 2 referrals, 1 overdue"
    assert "— 23 days overdue" in body
    assert "— in 7 days" in body


def test_a_stand_in_s_e_mail_says_which_referrals_are_not_theirs(
    mail_app: Flask, smtp_server: MailServer
) -> None:
    """Reviewer: after deactivating a colleague, an admin got "26 referrals, 23 overdue" while
    the daily digest, counting their own, said 10; nothing told them which were whose. The
    e-mail now counts those it brings for a deactivated owner, and marks each of them."""
    assignee = make_user(Role.CASEWORKER, email="assignee@example.org")
    left = make_user(Role.CASEWORKER, email="left@example.org")
    org = make_org_key()
    own = sent_referral(sent_at=SENT, owner=assignee, org=org)
    theirs = [sent_referral(sent_at=SENT, owner=left, org=org) for _ in range(2)]
    for referral in theirs:
        referral.case.assignee_id = assignee.id
    left.is_active_account = False
    db.session.commit()
    queued, enqueue = collect()
    reminders.scan(DUE - timedelta(days=7), enqueue=enqueue)
    assert send_all(queued) == ["sent"]
    (message,) = smtp_server.wait_for(1)
    assert message.recipients == [assignee.email]
    body = message.body.replace("\r\n", "\n")  # as sent, lines end in CRLF
    assert "Referrals that need you: 3\n2 of them are not yours: their owners' accounts are" in body
    marked = "Its owner's account is deactivated: take it over or give it to a colleague."
    assert body.count(marked) == 2
    # Each reminder's block: "RF-…, referral N" and its lines, up to the next reference.
    blocks = {
        int(block.split("\n")[0].rsplit(" ", 1)[1]): block
        for block in body.split("Reference: case ")[1:]
    }
    assert marked not in blocks[own.id]
    assert all(marked in blocks[referral.id] for referral in theirs)
    # compose() of the batch row, its owners read apart from the send task, says the same.
    _subject, text = reminders.compose(
        db.session.get_one(ReminderOutbox, queued[0]), now=DUE - timedelta(days=7)
    )
    assert "2 of them are not yours" in text
