"""Casework: the staff workflow of one case — its status, assignment, sealed notes and replies.

This module is the only writer of ``Case.status``: every change follows :data:`TRANSITIONS`, is
compare-and-set against the status the caseworker saw, and is audited. Each function is one
transaction with the audit event that describes it, or nothing at all. Audit details carry ids,
states and counts only — never anything a submitter or caseworker wrote (that is sealed and the
server cannot read it).

Message format (notes, replies, follow-ups; the same as intake.services.submissions):
``sealed_body`` is standard base64 of ``crypto_box_seal(sodium_pad(UTF-8 JSON {"body": ...},
1024), key)``. Notes are sealed to the organisation's current key, replies to the submitter's
reply key. Audit events name the case by its id, as the intake side does.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    NEAREST_DEADLINE_FIRST,
    Case,
    CaseAttachment,
    CaseMessage,
    CaseOutcome,
    CaseStatus,
    KeyGrant,
    MessageKind,
    Passkey,
    Referral,
    Role,
    SharedStatus,
    Urgency,
    User,
    queue_state,
)
from intake.models.queue_state import first_response_at
from intake.services import audit, search
from intake.services.errors import ServiceError
from intake.services.keys import current_org_key
from intake.services.transactions import transactional

# A sealed note or reply: 1024-byte padded blocks plus the seal; 64 KiB is pages of text.
MESSAGE_MAX_BYTES = 64 * 1024
# What the submitter sees at /status for each status of the case (unless held back).
PUBLIC_STATUS = {
    CaseStatus.NEW: SharedStatus.RECEIVED,
    CaseStatus.ASSESSING: SharedStatus.ASSESSING,
    CaseStatus.REFERRED: SharedStatus.REFERRED,
    CaseStatus.MONITORING: SharedStatus.WAITING,
    CaseStatus.CLOSED: SharedStatus.CLOSED,
}
STALE_MESSAGE = _l(
    "Someone changed this case while you had it open. Check its status and try again. "
    "Nothing was changed."
)
WRONG_KEY_MESSAGE = _l(
    "The note was sealed to a key that is not the organisation's current key. "
    "Reload the page and try again."
)

# The workflow: forward one step, close from anywhere open, and step back to assessing when a
# referral falls through or a closed case comes back.
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.NEW: (CaseStatus.ASSESSING, CaseStatus.CLOSED),
    CaseStatus.ASSESSING: (CaseStatus.REFERRED, CaseStatus.MONITORING, CaseStatus.CLOSED),
    CaseStatus.REFERRED: (CaseStatus.MONITORING, CaseStatus.ASSESSING, CaseStatus.CLOSED),
    CaseStatus.MONITORING: (CaseStatus.CLOSED, CaseStatus.ASSESSING, CaseStatus.REFERRED),
    CaseStatus.CLOSED: (CaseStatus.ASSESSING,),
}


class CaseworkError(ServiceError):
    """A change to a case that is refused."""


class Received(Protocol):
    """What the first-response deadline reads of a case: a loaded ``Case`` or a queue row's
    columns (``queue.QueueCase``)."""

    @property
    def status(self) -> CaseStatus: ...
    @property
    def urgency(self) -> Urgency: ...
    @property
    def received_at(self) -> datetime: ...


def first_response_due(case: Received) -> datetime | None:
    if case.status != CaseStatus.NEW:
        return None
    return first_response_at(case.urgency, case.received_at)


# --- one case -------------------------------------------------------------------------------


def get_case(ref: str) -> Case | None:
    if not ref or len(ref) > 24:
        return None
    case: Case | None = db.session.scalar(sa.select(Case).where(Case.ref == ref))
    return case


@transactional
def record_view(case: Case, viewer: User, part: str, **detail: Any) -> None:
    """Audit a read of a case (the page, its ciphertext or one attachment)."""
    audit.record("case.view", "case", case.id, actor=viewer, detail={"part": part, **detail})


def allowed_transitions(case: Case) -> tuple[CaseStatus, ...]:
    return TRANSITIONS.get(case.status, ())


def check_status_change(
    case: Case,
    new_status: CaseStatus,
    outcome: CaseOutcome | None = None,
    expected: CaseStatus | None = None,
) -> None:
    """Raise :class:`CaseworkError` if :func:`change_status` would refuse this change (it
    writes nothing): a page asks for a confirmation only of a change that can be made."""
    if expected is not None and expected != case.status:
        raise CaseworkError(STALE_MESSAGE, 409)
    if new_status not in allowed_transitions(case):
        raise CaseworkError(
            _l("A case cannot go from this status to that one. Nothing was changed."), 409
        )
    if new_status == CaseStatus.CLOSED and outcome is None:
        raise CaseworkError(_l("Choose an outcome to close the case. Nothing was changed."))


def awaiting_referrals(case: Case) -> list[Referral]:
    """The case's referrals that still await a reply, nearest deadline first. Closing the case
    leaves them as they are: their deadlines and reminders go on until each is closed or
    withdrawn, so the case page asks before it closes a case that has any."""
    return [referral for referral in referrals_for(case) if referral.state in AWAITING]


@transactional
def change_status(
    case: Case,
    new_status: CaseStatus,
    actor: User,
    outcome: CaseOutcome | None = None,
    expected: CaseStatus | None = None,
) -> None:
    """Move the case along the workflow. ``expected`` is the status the caseworker saw: if a
    colleague moved the case meanwhile, the change is refused rather than applied on top."""
    check_status_change(case, new_status, outcome, expected)
    previous = case.status
    closing = new_status == CaseStatus.CLOSED
    now = utcnow()
    # Compare-and-set: of two concurrent changes from the same status, only one lands.
    result = db.session.execute(
        sa.update(Case)
        .where(Case.id == case.id, Case.status == previous)
        .values(
            status=new_status,
            # The submitter's view follows the case, unless a caseworker holds it back.
            shared_status=sa.case(
                (Case.shared_status_held.is_(True), Case.shared_status),
                else_=sa.literal(PUBLIC_STATUS[new_status].value),
            ),
            outcome=outcome.value if closing and outcome else None,
            closed_at=now if closing else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise CaseworkError(STALE_MESSAGE, 409)
    # The status decides whether the first-response deadline still counts for the queue.
    queue_state.refresh(db.session, [case.id])
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
    db.session.refresh(case)


@transactional
def mark_referred(case: Case, by: User) -> None:
    """A referral of the case was sent: the case is referred — through assessing, each step
    audited, if nobody had moved it yet. Later states (monitoring, closed) stay as they are."""
    if case.status == CaseStatus.NEW:
        change_status(case, CaseStatus.ASSESSING, by)
    if case.status == CaseStatus.ASSESSING:
        change_status(case, CaseStatus.REFERRED, by)


CASE_HOLDER_ROLES = (Role.ADMIN, Role.CASEWORKER)
NOT_ASSIGNABLE_MESSAGE = _l("Cases can only be assigned to active caseworkers and admins.")
CLOSED_NOT_ASSIGNABLE_MESSAGE = _l(
    "This case is closed: reopen it before assigning it. Nothing was changed."
)


def cannot_act_message(email: str) -> Any:
    return _l(
        "%(email)s cannot open this case yet: they need to sign in with a confirmed second "
        "factor and hold the organisation key it is sealed to. Nothing was changed.",
        email=email,
    )


def able_to_act(org_key_id: int | sa.ColumnElement[Any] | None) -> sa.ColumnElement[bool]:
    """The staff (a condition on ``User``) who can act on a case sealed to ``org_key_id``:
    active caseworkers and admins who can sign in (a password and a confirmed second factor:
    TOTP or a passkey) and hold an unrevoked grant of that key. ``None``: of any key.

    Someone else may be listed, but never given a case or a referral: its reminders would go
    to a person who cannot open it."""
    grant = sa.select(KeyGrant.id).where(KeyGrant.user_id == User.id, KeyGrant.revoked_at.is_(None))
    if org_key_id is not None:
        grant = grant.where(KeyGrant.org_key_id == org_key_id)
    return sa.and_(
        User.role.in_(CASE_HOLDER_ROLES),
        User.is_active_account.is_(True),
        User.password_hash.is_not(None),
        sa.or_(
            sa.and_(User.totp_secret.is_not(None), User.totp_confirmed_at.is_not(None)),
            sa.exists().where(Passkey.user_id == User.id),
        ),
        grant.exists(),
    )


def remindable() -> sa.ColumnElement[bool]:
    """The staff (a condition on ``User``) whom a reminder may reach: active caseworkers and
    admins (``reminders.choose_recipient`` passes anyone else by)."""
    return sa.and_(User.is_active_account.is_(True), User.role.in_(CASE_HOLDER_ROLES))


def reminded_admin() -> sa.Select[int]:
    """Who is reminded of what no active colleague owns or holds (deadline reminders, a
    submitter's follow-up): the first active admin able to act on cases (:func:`able_to_act`:
    signs in, holds a key), else the first active admin — an organisation whose only admin
    holds no key yet still hears of its deadlines (a review: a key-less first admin was
    reminded of cases a colleague with the key could have opened)."""
    return (
        sa.select(User.id)
        .where(User.role == Role.ADMIN, User.is_active_account.is_(True))
        .order_by(sa.case((able_to_act(None), 0), else_=1), User.id)
        .limit(1)
    )


def reminded_admin_id() -> int | None:
    """The id :func:`reminded_admin` names."""
    return db.session.scalar(reminded_admin())


def assignable_users(
    org_key_id: int | None = None, *, include_inactive: bool = False
) -> Sequence[User]:
    """Who can hold a case or own a referral sealed to ``org_key_id`` (:func:`able_to_act`),
    by e-mail. ``include_inactive``: every caseworker and admin there is or was, whether they
    can act or not, as filters over past work need."""
    query = sa.select(User)
    if include_inactive:
        query = query.where(User.role.in_(CASE_HOLDER_ROLES))
    else:
        query = query.where(able_to_act(org_key_id))
    return db.session.scalars(query.order_by(User.email)).all()


def can_act_on(user: User, org_key_id: int | None) -> bool:
    """Whether ``user`` can act on a case sealed to ``org_key_id`` (``None``: on any key)."""
    return bool(
        db.session.scalar(
            sa.select(sa.literal(True)).where(User.id == user.id, able_to_act(org_key_id))
        )
    )


def holder_standing(user: User | None, org_key_id: int) -> str:
    """Whether ``user`` may hold a case (or own a referral) sealed to ``org_key_id``:
    "able"; "not_staff" (nobody we know, a viewer, or an inactive account); or "cannot_act"
    (staff who cannot sign in or do not hold that key yet: :func:`able_to_act`)."""
    if user is None or user.role not in CASE_HOLDER_ROLES or not user.is_active_account:
        return "not_staff"
    return "able" if can_act_on(user, org_key_id) else "cannot_act"


class Unseen(enum.Enum):
    """No holder was seen: the request did not say whom the person saw holding the case."""

    UNSEEN = "unseen"


UNSEEN = Unseen.UNSEEN


class HolderChanged(CaseworkError):
    """Someone gave the case to another person (or to nobody) while the page was open.
    ``holder_id`` is who holds it now; the message is the general "someone changed this case",
    for a view that does not name the holder."""

    def __init__(self, holder_id: int | None) -> None:
        super().__init__(STALE_MESSAGE, 409, "holder_changed")
        self.holder_id = holder_id


@transactional
def assign(
    case: Case,
    assignee_id: int | None,
    actor: User,
    expected: int | None | Literal[Unseen.UNSEEN] = UNSEEN,
) -> None:
    """Give ``case`` to ``assignee_id`` (``None``: nobody); audited. A closed case keeps whoever
    held it when it closed: it is reopened (back to assessing) before anyone takes it on.

    ``expected`` is the holder the person saw (``None``: nobody): if a colleague gave the case
    to someone else meanwhile, :class:`HolderChanged` refuses it rather than taking the case
    from them without a word (two colleagues' "Assign to me" on a case both saw with nobody:
    the second is refused). ``UNSEEN``: a request that does not say (see the assign view)."""
    if case.status == CaseStatus.CLOSED:
        raise CaseworkError(CLOSED_NOT_ASSIGNABLE_MESSAGE, 409)
    if assignee_id is not None:
        user = db.session.get(User, assignee_id)
        standing = holder_standing(user, case.org_key_id)
        if standing == "not_staff":
            raise CaseworkError(NOT_ASSIGNABLE_MESSAGE)
        if user is not None and standing == "cannot_act":
            raise CaseworkError(cannot_act_message(user.email))
    previous = case.assignee_id
    # Already with the person asked for (a double click, or a colleague did the same): there
    # is nothing to take from anyone, so nothing to refuse either.
    if previous == assignee_id:
        return
    if expected is not UNSEEN and expected != previous:
        raise HolderChanged(previous)
    # Compare-and-set against the holder this request read: of two concurrent assignments
    # from the same holder, only one lands (the other reads the new holder on refusal).
    holder_now = Case.assignee_id.is_(None) if previous is None else Case.assignee_id == previous
    result = db.session.execute(
        sa.update(Case)
        .where(Case.id == case.id, holder_now)
        .values(assignee_id=assignee_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        # A statement of its own sees the colleague's committed change (read committed).
        holder = db.session.scalar(sa.select(Case.assignee_id).where(Case.id == case.id))
        raise HolderChanged(holder)
    db.session.refresh(case)
    audit.record(
        "case.assign",
        "case",
        case.id,
        actor=actor,
        detail={"from_user_id": previous, "to_user_id": assignee_id},
    )


@transactional
def hold_public_status(case: Case, held: bool, actor: User) -> None:
    """Hold back what the submitter sees at its current value, or let it follow the case again
    (it then shows the case's status at once)."""
    if case.shared_status_held == held:
        return
    previous = case.shared_status
    case.shared_status_held = held
    if not held:
        case.shared_status = PUBLIC_STATUS[case.status]
    case.updated_at = utcnow()
    audit.record(
        "case.public_status_hold",
        "case",
        case.id,
        actor=actor,
        detail={"held": held, "from": previous.value, "to": case.shared_status.value},
    )


def _validated(sealed_body: str, what: str) -> str:
    """A sealed note, reply or reply copy: well-formed and padded to whole blocks (the browser
    pads; the server insists, so a stored length never tells one message's length)."""
    try:
        crypto.validate_padded(sealed_body, max_bytes=MESSAGE_MAX_BYTES, what=what)
    except crypto.InvalidCiphertext as exc:
        raise CaseworkError(
            _l(
                "The encrypted message was not accepted (%(reason)s). Nothing was saved.",
                reason=str(exc),
            )
        ) from exc
    return sealed_body


@transactional
def add_note(case: Case, sealed_body: str, org_key_id: int | None, actor: User) -> CaseMessage:
    """Store an internal note sealed in the browser to the organisation's current key."""
    key = current_org_key()
    if key is None or org_key_id != key.id:
        raise CaseworkError(WRONG_KEY_MESSAGE)
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
    search.needs_reindex(case.id)  # notes are searched with the case (search.SEARCHABLE_KINDS)
    audit.record("case.note", "case", case.id, actor=actor, detail={"message_id": note.id})
    return note


@transactional
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
            raise CaseworkError(WRONG_KEY_MESSAGE)
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
        search.needs_reindex(case.id)  # the staff's copy is a note, searched with the case
    case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "case.reply",
        "case",
        case.id,
        actor=actor,
        detail={"message_id": reply.id, "copy_id": copy.id if copy is not None else None},
    )
    if case.status == CaseStatus.NEW:
        # A reply is the first response (as a sent referral is: mark_referred): the case is
        # assessed from here, and its first-response deadline stops counting.
        change_status(case, CaseStatus.ASSESSING, actor)
    return reply


@dataclass(frozen=True)
class People:
    """Who the case page names: its assignee and the authors of its messages (by user id)."""

    assignee: User | None
    authors: dict[int, str]


def people_of(case: Case) -> People:
    assignee = db.session.get(User, case.assignee_id) if case.assignee_id else None
    ids = {m.author_id for m in case.messages if m.author_id}
    authors = (
        {u.id: u.email for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    return People(assignee=assignee, authors=authors)


def sealed_bundle(case: Case) -> dict[str, Any]:
    """Everything the browser needs to decrypt the case: ciphertext and ids, no plaintext."""
    authors = people_of(case).authors
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
            sa.select(Referral).where(Referral.case_id == case.id).order_by(*NEAREST_DEADLINE_FIRST)
        )
    )


def get_attachment(case: Case, attachment_id: int) -> CaseAttachment | None:
    attachment: CaseAttachment | None = db.session.scalar(
        sa.select(CaseAttachment).where(
            CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id
        )
    )
    return attachment
