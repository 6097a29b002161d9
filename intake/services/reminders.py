"""Reminder e-mails through a database outbox (DESIGN §6).

``scan`` (beat, every few minutes, or ``flask deadlines scan``) writes each due reminder once
into ``reminder_outbox`` (one *item* row per referral and offset), gathers each recipient's
pending items under one *batch* row, and enqueues a send task per unsent batch or digest
*after* committing. ``send`` claims a batch atomically, mails one message listing its items
and marks the batch and its items sent in one statement; it is safe to run any number of
times for the same row. So one scan sends each recipient at most one reminder e-mail (issue
12: one caseworker once got 28), while exactly-once still holds per item: an item belongs to
one batch, and a batch is sent at most once plus the one duplicate ``delivery`` allows, under
a Message-ID stable per batch.

Redis may lose every message: the next scan re-queues rows still unsent, and a claim left by a
killed worker expires. E-mails carry references, dates, a count and links — never case
content — and every e-mail of one kind has the same shape. Overdue referrals are reminded
weekly, or daily for a caseworker who asked for it (``User.overdue_reminders_daily``, on the
account page).
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any, NamedTuple, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale, get_translations
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import CursorResult

from intake import clock
from intake.db import among_ids, utcnow
from intake.extensions import db
from intake.links import base_url
from intake.models import (
    AWAITING,
    Case,
    OutboxStatus,
    Referral,
    ReferralState,
    ReminderOutbox,
    Role,
    User,
)
from intake.services import (
    casework,
    delivery,
    due_sql,
    follow_ups,
    referrals,
    reprisals,
    security_notices,
)
from intake.services.deadlines import (
    DUE_SOON_DAYS,
    OVERDUE_DAILY,
    OVERDUE_EVERY_DAYS,
    latest_slot,
    reminder_slots,
)
from intake.services.settings import keep_timezone, org_zone, timezone_column

DIGEST_LOCAL_HOUR = 7
CHUNK = 1000


class TransientMailError(Exception):
    """The mail server could not take the message now; retry later."""


@dataclass
class ScanSummary:
    candidates: int = 0
    reminders_written: int = 0
    batches_written: int = 0
    digests_written: int = 0
    claims_recovered: int = 0
    queued: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _offsets() -> Sequence[int]:
    return tuple(int(day) for day in current_app.config["REMINDER_OFFSETS_DAYS"])


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING, on PostgreSQL and SQLite alike."""
    if not rows:
        return 0
    from sqlalchemy.dialects import sqlite

    table = ReminderOutbox.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    connection = db.session.connection()
    written = 0
    for start in range(0, len(rows), CHUNK):
        # RETURNING gives back only the rows this scan really inserted.
        written += len(connection.execute(statement, rows[start : start + CHUNK]).all())
    return written


def _existing_keys(keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        found.update(
            db.session.scalars(
                sa.select(ReminderOutbox.dedupe_key).where(ReminderOutbox.dedupe_key.in_(chunk))
            )
        )
    return found


def _active_staff() -> set[int]:
    return set(db.session.scalars(sa.select(User.id).where(casework.remindable())))


def _first_admin() -> int | None:
    return casework.reminded_admin_id()


def first_admin() -> User | None:
    """Who is reminded of a referral that no active colleague owns or holds (see
    :func:`choose_recipient`)."""
    admin_id = _first_admin()
    return db.session.get(User, admin_id) if admin_id is not None else None


def choose_recipient(
    owner_id: int | None, assignee_id: int | None, active: set[int], admin_id: int | None
) -> int | None:
    """The referral's owner, else the case's assignee, else the first admin — whoever of them
    is still an active caseworker or admin: a deadline must never lapse because its owner left."""
    for candidate in (owner_id, assignee_id):
        if candidate is not None and candidate in active:
            return candidate
    return admin_id


@dataclass(frozen=True)
class Schedule:
    """When a referral's reminders go out and to whom, as the scan will do it (what its page
    says before the first one is sent)."""

    days_before: tuple[int, ...]  # largest first: only those after the clock started
    on_the_day: bool  # the reminder at the start of the due day (not if the clock started later)
    overdue_every_days: int  # OVERDUE_DAILY or OVERDUE_EVERY_DAYS, the recipient's choice
    recipient: User | None


def of_current_deadline(row: ReminderOutbox, referral: Referral) -> bool:
    """Whether reminder ``row`` is one of the referral's current deadline: of its clock
    generation (the keys :func:`_due_reminders` writes), not of a deadline since moved."""
    slot = row.dedupe_key.removeprefix(f"reminder:{referral.id}:")
    if referral.clock_generation:
        return slot.startswith(f"g{referral.clock_generation}:")
    return not slot.startswith("g")


def schedule_of(referral: Referral) -> Schedule:
    offsets = _offsets()
    recipient_id = choose_recipient(
        referral.owner_id, referral.case.assignee_id, _active_staff(), _first_admin()
    )
    recipient = db.session.get(User, recipient_id) if recipient_id is not None else None
    daily = recipient is not None and recipient.overdue_reminders_daily
    wanted = tuple(sorted(set(offsets), reverse=True))
    due, start = referral.due_at, referral.clock_started_at or referral.created_at
    if due is None and referral.entry is not None:
        # A draft whose clock starts when it is sent: the deadline it would have if sent now
        # (a 48-hour draft was promised "14, 7, 3 and 1 days before").
        start = utcnow()
        due = referrals.implied_due(
            referral.case, referral.entry, referral.kind, due_hours=referral.due_hours, now=start
        ).due_at
    if due is not None:
        # The slots the scan will send before the deadline: none from before the clock started
        # (a 48-hour letter gets no "14 days before"), as deadlines.reminder_slots decides.
        slots = reminder_slots(due, start, org_zone(), due, wanted)
        fired = {slot.key for slot in slots}
        wanted = tuple(day for day in wanted if f"d{day}" in fired)
    return Schedule(
        days_before=tuple(day for day in wanted if day > 0),
        on_the_day=0 in wanted,
        overdue_every_days=OVERDUE_DAILY if daily else OVERDUE_EVERY_DAYS,
        recipient=recipient,
    )


def _asks_for_daily() -> set[int]:
    return set(db.session.scalars(sa.select(User.id).where(User.overdue_reminders_daily)))


def _due_reminders(now: datetime, summary: ScanSummary) -> list[dict[str, Any]]:
    zone = org_zone()
    offsets = _offsets()
    horizon = now + timedelta(days=max(offsets, default=0) + 1)
    candidates = db.session.execute(
        sa.select(
            Referral.id,
            Referral.due_at,
            Referral.clock_started_at,
            Referral.created_at,
            Referral.owner_id,
            Case.assignee_id,
            Referral.clock_generation,
        )
        .join(Case, Case.id == Referral.case_id)
        .where(
            Referral.state.in_(AWAITING),
            Referral.due_at.is_not(None),
            Referral.due_at <= horizon,
        )
    ).all()
    summary.candidates = len(candidates)
    active, admin_id, daily = _active_staff(), _first_admin(), _asks_for_daily()
    wanted: dict[str, dict[str, Any]] = {}
    for referral_id, due, clock_start, created_at, owner_id, assignee_id, generation in candidates:
        if due is None:  # excluded by the query; here for the type checker
            continue
        recipient = choose_recipient(owner_id, assignee_id, active, admin_id)
        if recipient is None:
            continue
        every = OVERDUE_DAILY if recipient in daily else OVERDUE_EVERY_DAYS
        # Only the newest slot: after downtime, one current reminder beats a burst of stale ones.
        slot = latest_slot(due, clock_start or created_at, zone, now, offsets, every)
        if slot is None:
            continue
        # A UN step that moves the deadline to a new clock starts a new generation: its "7 days
        # before" is a new reminder (generation 0 keeps the keys every older row has).
        key = (
            f"reminder:{referral_id}:g{generation}:{slot.key}"
            if generation
            else f"reminder:{referral_id}:{slot.key}"
        )
        wanted[key] = {
            "dedupe_key": key,
            "kind": "reminder",
            "referral_id": referral_id,
            "recipient_id": recipient,
            "offset_key": slot.key,
            "due_at": due,
            "counts": {},
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
    existing = _existing_keys(wanted)
    return [row for key, row in wanted.items() if key not in existing]


def _postgresql() -> bool:
    return bool(db.session.get_bind().dialect.name == "postgresql")


_Statement = TypeVar("_Statement")
_PREBUILT: dict[tuple[str, str], Any] = {}


def _prebuilt(name: str, build: Callable[[bool], _Statement]) -> _Statement:
    """A send task's statement, built once per process and dialect with bind parameters for
    what changes between tasks (issue 14: building the expressions and their cache keys anew
    for every task was half of a task's fixed cost, ~4 ms of 8)."""
    dialect = str(db.session.get_bind().dialect.name)
    statement = _PREBUILT.get((dialect, name))
    if statement is None:
        statement = _PREBUILT[(dialect, name)] = build(dialect == "postgresql")
    return cast(_Statement, statement)


def _write_due_reminders(now: datetime, summary: ScanSummary) -> int:
    """Write the due reminders not written before; how many were written.

    PostgreSQL does it in one set-based statement (:mod:`intake.services.due_sql`) that also
    writes each recipient's new items under one batch (counted in ``summary``). SQLite, the
    embedded default for one small organisation, keeps the Python path: the same slots
    (``deadlines.latest_slot``), computed here, then one ``INSERT … ON CONFLICT DO NOTHING``;
    :func:`_gather_batches` batches them."""
    if _postgresql():
        written = due_sql.write_due_reminders(
            now, org_zone().key, _offsets(), _first_admin(), _batch_day(now)
        )
        summary.candidates = written.candidates
        summary.batches_written += written.batches
        return written.reminders
    return _insert_ignoring_duplicates(_due_reminders(now, summary))


def _batch_day(now: datetime) -> str:
    return now.astimezone(org_zone()).date().isoformat()


def _gather_batches(now: datetime) -> int:
    """Put each recipient's pending, not yet gathered items under one new batch row.

    On PostgreSQL the items are locked and locked ones skipped, so two scans at once never
    gather the same item twice; an item already in a batch stays there."""
    if _postgresql():
        return due_sql.gather_batches(now, _batch_day(now))
    query = (
        sa.select(ReminderOutbox.id, ReminderOutbox.recipient_id, ReminderOutbox.due_at)
        .where(
            ReminderOutbox.kind == "reminder",
            ReminderOutbox.status == OutboxStatus.PENDING,
            ReminderOutbox.batch_id.is_(None),
        )
        .order_by(ReminderOutbox.recipient_id, ReminderOutbox.id)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    per_recipient: dict[int, list[tuple[int, datetime | None]]] = {}
    for item_id, recipient_id, due in db.session.execute(query):
        per_recipient.setdefault(recipient_id, []).append((item_id, due))
    day = _batch_day(now)
    for recipient_id, items in per_recipient.items():
        ids = [item_id for item_id, _due in items]
        dues = [due for _id, due in items if due is not None]
        batch = ReminderOutbox(
            # An item belongs to one batch: its first item names the batch for good.
            dedupe_key=f"batch:{recipient_id}:{ids[0]}",
            kind="batch",
            referral_id=None,
            recipient_id=recipient_id,
            offset_key=day,
            due_at=min(dues, default=None),
            counts={"items": len(ids)},
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=now,
        )
        db.session.add(batch)
        db.session.flush()
        for start in range(0, len(ids), CHUNK):
            db.session.execute(
                sa.update(ReminderOutbox)
                .where(ReminderOutbox.id.in_(ids[start : start + CHUNK]))
                .values(batch_id=batch.id)
                .execution_options(synchronize_session=False)
            )
    return len(per_recipient)


def digest_counts(user_id: int, now: datetime) -> dict[str, int]:
    """The digest's counts: the person's referrals (``referrals.mine``) as /referrals shows them."""
    counts = referrals.overview(now, owner_id=user_id)
    result = {
        "overdue": counts.overdue,
        # deadlines.is_due_soon. The key is stored in digest rows not sent yet (their counts,
        # read when the e-mail is written): a name, not words anyone reads, kept as it is.
        "due_within_7_days": counts.due_soon,
        "awaiting": counts.awaiting,
    }
    # From 1 March to 15 April: the cases that match the Secretary-General's reprisals report.
    matching = reprisals.digest_count(now)
    if matching:
        result["reprisals_report_cases"] = matching
    return result


def _due_digests(now: datetime) -> list[dict[str, Any]]:
    local_now = now.astimezone(org_zone())
    if not current_app.config["DAILY_DIGEST"] or local_now.time() < time(DIGEST_LOCAL_HOUR):
        return []
    day = local_now.date().isoformat()
    staff = db.session.execute(
        sa.select(User.id, User.role).where(
            User.is_active_account.is_(True), User.role.in_([Role.ADMIN, Role.CASEWORKER])
        )
    ).all()
    admins = {user_id for user_id, role in staff if role == Role.ADMIN}
    wanted = {f"digest:{user_id}:{day}": user_id for user_id, _role in staff}
    existing = _existing_keys(wanted)
    failed = delivery.failed_emails() if admins else None
    rows = []
    for key, user_id in wanted.items():
        if key in existing:
            continue
        counts = digest_counts(user_id, now)
        if user_id in admins and failed is not None:
            # Admins fix the mail settings: their digest always says how many did not go,
            # security notices (about accounts, not deadlines) apart from the reminders.
            counts["reminders_failed"] = failed.reminders
            counts["security_notices_failed"] = failed.security_notices
        if (
            not counts["awaiting"]
            and not counts.get("reminders_failed")
            and not counts.get("security_notices_failed")
            and not counts.get("reprisals_report_cases")
        ):
            continue
        rows.append(
            {
                "dedupe_key": key,
                "kind": "digest",
                "referral_id": None,
                "recipient_id": user_id,
                "offset_key": day,
                "due_at": None,
                "counts": counts,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "created_at": now,
            }
        )
    return rows


def _recover_stale_claims(now: datetime) -> int:
    """A row left 'sending' longer than a send can take belongs to a worker that died."""
    timeout = timedelta(seconds=int(current_app.config["REMINDER_CLAIM_TIMEOUT_SECONDS"]))
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        sa.update(ReminderOutbox)
        .where(
            ReminderOutbox.status == OutboxStatus.SENDING,
            ReminderOutbox.claimed_at < now - timeout,
            # Only e-mails are claimed (items since batches): this finds them by index.
            ReminderOutbox.is_email(),
        )
        # The dead worker may have handed the message over already (delivery.MAX_UNACKNOWLEDGED).
        .values(
            status=OutboxStatus.PENDING,
            claimed_at=None,
            queued_at=None,
            unacknowledged=ReminderOutbox.unacknowledged + 1,
        )
    )
    return max(result.rowcount or 0, 0)


def _rows_to_queue(now: datetime) -> list[int]:
    requeue_after = timedelta(seconds=int(current_app.config["REMINDER_REQUEUE_SECONDS"]))
    query = (
        sa.select(ReminderOutbox.id)
        .where(
            ReminderOutbox.status == OutboxStatus.PENDING,
            # Items are mailed by their batch, never alone.
            ~ReminderOutbox.is_item(),
            sa.or_(
                ReminderOutbox.queued_at.is_(None),
                ReminderOutbox.queued_at <= now - requeue_after,
            ),
        )
        .order_by(ReminderOutbox.id)
        .limit(int(current_app.config["REMINDER_QUEUE_BATCH"]))
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Two scans at once share the rows out instead of both queueing them.
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(
            sa.update(ReminderOutbox).where(ReminderOutbox.id.in_(ids)).values(queued_at=now)
        )
    return ids


def enqueue_send(outbox_id: int) -> None:
    """Queue ``reminders.send`` on this Flask app's own Celery app (ids only)."""
    current_app.extensions["celery"].send_task("reminders.send", args=[outbox_id])


def enqueue_send_many(outbox_ids: list[int]) -> None:
    """Queue ``reminders.send_many`` for several rows: one task, one SMTP session."""
    current_app.extensions["celery"].send_task("reminders.send_many", args=[outbox_ids])


def scan(
    now: datetime | None = None, *, enqueue: Callable[[int], None] | None = None
) -> ScanSummary:
    """Write due reminders and digests to the outbox, then queue every unsent row: by default
    in send tasks of at most ``REMINDER_SEND_BATCH`` rows (:func:`task_sizes`); ``enqueue``
    queues them one by one instead."""
    now = now or utcnow()
    summary = ScanSummary()
    summary.reminders_written = _write_due_reminders(now, summary)
    summary.batches_written += _gather_batches(now)
    summary.digests_written = _insert_ignoring_duplicates(_due_digests(now))
    summary.claims_recovered = _recover_stale_claims(now)
    queued = _rows_to_queue(now)
    db.session.commit()
    # Enqueue after commit: a fast worker must find the row it was sent (DESIGN §8).
    largest = 1 if enqueue is not None else int(current_app.config["REMINDER_SEND_BATCH"])
    done = 0
    for size in task_sizes(len(queued), largest):
        group = queued[done : done + size]
        try:
            if enqueue is not None:
                enqueue(group[0])
            else:
                enqueue_send_many(group)
        except Exception as error:  # kombu raises transport-specific errors
            _unmark_queued(queued[done:])
            raise BrokerUnavailable(type(error).__name__, done, len(queued) - done) from error
        done += size
    summary.queued = len(queued)
    return summary


def task_sizes(count: int, largest: int) -> list[int]:
    """How many rows each send task of a scan takes: ``largest`` while much remains, then a
    third of what remains, down to an eighth of ``largest``. A task's fixed cost (its claim,
    its Celery round trips) is shared by more e-mails in the first tasks, and the last ones
    are small, so the workers run out of work at about the same time instead of one finishing
    a large task alone (issue 14: tasks of 100 were faster than 50 under load, slower on a
    quiet machine, where the last task's wait decided)."""
    largest = max(1, largest)
    smallest = max(1, largest // 8)
    sizes: list[int] = []
    left = count
    while left > 0:
        size = min(largest, max(smallest, -(-left // 3)))
        if left - size < smallest:
            # No last task smaller than the smallest: what is left goes in one or two.
            size = left if left < 2 * smallest else left - smallest
        sizes.append(size)
        left -= size
    return sizes


class BrokerUnavailable(Exception):
    """The broker refused the send tasks; the rows not queued are left for the next scan."""

    def __init__(self, reason: str, queued: int, left: int) -> None:
        super().__init__(reason)
        self.reason, self.queued, self.left = reason, queued, left


def _unmark_queued(outbox_ids: list[int]) -> None:
    """Rows whose task never reached the broker must look unqueued, or the next scan would
    wait REMINDER_REQUEUE_SECONDS before queueing them."""
    for start in range(0, len(outbox_ids), CHUNK):
        db.session.execute(
            sa.update(ReminderOutbox)
            .where(
                ReminderOutbox.id.in_(outbox_ids[start : start + CHUNK]),
                ReminderOutbox.status == OutboxStatus.PENDING,
            )
            .values(queued_at=None)
        )
    db.session.commit()


def compose(
    row: ReminderOutbox,
    language: str | None = None,
    items: Sequence[ReminderOutbox] | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Subject and body in the recipient's language: references, dates, a count and links.
    No case content, ever; every e-mail of one kind has the same lines. ``items`` are a
    batch's reminders (by default, those gathered under it and not cancelled)."""
    if row.kind == "batch" and items is None:
        items = batch_items(row.id, (OutboxStatus.PENDING, OutboxStatus.SENT))
    lines = items or [row]
    refs, owners = _case_refs(line.referral_id for line in lines)
    return _compose(
        row,
        lines,
        refs,
        org_zone(),
        _Language.of(language),
        base_url(),
        now or utcnow(),
        standing_in(owners.items(), row.recipient_id),
    )


def standing_in(owners: Iterable[tuple[int | None, int | None]], recipient_id: int) -> set[int]:
    """Of (referral id, owner id) pairs, the referrals whose reminders reach ``recipient_id``
    for another owner: one whose account is deactivated (``choose_recipient`` passes an
    active owner by for nobody), until someone takes the referral over."""
    return {
        referral_id
        for referral_id, owner_id in owners
        if referral_id is not None and owner_id is not None and owner_id != recipient_id
    }


@dataclass(frozen=True)
class _Language:
    """An e-mail language's translations and locale, looked up once (per send task) instead of
    through Flask-Babel's lookups for every string (issue 14: a tenth of a worker's time).
    ``gettext`` does what ``flask_babel.gettext`` does with them."""

    translations: Any
    locale: str

    @classmethod
    def of(cls, language: str | None) -> _Language:
        with force_locale(language or "en"):
            return cls(get_translations(), str(get_locale() or "en"))

    def gettext(self, string: str, **variables: Any) -> str:
        text = str(self.translations.ugettext(string))
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return str(self.translations.ungettext(singular, plural, num)) % variables


def batch_items(batch_id: int, statuses: Iterable[OutboxStatus]) -> list[ReminderOutbox]:
    return list(
        db.session.scalars(
            sa.select(ReminderOutbox)
            .where(ReminderOutbox.batch_id == batch_id, ReminderOutbox.status.in_(list(statuses)))
            .order_by(ReminderOutbox.due_at, ReminderOutbox.id)
        )
    )


def _case_refs(referral_ids: Iterable[int | None]) -> tuple[dict[int, str], dict[int, int | None]]:
    """Each referral's case reference, and its owner, in one query."""
    wanted = {referral_id for referral_id in referral_ids if referral_id is not None}
    if not wanted:
        return {}, {}
    rows = db.session.execute(
        sa.select(Referral.id, Case.ref, Referral.owner_id)
        .join(Case, Case.id == Referral.case_id)
        .where(Referral.id.in_(wanted))
    ).all()
    return (
        {referral_id: case_ref for referral_id, case_ref, _ in rows},
        {referral_id: owner_id for referral_id, _, owner_id in rows},
    )


def local_time(
    moment: datetime | None, zone: ZoneInfo | None = None, locale: str | None = None
) -> str:
    """The same words as the staff pages (intake.clock): "31 Jan 2027, 03:09 (Taipei, UTC+8)"."""
    if moment is None:
        return "-"
    return clock.local_text(moment, zone=zone or org_zone(), locale=locale)


def _audit_checksum_lines(row: ReminderOutbox | _Claimed, words: _Language) -> list[str]:
    """For admins: the audit chain's anchored head as a short checksum, kept in their mailbox
    outside the server (``flask audit verify --checksum`` checks it later)."""
    from intake.services import audit_anchor

    _ = words.gettext
    recipient = db.session.get(User, row.recipient_id)
    if recipient is None or recipient.role is not Role.ADMIN:
        return []
    check = audit_anchor.advance()
    if not check.ok or check.head is None:
        return [_("Audit log: the last check failed. Run the audit check now.")]
    return [
        _(
            "Audit log checksum: %(checksum)s",
            checksum=audit_anchor.checksum(check.count, check.head),
        )
    ]


def _digest(
    row: ReminderOutbox | _Claimed, footer: str, words: _Language, base: str
) -> tuple[str, str]:
    _ = words.gettext
    counts = row.counts or {}
    subject = _("Refuge daily digest %(day)s", day=row.offset_key)
    body = "\n".join(
        [
            _("Daily digest for %(day)s.", day=row.offset_key),
            _("Overdue referrals: %(n)s", n=counts.get("overdue", 0)),
            words.ngettext(
                "Due within %(num)d day: %(n)s",
                "Due within %(num)d days: %(n)s",
                DUE_SOON_DAYS,
                n=counts.get("due_within_7_days", 0),
            ),
            _("Awaiting a reply: %(n)s", n=counts.get("awaiting", 0)),
            *(
                [_("Reminders that could not be e-mailed: %(n)s", n=counts["reminders_failed"])]
                if "reminders_failed" in counts
                else []
            ),
            *(
                [
                    _(
                        "Security notices that could not be e-mailed: %(n)s",
                        n=counts["security_notices_failed"],
                    )
                ]
                if "security_notices_failed" in counts
                else []
            ),
            *(
                [
                    _(
                        "Cases for the reprisals report (due 15 April): %(n)s",
                        n=counts["reprisals_report_cases"],
                    )
                ]
                if "reprisals_report_cases" in counts
                else []
            ),
            _("Open: %(link)s", link=f"{base}/referrals/"),
            *_audit_checksum_lines(row, words),
            "",
            footer,
        ]
    )
    return subject, body


def _follow_up_notice(
    row: ReminderOutbox | _Claimed, footer: str, words: _Language, base: str
) -> tuple[str, str]:
    """A submitter wrote on a case (intake.services.follow_ups): its reference and a link,
    the same lines for every such e-mail, never a word of the message."""
    _ = words.gettext
    ref = row.offset_key
    subject = _("New message on case %(ref)s", ref=ref)
    body = "\n".join(
        [
            _("The submitter of case %(ref)s sent a new message.", ref=ref),
            _("Open: %(link)s", link=f"{base}/cases/{ref}"),
            "",
            footer,
        ]
    )
    return subject, body


def _item_lines(
    item: _Reminder,
    case_ref: str,
    zone: ZoneInfo,
    words: _Language,
    base: str,
    now: datetime,
    for_another: bool = False,
) -> list[str]:
    """The same three lines for every reminder: reference, deadline and how near, link; and
    when it comes ``for_another`` (its owner's account is deactivated), a line saying so.

    How near is counted from ``now`` (when the e-mail goes), as the staff pages count it:
    not from the reminder's slot, which after a missed scan or a backdated step can be days
    behind ("due in 0 days" for a referral a week overdue)."""
    _ = words.gettext
    deadline = local_time(item.due_at, zone, words.locale)
    if item.due_at is not None:
        deadline = f"{deadline} — {clock.relative(item.due_at, now, words)}"
    return [
        _("Reference: case %(ref)s, referral %(id)s", ref=case_ref, id=item.referral_id),
        *(
            [_("Its owner's account is deactivated: take it over or give it to a colleague.")]
            if for_another
            else []
        ),  # fmt: skip
        _("Deadline: %(when)s", when=deadline),
        _("Open: %(link)s", link=f"{base}/referrals/{item.referral_id}"),
    ]


def _compose(
    row: ReminderOutbox | _Claimed,
    items: Sequence[_Reminder],
    case_refs: Mapping[int, str],
    zone: ZoneInfo,
    words: _Language,
    base: str,
    now: datetime,
    stand_in: Collection[int] = (),
) -> tuple[str, str]:
    """``base`` is :func:`intake.links.base_url`, read once per send task; ``now`` is when
    the e-mail goes, from which its times left are counted; ``stand_in``, the referrals the
    recipient gets for an owner whose account is deactivated (:func:`standing_in`)."""
    _ = words.gettext
    footer = _("This message contains no case details. Sign in to Refuge to see them.")
    if row.kind == "digest":
        return _digest(row, footer, words, base)
    if row.kind == follow_ups.KIND:
        return _follow_up_notice(row, footer, words, base)
    if row.kind == security_notices.KIND:
        return security_notices.compose(
            row.offset_key, row.due_at, row.counts, row.recipient_id, words, zone, base
        )
    first_due = min((item.due_at for item in items if item.due_at), default=None)
    overdue = sum(1 for item in items if item.due_at is not None and item.due_at < now)
    if overdue and overdue == len(items):  # "first due 12 Oct" hid that it was weeks ago
        subject = words.ngettext(
            "Refuge reminders: %(num)s overdue referral",
            "Refuge reminders: %(num)s overdue referrals",
            overdue,
        )
    elif overdue:
        subject = words.ngettext(
            "Refuge reminders: %(num)s referral, %(overdue)s overdue",
            "Refuge reminders: %(num)s referrals, %(overdue)s overdue",
            len(items),
            overdue=overdue,
        )
    else:
        subject = words.ngettext(
            "Refuge reminders: %(num)s referral, first due %(date)s",
            "Refuge reminders: %(num)s referrals, first due %(date)s",
            len(items),
            date=first_due.astimezone(zone).date().isoformat() if first_due else "-",
        )
    lines = [_("Referrals that need you: %(n)s", n=len(items))]
    others = [item for item in items if item.referral_id in stand_in]
    if others:  # a stand-in's count is not their own (the daily digest counts their own)
        lines.append(
            words.ngettext(
                "%(num)s of them is not yours: its owner's account is deactivated.",
                "%(num)s of them are not yours: their owners' accounts are deactivated.",
                len(others),
            )
        )
    lines.append("")
    for item in items:
        case_ref = case_refs.get(item.referral_id, "-") if item.referral_id else "-"
        for_another = item.referral_id in stand_in
        lines += [*_item_lines(item, case_ref, zone, words, base, now, for_another), ""]
    lines += [_("All your referrals: %(link)s", link=f"{base}/referrals/"), "", footer]
    return subject, "\n".join(lines)


class _Reminder(Protocol):
    """What an e-mail says of one reminder: an outbox item, or a :class:`_Line`."""

    @property
    def referral_id(self) -> int | None: ...
    @property
    def offset_key(self) -> str: ...
    @property
    def due_at(self) -> datetime | None: ...


class _Line(NamedTuple):
    """A pending reminder of a claimed batch, read (as columns, not an ORM object) with what
    settling and composing it need."""

    id: int
    referral_id: int | None
    offset_key: str
    due_at: datetime | None
    awaiting: bool
    owner_id: int | None
    assignee_id: int | None
    case_ref: str


def _pending_lines_statement(postgresql: bool) -> sa.Select[Any]:
    return (
        sa.select(
            _OUTBOX.c.id,
            _OUTBOX.c.referral_id,
            _OUTBOX.c.offset_key,
            _OUTBOX.c.due_at,
            _OUTBOX.c.batch_id,
            _REFERRALS.c.state,
            _REFERRALS.c.owner_id,
            _CASES.c.assignee_id,
            _CASES.c.ref,
        )
        .select_from(
            _OUTBOX.outerjoin(_REFERRALS, _REFERRALS.c.id == _OUTBOX.c.referral_id).outerjoin(
                _CASES, _CASES.c.id == _REFERRALS.c.case_id
            )
        )
        .where(
            among_ids(_OUTBOX.c.batch_id, postgresql),
            _OUTBOX.c.status == OutboxStatus.PENDING,
        )
        .order_by(_OUTBOX.c.batch_id, _OUTBOX.c.due_at, _OUTBOX.c.id)
    )


def _pending_lines(batch_ids: Sequence[int]) -> dict[int, list[_Line]]:
    """The pending items of these batches with their referrals and cases: ONE query for a
    whole send task, not a few per item (the reminder e-mails' main cost until issue 14)."""
    if not batch_ids:
        return {}
    lines: dict[int, list[_Line]] = {}
    for row in db.session.connection().execute(
        _prebuilt("pending_lines", _pending_lines_statement), {"ids": list(batch_ids)}
    ):
        item_id, referral_id, offset_key, due, batch_id, state, owner, assignee, ref = row
        if batch_id is None:  # excluded by the query; here for the type checker
            continue
        lines.setdefault(batch_id, []).append(
            _line_of(item_id, referral_id, offset_key, due, state, owner, assignee, ref)
        )
    return lines


def _line_of(
    item_id: int,
    referral_id: int | None,
    offset_key: str,
    due: datetime | None,
    state: ReferralState | None,
    owner: int | None,
    assignee: int | None,
    ref: str | None,
) -> _Line:
    """A pending item as a batch's e-mail lists it (from _pending_lines' or the claim's read)."""
    return _Line(
        item_id, referral_id, offset_key, due, state in AWAITING, owner, assignee, ref or "-"
    )


@dataclass
class _Settled:
    """What settling a send task's batches decided, written in a few statements."""

    cancelled: list[int] = field(default_factory=list)
    released: dict[int, int] = field(default_factory=dict)
    staff: tuple[set[int], int | None] | None = None  # active staff and first admin, if needed

    def stand_in(self, line: _Line) -> int | None:
        if self.staff is None:
            self.staff = (_active_staff(), _first_admin())
        active, admin_id = self.staff
        return choose_recipient(line.owner_id, line.assignee_id, active, admin_id)

    def write(self) -> None:
        if self.cancelled:
            db.session.execute(
                sa.update(ReminderOutbox)
                .where(ReminderOutbox.id.in_(self.cancelled))
                .values(
                    status=OutboxStatus.CANCELLED,
                    last_error="referral no longer awaiting a reply",
                )
                .execution_options(synchronize_session=False)
            )
        for item_id, their in self.released.items():
            db.session.execute(
                sa.update(ReminderOutbox)
                .where(ReminderOutbox.id == item_id)
                .values(batch_id=None, recipient_id=their)
                .execution_options(synchronize_session=False)
            )


def _settle_items(
    lines: Sequence[_Line], recipient: _Recipient | None, settled: _Settled
) -> tuple[list[_Line], int | None]:
    """The batch's items still worth sending, and to whom (a user id). Items whose referral
    stopped waiting are cancelled. If the recipient left since the scan, the batch goes to the
    stand-in of its first item, and items with another stand-in are released to the next scan,
    which gathers them for theirs: a deadline never lapses because its owner left."""
    keep: list[_Line] = []
    stand_in: int | None = None
    leaving = recipient is None or not recipient.is_active_account
    for line in lines:
        if not line.awaiting:
            settled.cancelled.append(line.id)
            continue
        if leaving:
            their = settled.stand_in(line)
            if their is None:
                settled.cancelled.append(line.id)
                continue
            stand_in = their if stand_in is None else stand_in
            if their != stand_in:
                settled.released[line.id] = their
                continue
        keep.append(line)
    return keep, (stand_in if leaving else recipient.id if recipient is not None else None)


# The send side's statements are SQLAlchemy Core on the outbox's table, not ORM statements:
# a send task reads and writes columns, and the ORM's bulk-update and object-loading
# machinery was a fifth of a task's Python (issue 14).
_OUTBOX = ReminderOutbox.__table__
_REFERRALS = Referral.__table__
_CASES = Case.__table__
_USERS = User.__table__


class _Claimed(NamedTuple):
    """What a send task reads of a row it claimed (columns, not an ORM object)."""

    id: int
    kind: str
    recipient_id: int
    referral_id: int | None
    offset_key: str
    due_at: datetime | None
    counts: dict[str, int] | None
    dedupe_key: str
    unacknowledged: int
    failing_since: datetime | None


_CLAIMED_COLUMNS = [getattr(_OUTBOX.c, name) for name in _Claimed._fields]


def _claim_statement(postgresql: bool) -> sa.Update:
    stale_before = sa.bindparam("stale_before", type_=_OUTBOX.c.claimed_at.type)
    claimable = sa.and_(
        # An item is mailed by its batch only.
        _OUTBOX.c.kind != "reminder",
        sa.or_(
            _OUTBOX.c.status == OutboxStatus.PENDING,
            sa.and_(
                _OUTBOX.c.status == OutboxStatus.SENDING,
                _OUTBOX.c.claimed_at < stale_before,
            ),
        ),
    )
    wanted = sa.select(_OUTBOX.c.id).where(among_ids(_OUTBOX.c.id, postgresql), claimable)
    if postgresql:
        wanted = wanted.with_for_update(skip_locked=True)
    return (
        sa.update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(wanted.scalar_subquery()), claimable)
        .values(
            status=OutboxStatus.SENDING,
            claimed_at=sa.bindparam("now", type_=_OUTBOX.c.claimed_at.type),
            attempts=_OUTBOX.c.attempts + 1,
            # Taking over a dead worker's claim: its send may have reached the server.
            unacknowledged=_OUTBOX.c.unacknowledged
            + sa.case((_OUTBOX.c.status == OutboxStatus.SENDING, 1), else_=0),
        )
        .returning(*_CLAIMED_COLUMNS)
    )


def _claim(outbox_ids: Sequence[int], now: datetime) -> list[_Claimed]:
    """Claim every claimable row of ``outbox_ids`` in one statement that also reads them, in
    the caller's transaction (:func:`_prepare` commits it before the first e-mail goes). On
    PostgreSQL rows another worker holds locked are skipped, not waited for. A claim older
    than ``REMINDER_CLAIM_TIMEOUT_SECONDS`` belonged to a worker that died: it is taken over."""
    timeout = timedelta(seconds=int(current_app.config["REMINDER_CLAIM_TIMEOUT_SECONDS"]))
    claimed = db.session.connection().execute(
        _prebuilt("claim", _claim_statement),
        {"ids": list(outbox_ids), "now": now, "stale_before": now - timeout},
    )
    return sorted(map(_Claimed._make, claimed), key=lambda row: row.id)


class _Read(NamedTuple):
    """What a send task claimed, with what mailing it needs: the recipients and the batches'
    pending items."""

    rows: list[_Claimed]
    people: dict[int, _Recipient]
    lines: dict[int, list[_Line]]


def _claim_and_read_statement(postgresql: bool) -> sa.Select[Any]:
    """PostgreSQL: the claim as a CTE, read back with each row's recipient, the pending items
    of its batch (:func:`_pending_lines_statement`) and the organisation's time zone: one row
    per item (per claimed row without items). The items are read as they were before the
    claim, which does not change them. The recipients and the items are each looked up once
    (MATERIALIZED), as their own statements were: joined per claimed row, a planner misled by
    statistics older than the scan's rows would scan the pending rows once per claimed row."""
    claimed = _claim_statement(postgresql).cte("claimed")
    item = (
        _pending_lines_statement(postgresql).order_by(None).cte("item").prefix_with("MATERIALIZED")
    )
    person = (
        sa.select(_USERS.c.id, _USERS.c.email, _USERS.c.language, _USERS.c.is_active_account)
        .where(_USERS.c.id.in_(sa.select(claimed.c.recipient_id)))
        .cte("person")
        .prefix_with("MATERIALIZED")
    )
    return (
        sa.select(
            *(claimed.c[name] for name in _Claimed._fields),
            person.c.email,
            person.c.language,
            person.c.is_active_account,
            item.c.id,
            item.c.referral_id,
            item.c.offset_key,
            item.c.due_at,
            item.c.state,
            item.c.owner_id,
            item.c.assignee_id,
            item.c.ref,
            timezone_column(),
        )
        .select_from(
            claimed.outerjoin(person, person.c.id == claimed.c.recipient_id).outerjoin(
                item, item.c.batch_id == claimed.c.id
            )
        )
        .order_by(claimed.c.id, item.c.due_at, item.c.id)
    )


def _claim_and_read(outbox_ids: Sequence[int], now: datetime) -> _Read:
    """Claim these rows (:func:`_claim`) and read what mailing them needs, in the caller's
    (or a new) transaction: :func:`_prepare` commits the claim with what settling decided, so
    a worker that dies or a database that fails before then leaves the rows pending, never
    claimed by no one (a claim that expires counts as an attempt that may have been
    delivered). On PostgreSQL in ONE statement: a claim, two reads and the time zone's read
    took four round trips (issue 14); elsewhere separate statements."""
    if not _postgresql():
        rows = _claim(outbox_ids, now)
        if not rows:
            return _Read([], {}, {})
        return _Read(
            rows,
            _recipients(row.recipient_id for row in rows),
            _pending_lines([row.id for row in rows if row.kind == "batch"]),
        )
    timeout = timedelta(seconds=int(current_app.config["REMINDER_CLAIM_TIMEOUT_SECONDS"]))
    result = db.session.execute(
        _prebuilt("claim_and_read", _claim_and_read_statement),
        {"ids": list(outbox_ids), "now": now, "stale_before": now - timeout},
    )
    read = _Read([], {}, {})
    width = len(_Claimed._fields)
    stored_zone: str | None = None
    for record in result:
        claimed = _Claimed._make(record[:width])
        email, language, active = record[width : width + 3]
        item, stored_zone = record[width + 3 : -1], record[-1]  # the item's columns, the zone
        if not read.rows or read.rows[-1].id != claimed.id:
            read.rows.append(claimed)
            if email is not None:
                read.people[claimed.recipient_id] = _Recipient(
                    claimed.recipient_id, email, language, active
                )
        if item[0] is not None:
            read.lines.setdefault(claimed.id, []).append(_line_of(*item))
    if read.rows:
        keep_timezone(stored_zone)
    return read


# The batch that carries an item (aliased once: aliasing per statement was a tenth of _finish).
_CARRIER = _OUTBOX.alias("carrier")


def _finish_statement(postgresql: bool, settings: Mapping[str, Any]) -> sa.Update:
    """'Mark these claimed rows and their items' with the columns of ``settings`` as bind
    parameters ``new_<column>``."""
    now = sa.bindparam("now", type_=_OUTBOX.c.claimed_at.type)
    claim_is_ours = (
        sa.select(_CARRIER.c.id)
        .where(
            _CARRIER.c.id == _OUTBOX.c.batch_id,
            _CARRIER.c.status == OutboxStatus.SENDING,
            _CARRIER.c.claimed_at == now,
        )
        .exists()
    )
    return (
        sa.update(_OUTBOX)
        .where(
            sa.or_(
                sa.and_(
                    among_ids(_OUTBOX.c.id, postgresql),
                    _OUTBOX.c.status == OutboxStatus.SENDING,
                    _OUTBOX.c.claimed_at == now,
                ),
                sa.and_(
                    among_ids(_OUTBOX.c.batch_id, postgresql),
                    _OUTBOX.c.status == OutboxStatus.PENDING,
                    claim_is_ours,
                ),
            )
        )
        .values(
            {name: sa.bindparam(f"new_{name}", type_=_OUTBOX.c[name].type) for name in settings}
        )
    )


def _finish(
    outbox_ids: Sequence[int],
    now: datetime,
    status: OutboxStatus,
    error: str | None = None,
    **values: Any,
) -> int:
    """Record the outcome on these claimed rows and their items in ONE statement, only where
    the claim is still ours (a slow send whose claim expired and was taken over must not
    overwrite the newer attempt)."""
    if not outbox_ids:
        return 0
    settings = {
        "status": status,
        "last_error": error,
        "claimed_at": None if status == OutboxStatus.PENDING else now,
        "sent_at": utcnow() if status == OutboxStatus.SENT else None,
        **values,
    }
    statement = _prebuilt(
        "finish:" + ",".join(settings), lambda postgresql: _finish_statement(postgresql, settings)
    )
    # Between transactions (as send tasks call it) the statement commits itself: one round
    # trip instead of three (BEGIN, UPDATE, COMMIT); it is one statement either way.
    connection = (
        db.session.connection()
        if db.session().in_transaction()
        else db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    )
    done = connection.execute(
        statement,
        {"ids": list(outbox_ids), "now": now}
        | {f"new_{name}": value for name, value in settings.items()},
    )
    db.session.commit()
    return max(done.rowcount or 0, 0)


def _release(outbox_ids: Sequence[int], now: datetime) -> None:
    """Hand claimed rows that were never tried back to the outbox (the task's retry carries
    them; ``queued_at`` says so to the scan). Their claim did not count as an attempt."""
    if not outbox_ids:
        return
    db.session.execute(
        sa.update(ReminderOutbox)
        .where(
            ReminderOutbox.id.in_(list(outbox_ids)),
            ReminderOutbox.status == OutboxStatus.SENDING,
            ReminderOutbox.claimed_at == now,
        )
        .values(
            status=OutboxStatus.PENDING,
            claimed_at=None,
            queued_at=utcnow(),
            attempts=ReminderOutbox.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def send(outbox_id: int, now: datetime | None = None) -> str:
    """Claim, mail and mark one batch (or digest) and its items. Returns what happened; raises
    :class:`TransientMailError` when the mail server should be tried again later."""
    return send_many([outbox_id], now).get(outbox_id, "skipped")


# A send task marks what it has sent every this many e-mails, whatever its size: a worker that
# dies mid-task leaves at most this many sent and unmarked (each may go out once more when its
# claim expires: intake.services.delivery), even with REMINDER_SEND_BATCH set higher.
MARK_SENT_EVERY = 50


def send_many(outbox_ids: Sequence[int], now: datetime | None = None) -> dict[int, str]:
    """Claim these batches (or digests) at once, mail them over ONE SMTP session and mark the
    sent ones, with their items, in one statement per :data:`MARK_SENT_EVERY` e-mails. Returns
    what happened to each claimed row.

    When the mail server should be tried again later, the rows already sent are marked, the
    failing row is recorded for a retry, the untried ones are released, and
    :class:`TransientMailError` is raised (the task's retry takes them all again; rows sent
    meanwhile are no longer claimable). A server so slow that half of
    ``REMINDER_CLAIM_TIMEOUT_SECONDS`` passes hands the untried rows to a new task."""
    now = now or utcnow()
    read = _claim_and_read(outbox_ids, now)
    # A slow mail server must not let the claims expire while this task still holds them
    # (the scan would hand them to another worker: a duplicate). At half the timeout the rest
    # go to a new task.
    hand_over_at = monotonic() + int(current_app.config["REMINDER_CLAIM_TIMEOUT_SECONDS"]) / 2
    results: dict[int, str] = {}
    sent: list[int] = []
    # The claim commits with what settling decided, before the first e-mail: if composing
    # fails, the transaction and its claim roll back, and the rows stay pending.
    outgoing = _prepare(read, now, results)
    backend = delivery.connection()
    try:
        for position, mail in enumerate(outgoing):
            if position and monotonic() > hand_over_at:
                _finish(sent, now, OutboxStatus.SENT, failing_since=None)
                sent.clear()
                _hand_over([later.row_id for later in outgoing[position:]], now)
                break
            try:
                results[mail.row_id] = _transmit(mail, now, backend)
            except TransientMailError:
                _finish(sent, now, OutboxStatus.SENT, failing_since=None)
                sent.clear()
                _release([later.row_id for later in outgoing[position + 1 :]], now)
                raise
            if results[mail.row_id] == "sent":
                sent.append(mail.row_id)
                if len(sent) >= MARK_SENT_EVERY:
                    _finish(sent, now, OutboxStatus.SENT, failing_since=None)
                    sent.clear()
        _finish(sent, now, OutboxStatus.SENT, failing_since=None)
    except BaseException:
        # Maybe mid-transaction (a signal, a database error): this session is not kept.
        delivery.close_quietly(backend)
        raise
    finally:
        delivery.close_session(backend)
    return results


def warm_up() -> None:
    """Make this process ready to send (a Celery pool process, before its first task): its
    database connection, the send task's statements compiled and run once on no rows, the
    e-mails' translations and date formats loaded. A first task otherwise paid these (about
    100 ms here, the time of 50 e-mails; issue 14). PostgreSQL only: on SQLite (the embedded
    demo) the statements that match nothing would still take the one writer's lock."""
    if not _postgresql():
        return
    now = utcnow()
    _claim_and_read([], now)
    _recipients([0])  # (a stand-in's look-up)
    db.session.commit()
    _finish([0], now, OutboxStatus.SENT, failing_since=None)  # as send_many marks rows
    local_time(now, org_zone(), _Language.of(None).locale)


def _hand_over(outbox_ids: list[int], now: datetime) -> None:
    """Release claimed, untried rows and queue them in a new task (else the scan will)."""
    _release(outbox_ids, now)
    try:
        enqueue_send_many(outbox_ids)
    except Exception:  # kombu raises transport-specific errors; queued_at ages for the scan
        current_app.logger.warning("broker unreachable; the next scan queues the rows")


@dataclass(frozen=True)
class _Outgoing:
    """One composed e-mail of a send task. ``row`` is read again only if its send fails."""

    row_id: int
    row: _Claimed
    message: delivery.PlainMail


class _Recipient(NamedTuple):
    """What a send task reads of a recipient (not the account's keys and secrets)."""

    id: int
    email: str
    language: str | None
    is_active_account: bool


def _recipients_statement(postgresql: bool) -> sa.Select[Any]:
    return sa.select(
        _USERS.c.id, _USERS.c.email, _USERS.c.language, _USERS.c.is_active_account
    ).where(among_ids(_USERS.c.id, postgresql))


def _recipients(user_ids: Iterable[int]) -> dict[int, _Recipient]:
    return {
        person.id: person
        for person in map(
            _Recipient._make,
            db.session.connection().execute(
                _prebuilt("recipients", _recipients_statement), {"ids": list(set(user_ids))}
            ),
        )
    }


def _prepare(read: _Read, now: datetime, results: dict[int, str]) -> list[_Outgoing]:
    """Settle the claimed batches, compose every e-mail and commit the claim with what
    settling decided, all before the first e-mail is sent; rows with nothing to send are
    finished here (``results`` says how)."""
    rows, lines = read.rows, read.lines
    if not rows:
        db.session.commit()
        return []
    people: dict[int, _Recipient | None] = dict(read.people)
    zone = org_zone()
    base = base_url()
    sender = delivery.header_address(current_app.config["MAIL_DEFAULT_SENDER"])
    languages: dict[str | None, _Language] = {}
    settled = _Settled()
    ended: dict[tuple[OutboxStatus, str], list[int]] = {}
    outgoing: list[_Outgoing] = []
    for row in rows:
        recipient = people.get(row.recipient_id)
        items: list[_Line] = []
        outcome: tuple[OutboxStatus, str] | None = None
        if row.kind == "batch":
            items, recipient_id = _settle_items(lines.get(row.id, []), recipient, settled)
            if recipient_id is not None and recipient_id not in people:
                people[recipient_id] = _recipients([recipient_id]).get(recipient_id)  # stand-in
            recipient = people.get(recipient_id) if recipient_id is not None else None
            if not items:
                outcome = (OutboxStatus.CANCELLED, "no referral in the batch awaits a reply")
        elif row.kind == follow_ups.KIND and (recipient is None or not recipient.is_active_account):
            # The assignee left since the message came: whoever would be told now is.
            recipient_id = follow_ups.recipient_for(follow_ups.assignee_of(row.offset_key))
            if recipient_id is not None and recipient_id not in people:
                people[recipient_id] = _recipients([recipient_id]).get(recipient_id)
            recipient = people.get(recipient_id) if recipient_id is not None else None
        if outcome is None and (recipient is None or not recipient.is_active_account):
            outcome = (OutboxStatus.CANCELLED, "no active recipient")
        if outcome is None and row.unacknowledged >= delivery.MAX_UNACKNOWLEDGED:
            # Two attempts may each have delivered it already: a third copy is not sent blindly.
            outcome = (OutboxStatus.FAILED, delivery.NO_ACKNOWLEDGEMENT)
        if outcome is not None or recipient is None:  # (no recipient has an outcome already)
            status, error = outcome or (OutboxStatus.CANCELLED, "no active recipient")
            ended.setdefault((status, error), []).append(row.id)
            results[row.id] = "cancelled" if status == OutboxStatus.CANCELLED else "failed"
            continue
        case_refs = {
            line.referral_id: line.case_ref for line in items if line.referral_id is not None
        }
        if recipient.language not in languages:
            languages[recipient.language] = _Language.of(recipient.language)
        subject, body = _compose(
            row,
            items or [row],
            case_refs,
            zone,
            languages[recipient.language],
            base,
            now,
            standing_in(((line.referral_id, line.owner_id) for line in items), recipient.id),
        )
        message = delivery.PlainMail(
            sender=sender,
            recipient=delivery.header_address(recipient.email),
            subject=subject,
            body=body,
            # Stable per batch: a mail client shows a rare duplicate (crash after the server
            # accepted, before we marked the row) as one message.
            message_id=f"<outbox-{row.id}.{row.dedupe_key.replace(':', '.')}@refuge>",
        )
        outgoing.append(_Outgoing(row.id, row, message))
    settled.write()
    db.session.commit()
    for (status, error), ended_ids in ended.items():
        _finish(ended_ids, now, status, error)
    return outgoing


def _transmit(mail: _Outgoing, now: datetime, backend: Any) -> str:
    """Mail one composed row over ``backend`` (kept open between rows). Returns "sent" (the
    caller marks it), or records any other outcome itself."""
    try:
        delivery.open_session(backend)
        delivery.transmit(backend, mail.message)
    except Exception as error:  # smtplib and socket errors; sorted by delivery.outcome_of
        row = mail.row
        outcome = delivery.outcome_of(error, backend)
        delivery.close_quietly(backend)
        reason = type(error).__name__[:255]
        failing_since = row.failing_since or now
        unacknowledged = row.unacknowledged + (outcome is delivery.Outcome.UNACKNOWLEDGED)
        given_up = delivery.gives_up(row, outcome, now)
        if given_up is not None:
            detail = reason if given_up == delivery.MAILBOX_REFUSED else f"{reason}; {given_up}"
            _finish(
                [mail.row_id],
                now,
                OutboxStatus.FAILED,
                detail[:255],
                failing_since=failing_since,
                unacknowledged=unacknowledged,
            )
            current_app.logger.error(
                "%s %s could not be e-mailed through %s: %s",
                _what(row),
                mail.row_id,
                delivery.mail_server(),
                detail,
            )
            return "failed"
        # queued_at marks the retry Celery now holds, so a scan does not queue a second one.
        _finish(
            [mail.row_id],
            now,
            OutboxStatus.PENDING,
            reason,
            failing_since=failing_since,
            unacknowledged=unacknowledged,
            queued_at=utcnow(),
        )
        _log_retry(error, mail, failing_since + delivery.retry_window())
        raise TransientMailError(f"{reason} at {delivery.mail_server()}") from error
    return "sent"


def _what(row: _Claimed) -> str:
    return "security notice" if row.kind == security_notices.KIND else "reminder"


def _log_retry(error: Exception, mail: _Outgoing, until: datetime) -> None:
    """ONE line for a failed attempt that will be retried, naming the mail server (host and
    port: never its account) and the error's class (with the SMTP reply's code, never its
    text, which may quote an address). A refusing or unreachable server is expected: no
    traceback (the review found only ``TransientMailError('ConnectionRefusedError')`` tracebacks
    in the log). An error that is neither a mail nor a network error keeps its traceback."""
    server = delivery.mail_server()
    error_class = type(error).__name__
    if isinstance(error, smtplib.SMTPResponseException):
        error_class = f"{error_class} {error.smtp_code}"
    retried = f"{_what(mail.row)} {mail.row_id} is retried until {until:%Y-%m-%d %H:%M} UTC"
    if not isinstance(error, OSError):  # (smtplib's and ssl's errors are OSErrors)
        current_app.logger.error(
            "sending through mail server %s failed unexpectedly (%s); %s",
            server,
            error_class,
            retried,
            exc_info=error,
        )
    elif delivery.is_configuration_error(error):
        current_app.logger.error(
            "mail server %s refused our configuration (%s); %s", server, error_class, retried
        )
    else:
        current_app.logger.warning(
            "mail server %s did not take the e-mail (%s); %s", server, error_class, retried
        )
