"""Casework: the queue, the status workflow, assignment, sealed notes and replies.

Every function that changes a case commits its change together with the audit event that
describes it, or nothing at all. Audit details carry ids, states and counts only — never
anything a submitter or caseworker wrote (that is sealed and the server cannot read it).

Message format (notes, replies, follow-ups; the same as intake.services.cases): ``sealed_body``
is standard base64 of ``crypto_box_seal(sodium_pad(UTF-8 JSON {"body": ...}, 1024), key)``.
Notes are sealed to the organisation's current key, replies to the submitter's reply key. Audit
events name the case by its id, as the intake side does.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    MessageKind,
    OrgKey,
    Referral,
    Role,
    SharedStatus,
    Urgency,
    User,
)
from intake.services import audit

PAGE_SIZE = 25
# A sealed note or reply: 1024-byte padded blocks plus the seal; 64 KiB is pages of text.
MESSAGE_MAX_BYTES = 64 * 1024
# Deadlines closer than this are "due soon" in the queue.
DUE_SOON = timedelta(days=7)
# How long a new case may wait for a first look before it counts as overdue, by urgency.
FIRST_RESPONSE = {
    Urgency.IMMEDIATE: timedelta(hours=24),
    Urgency.DAYS: timedelta(days=3),
    Urgency.WEEKS: timedelta(days=14),
    Urgency.NOT_URGENT: timedelta(days=30),
}
STALE_MESSAGE = _l(
    "Someone changed this case while you had it open. Check its status and try again. "
    "Nothing was changed."
)
URGENCY_ORDER = (Urgency.IMMEDIATE, Urgency.DAYS, Urgency.WEEKS, Urgency.NOT_URGENT)

# The workflow: forward one step, close from anywhere open, and step back to assessing when a
# referral falls through or a closed case comes back.
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.NEW: (CaseStatus.ASSESSING, CaseStatus.CLOSED),
    CaseStatus.ASSESSING: (CaseStatus.REFERRED, CaseStatus.MONITORING, CaseStatus.CLOSED),
    CaseStatus.REFERRED: (CaseStatus.MONITORING, CaseStatus.ASSESSING, CaseStatus.CLOSED),
    CaseStatus.MONITORING: (CaseStatus.CLOSED, CaseStatus.ASSESSING, CaseStatus.REFERRED),
    CaseStatus.CLOSED: (CaseStatus.ASSESSING,),
}


class Outcome(enum.StrEnum):
    RESOLVED = "resolved"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    SUPPORT_PROVIDED = "support_provided"
    OUT_OF_SCOPE = "out_of_scope"
    NO_CONTACT = "no_contact"
    WITHDRAWN = "withdrawn"
    DUPLICATE = "duplicate"


class CaseworkError(ValueError):
    """A change that is refused; ``str(error)`` is a translated message safe to show."""

    def __init__(self, message: Any, status: int = 400) -> None:
        super().__init__(str(message))
        self.status = status


# --- referral deadlines, as the queue sees them ----------------------------------------------


def _open_referral_due() -> sa.Subquery:
    """A derived table (case_id, next_due): the nearest due date of each case's referrals whose
    clock still runs (AWAITING states).

    Grouped once and joined, rather than a correlated subquery per case: SQLite's planner picks
    the (state, due_at) index for a correlated lookup and scans every open referral per case.
    """
    return (
        sa.select(Referral.case_id.label("case_id"), sa.func.min(Referral.due_at).label("next_due"))
        .where(Referral.state.in_(AWAITING))
        .group_by(Referral.case_id)
        .subquery("open_referral_due")
    )


def _with_due(query: sa.Select[Any], due_table: sa.Subquery) -> sa.Select[Any]:
    return query.outerjoin(due_table, due_table.c.case_id == Case.id)


# --- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    view: str = "action"  # "action" (needs attention) or "all"
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    threat: str | None = None
    country: str | None = None
    assignee: str | None = None  # "me", "unassigned" or a user id
    overdue: bool = False
    q: str | None = None  # part of a reference
    sort: str = "priority"
    page: int = 1


SORTS = ("priority", "deadline", "received_desc", "received_asc", "updated_desc")


@dataclass
class QueueRow:
    case: Case
    next_due: datetime | None
    flags: list[str] = field(default_factory=list)  # new, unassigned, overdue, due_soon

    @property
    def respond_by(self) -> datetime | None:
        return first_response_due(self.case)


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    action_count: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _first_response_overdue(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Case.status == CaseStatus.NEW,
        sa.or_(
            *(
                sa.and_(Case.urgency == urgency, Case.received_at < now - limit)
                for urgency, limit in FIRST_RESPONSE.items()
            )
        ),
    )


def _conditions(filters: QueueFilters, viewer: User, now: datetime, due: Any) -> list[Any]:
    conditions: list[Any] = []
    overdue = _first_response_overdue(now)
    if due is not None:
        overdue = sa.or_(overdue, due < now)
    if filters.view == "action":
        attention = [Case.status == CaseStatus.NEW, Case.assignee_id.is_(None), overdue]
        if due is not None:
            attention.append(due < now + DUE_SOON)
        conditions += [Case.status != CaseStatus.CLOSED, sa.or_(*attention)]
    if filters.status is not None:
        conditions.append(Case.status == filters.status)
    if filters.urgency is not None:
        conditions.append(Case.urgency == filters.urgency)
    if filters.threat:
        # Ids are [a-z_]: quoted in the stored JSON text, so this matches one whole id.
        pattern = '%"' + _like_escape(filters.threat) + '"%'
        conditions.append(sa.cast(Case.threats, sa.Text).like(pattern, escape="\\"))
    if filters.country:
        conditions.append(Case.country == filters.country)
    if filters.assignee == "me":
        conditions.append(Case.assignee_id == viewer.id)
    elif filters.assignee == "unassigned":
        conditions.append(Case.assignee_id.is_(None))
    elif filters.assignee:
        conditions.append(Case.assignee_id == int(filters.assignee))
    if filters.overdue:
        conditions += [Case.status != CaseStatus.CLOSED, overdue]
    if filters.q:
        conditions.append(Case.ref.like("%" + _like_escape(filters.q) + "%", escape="\\"))
    return conditions


def _order(sort: str, due: Any) -> list[Any]:
    if sort == "received_desc":
        return [Case.received_at.desc(), Case.id.desc()]
    if sort == "received_asc":
        return [Case.received_at.asc(), Case.id.asc()]
    if sort == "updated_desc":
        return [Case.updated_at.desc(), Case.id.desc()]
    if sort == "deadline" and due is not None:
        return [sa.case((due.is_(None), 1), else_=0), due.asc(), Case.received_at.asc(), Case.id]
    urgency_rank = sa.case(
        {urgency.value: rank for rank, urgency in enumerate(URGENCY_ORDER)},
        value=sa.cast(Case.urgency, sa.String),
        else_=len(URGENCY_ORDER),
    )
    order: list[Any] = [urgency_rank]
    if due is not None:
        order += [sa.case((due.is_(None), 1), else_=0), due.asc()]
    return [*order, Case.received_at.asc(), Case.id.asc()]


def queue(filters: QueueFilters, viewer: User) -> QueuePage:
    """One page of the caseworker queue, most urgent first; audited as a listing (no content)."""
    now = utcnow()
    due_table = _open_referral_due()
    due = due_table.c.next_due

    def count(conditions: list[Any]) -> int:
        query = _with_due(sa.select(sa.func.count(Case.id)).select_from(Case), due_table)
        return db.session.scalar(query.where(*conditions)) or 0

    conditions = _conditions(filters, viewer, now, due)
    total = count(conditions)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    query = (
        _with_due(sa.select(Case, due).select_from(Case), due_table)
        .where(*conditions)
        .order_by(*_order(filters.sort, due))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = []
    for case, next_due in db.session.execute(query).all():
        rows.append(QueueRow(case=case, next_due=next_due, flags=flags_for(case, next_due, now)))
    action_count = count(_conditions(QueueFilters(view="action"), viewer, now, due))
    audit.record(
        "case.list",
        "case",
        "*",
        actor=viewer,
        detail={"view": filters.view, "page": page, "shown": len(rows), "total": total},
    )
    db.session.commit()
    return QueuePage(rows=rows, total=total, page=page, pages=pages, action_count=action_count)


def first_response_due(case: Case) -> datetime | None:
    if case.status != CaseStatus.NEW:
        return None
    return case.received_at + FIRST_RESPONSE.get(case.urgency, timedelta(days=3))


def flags_for(case: Case, next_due: datetime | None, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    flags: list[str] = []
    if case.status == CaseStatus.CLOSED:
        return flags
    if case.status == CaseStatus.NEW:
        flags.append("new")
    if case.assignee_id is None:
        flags.append("unassigned")
    respond_by = first_response_due(case)
    if (respond_by is not None and respond_by < now) or (next_due is not None and next_due < now):
        flags.append("overdue")
    elif next_due is not None and next_due < now + DUE_SOON:
        flags.append("due_soon")
    return flags


def next_due_for(case: Case) -> datetime | None:
    value: datetime | None = db.session.scalar(
        sa.select(sa.func.min(Referral.due_at)).where(
            Referral.case_id == case.id, Referral.state.in_(AWAITING)
        )
    )
    return value


# --- one case -------------------------------------------------------------------------------


def get_case(ref: str) -> Case | None:
    if not ref or len(ref) > 24:
        return None
    case: Case | None = db.session.scalar(sa.select(Case).where(Case.ref == ref))
    return case


def record_view(case: Case, viewer: User, part: str, **detail: Any) -> None:
    """Audit a read of a case (the page, its ciphertext or one attachment)."""
    audit.record("case.view", "case", case.id, actor=viewer, detail={"part": part, **detail})
    db.session.commit()


def allowed_transitions(case: Case) -> tuple[CaseStatus, ...]:
    return TRANSITIONS.get(case.status, ())


def change_status(
    case: Case,
    new_status: CaseStatus,
    actor: User,
    outcome: Outcome | None = None,
    expected: CaseStatus | None = None,
) -> None:
    """Move the case along the workflow. ``expected`` is the status the caseworker saw: if a
    colleague moved the case meanwhile, the change is refused rather than applied on top."""
    if expected is not None and expected != case.status:
        raise CaseworkError(STALE_MESSAGE, 409)
    if new_status not in allowed_transitions(case):
        raise CaseworkError(
            _l("A case cannot go from this status to that one. Nothing was changed."), 409
        )
    if new_status == CaseStatus.CLOSED and outcome is None:
        raise CaseworkError(_l("Choose an outcome to close the case. Nothing was changed."))
    previous = case.status
    closing = new_status == CaseStatus.CLOSED
    now = utcnow()
    # Compare-and-set: of two concurrent changes from the same status, only one lands.
    result = db.session.execute(
        sa.update(Case)
        .where(Case.id == case.id, Case.status == previous)
        .values(
            status=new_status,
            outcome=outcome.value if closing and outcome else None,
            closed_at=now if closing else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        db.session.rollback()
        raise CaseworkError(STALE_MESSAGE, 409)
    audit.record(
        "case.status",
        "case",
        case.id,
        actor=actor,
        detail={
            "from": previous.value,
            "to": new_status.value,
            "outcome": outcome.value if closing and outcome else None,
        },
    )
    db.session.commit()
    db.session.refresh(case)


def assignable_users() -> Sequence[User]:
    return db.session.scalars(
        sa.select(User)
        .where(User.role.in_([Role.ADMIN, Role.CASEWORKER]), User.is_active_account.is_(True))
        .order_by(User.email)
    ).all()


def assign(case: Case, assignee_id: int | None, actor: User) -> None:
    if assignee_id is not None:
        user = db.session.get(User, assignee_id)
        if user is None or user not in assignable_users():
            raise CaseworkError(_l("Cases can only be assigned to active caseworkers and admins."))
    previous = case.assignee_id
    if previous == assignee_id:
        return
    case.assignee_id = assignee_id
    case.updated_at = utcnow()
    audit.record(
        "case.assign",
        "case",
        case.id,
        actor=actor,
        detail={"from_user_id": previous, "to_user_id": assignee_id},
    )
    db.session.commit()


def set_shared_status(case: Case, shared: SharedStatus, actor: User) -> None:
    previous = case.shared_status
    if previous == shared:
        return
    case.shared_status = shared
    case.updated_at = utcnow()
    audit.record(
        "case.shared_status",
        "case",
        case.id,
        actor=actor,
        detail={"from": previous.value, "to": shared.value},
    )
    db.session.commit()


def current_org_key() -> OrgKey | None:
    """The key new notes are sealed to: the one new cases are sealed to (newest not retired)."""
    from intake.services import keys

    return keys.current_org_key()


def _validated(sealed_body: str, what: str) -> str:
    try:
        crypto.validate_sealed(sealed_body, max_bytes=MESSAGE_MAX_BYTES, what=what)
    except crypto.InvalidCiphertext as exc:
        raise CaseworkError(
            _l(
                "The encrypted message was not accepted (%(reason)s). Nothing was saved.",
                reason=str(exc),
            )
        ) from exc
    return sealed_body


def add_note(case: Case, sealed_body: str, org_key_id: int | None, actor: User) -> CaseMessage:
    """Store an internal note sealed in the browser to the organisation's current key."""
    key = current_org_key()
    if key is None or org_key_id != key.id:
        raise CaseworkError(
            _l(
                "The note was sealed to a key that is not the organisation's current key. "
                "Reload the page and try again."
            )
        )
    note = CaseMessage(
        case_id=case.id,
        kind=MessageKind.INTERNAL_NOTE,
        sealed_body=_validated(sealed_body, "note"),
        org_key_id=key.id,
        author_id=actor.id,
    )
    db.session.add(note)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record("case.note", "case", case.id, actor=actor, detail={"message_id": note.id})
    db.session.commit()
    return note


def add_reply(
    case: Case,
    sealed_body: str,
    actor: User,
    sealed_copy: str | None = None,
    org_key_id: int | None = None,
) -> CaseMessage:
    """Store a reply sealed to the submitter's reply key, and optionally the staff's own copy
    (an internal note sealed to the organisation key, since the reply itself only the submitter
    can open)."""
    if not case.reply_public_key:
        raise CaseworkError(_l("This submitter cannot receive replies."), 409)
    body = _validated(sealed_body, "reply")
    copy = None
    if sealed_copy:
        key = current_org_key()
        if key is None or org_key_id != key.id:
            raise CaseworkError(
                _l(
                    "The note was sealed to a key that is not the organisation's current key. "
                    "Reload the page and try again."
                )
            )
        copy = CaseMessage(
            case_id=case.id,
            kind=MessageKind.INTERNAL_NOTE,
            sealed_body=_validated(sealed_copy, "reply copy"),
            org_key_id=key.id,
            author_id=actor.id,
        )
    reply = CaseMessage(
        case_id=case.id, kind=MessageKind.STAFF_REPLY, sealed_body=body, author_id=actor.id
    )
    db.session.add(reply)
    if copy is not None:
        db.session.add(copy)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "case.reply",
        "case",
        case.id,
        actor=actor,
        detail={"message_id": reply.id, "copy_id": copy.id if copy is not None else None},
    )
    db.session.commit()
    return reply


def sealed_bundle(case: Case) -> dict[str, Any]:
    """Everything the browser needs to decrypt the case: ciphertext and ids, no plaintext."""
    authors = {
        user.id: user.email
        for user in db.session.scalars(
            sa.select(User).where(User.id.in_({m.author_id for m in case.messages}))
        )
    }
    return {
        "ref": case.ref,
        "org_key_id": case.org_key_id,
        "sealed_answers": case.sealed_answers,
        "attachments": [
            {
                "id": a.id,
                "size": a.size,
                "message_id": a.message_id,
                "created_at": a.created_at.isoformat(),
            }
            for a in case.attachments
        ],
        "messages": [
            {
                "id": m.id,
                "kind": m.kind.value,
                "org_key_id": m.org_key_id if m.kind != MessageKind.STAFF_REPLY else None,
                "sealed_body": m.sealed_body if m.kind != MessageKind.STAFF_REPLY else None,
                "author": authors.get(m.author_id) if m.author_id else None,
                "created_at": m.created_at.isoformat(),
            }
            for m in case.messages
        ],
    }


def referrals_for(case: Case) -> list[Referral]:
    """The case's referrals, nearest deadline first."""
    return list(
        db.session.scalars(
            sa.select(Referral)
            .where(Referral.case_id == case.id)
            .order_by(Referral.due_at.is_(None), Referral.due_at, Referral.id)
        )
    )


def get_attachment(case: Case, attachment_id: int) -> CaseAttachment | None:
    attachment: CaseAttachment | None = db.session.scalar(
        sa.select(CaseAttachment).where(
            CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id
        )
    )
    return attachment
