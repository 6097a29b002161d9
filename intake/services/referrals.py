"""Referral workflow: consent gate, state transitions and deadlines (DESIGN §5).

Each function owns its transaction and audits what it did (ids and states, never content). A
referral moves its case only through :func:`intake.services.casework.mark_referred`, so every
change of a case's status follows one table and is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import selectinload

from intake import clock, crypto, vocab
from intake.db import like_escape, utcnow
from intake.extensions import db
from intake.labels import STATE_LABELS, STATUS_LABELS
from intake.models import (
    AWAITING,
    NEAREST_DEADLINE_FIRST,
    Case,
    CaseStatus,
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralOutcome,
    ReferralState,
    ReminderOutbox,
    Role,
    UnStep,
    UnStepKind,
    Urgency,
    User,
)
from intake.services import audit, casework, consent, counting, directory, triage
from intake.services.deadlines import (
    CLOCK_STARTS,
    UN_KINDS,
    DeadlineError,
    due_at,
    due_soon_sql,
    moved_with,
    shortest_due_hours,
    un_follow_up_due,
)
from intake.services.errors import ServiceError
from intake.services.keys import current_org_key
from intake.services.settings import org_zone
from intake.services.transactions import transactional


class ReferralError(ServiceError):
    """A referral request that cannot be carried out."""


# ReferralError codes of a transition refused for one of its fields (said beside that field).
DATE_REFUSED = "date"
OUTCOME_REFUSED = "outcome"
# ... and of a referral refused for its consent override's reason (said beside the reason).
REASON_REFUSED = "override_reason"


class ConsentRequired(ReferralError):
    """The case has no recorded consent and no admin override was given."""


class DueHoursRefused(ReferralError):
    """The deadline in hours is outside what the kind allows (the form shows it beside it)."""


class AlreadyReferred(ReferralError):
    """The case has a referral to this entry still awaiting a reply (:func:`open_to`): the
    view links to it, ``referral_id``."""

    status = 409
    code = "already_referred"

    def __init__(self, message: Any, referral_id: int) -> None:
        super().__init__(message)
        self.referral_id = referral_id


def closed_case_message() -> LazyString:
    """What refuses a referral started or sent on a closed case. A closed case is reopened
    on its page, by its status ("Move to" "Reopen (Assessing)": casework.change_status back
    to assessing), and the message names that choice as the page does."""
    return _l(
        "This case was closed, perhaps by a colleague while you had this page open. To refer "
        "it, reopen it first: on the case page, “Move to” “Reopen (%(status)s)”. Nothing was "
        "changed.",
        status=STATUS_LABELS[CaseStatus.ASSESSING],
    )


def _locked_case(case_id: int) -> Case | None:
    """The case, its row locked until the transaction ends (PostgreSQL; SQLite has one writer
    at a time already) and read afresh: whoever closes it, or refers it to the same entry,
    at the same moment waits for this transaction, and this one sees what they committed.

    ``FOR NO KEY UPDATE``, the lock an ``UPDATE`` of the case takes itself: it makes a
    status change or another referral's lock wait, not a row that only refers to the case
    (a message, a consent record), which would otherwise wait for a transaction that may
    itself be waiting for the audit chain it holds."""
    case: Case | None = _locked_row(Case, case_id)
    return case


def locked(referral_id: int) -> Referral | None:
    """The referral, read afresh with its row locked until the transaction ends (as
    :func:`_locked_case`), for a change that checks its state or dates and then writes: a
    colleague changing the same referral at the same moment waits for this transaction, and
    then checks what it committed (under READ COMMITTED both passed the check, and the later
    write overwrote the first without a word).

    Its case's row is locked first, then the referral's, in every change of a referral (as
    :func:`create` and sending lock the case): two transactions never each hold one of the
    rows and wait for the other."""
    case_id = db.session.scalar(sa.select(Referral.case_id).where(Referral.id == referral_id))
    if case_id is None or _locked_case(case_id) is None:
        return None
    referral: Referral | None = _locked_row(Referral, referral_id)
    return referral


def _locked_row(model: Any, row_id: int) -> Any:
    """The row of ``model`` with id ``row_id`` (or None), read afresh (what this session read
    before is overwritten) and locked ``FOR NO KEY UPDATE`` until the transaction ends."""
    return db.session.scalar(
        sa.select(model)
        .where(model.id == row_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


# Kinds that are a request of their own beside an open referral of another kind to the same
# entry: a follow-up is by design a second message to an entry that has not acknowledged the
# first (DESIGN §5), and a UN mandate's procedures run side by side (the Working Group's urgent
# appeal while its opinion is under way; the demo makes that case).
SEPARATE_REQUESTS = UN_KINDS | {ReferralKind.FOLLOW_UP}


def repeats(open_kind: ReferralKind, kind: ReferralKind) -> bool:
    """Whether a new referral of ``kind`` repeats an open one of ``open_kind`` to the same
    entry: the same kind always does, and so does any kind but :data:`SEPARATE_REQUESTS`."""
    return open_kind == kind or kind not in SEPARATE_REQUESTS


def open_to(case_id: int, entry_id: str, kind: ReferralKind) -> Referral | None:
    """The case's open referral to ``entry_id`` that a new one of ``kind`` would repeat
    (:func:`repeats`), the first started, if any: the case would go there twice.

    Open means awaiting a reply (:data:`AWAITING`: draft, sent, acknowledged): its deadline
    runs and its reminders go out, so a second one meant two deadlines and two sets of
    reminders for one request. One that has ended (withdrawn, closed) or had its answer, or
    its absence, recorded (replied, no reply) blocks nothing: its clock has stopped, and
    referring the case there again is a new request."""
    candidates = db.session.scalars(
        sa.select(Referral)
        .where(
            Referral.case_id == case_id,
            Referral.entry_id == entry_id,
            Referral.state.in_(AWAITING),
        )
        .order_by(Referral.id)
    )
    return next((referral for referral in candidates if repeats(referral.kind, kind)), None)


def open_by_entry(case: Case) -> dict[str, list[Referral]]:
    """The case's open referrals (:func:`open_to`) by entry id, first started first: what the
    case page's suggestions say is referred already."""
    found: dict[str, list[Referral]] = {}
    for referral in sorted(casework.awaiting_referrals(case), key=lambda r: r.id):
        found.setdefault(referral.entry_id, []).append(referral)
    return found


# action -> (states it may start from, state it leads to). A reply may come after "no reply"
# was recorded: governments and organisations answer late (a government's answer to a UN
# communication on day 75 of its 60, published in the communications report), and the late
# answer is what the referral got. Its clock stays stopped: neither state awaits a reply.
TRANSITIONS: dict[str, tuple[tuple[ReferralState, ...], ReferralState]] = {
    "send": ((ReferralState.DRAFT,), ReferralState.SENT),
    "acknowledge": ((ReferralState.SENT,), ReferralState.ACKNOWLEDGED),
    "reply": (
        (ReferralState.SENT, ReferralState.ACKNOWLEDGED, ReferralState.NO_REPLY),
        ReferralState.REPLIED,
    ),
    "no_reply": ((ReferralState.SENT, ReferralState.ACKNOWLEDGED), ReferralState.NO_REPLY),
    "close": ((ReferralState.REPLIED, ReferralState.NO_REPLY), ReferralState.CLOSED),
    "withdraw": (AWAITING, ReferralState.WITHDRAWN),
}
# For a referral to a UN mechanism, these actions are UN steps (``un_steps.record``).
ACTION_STEPS = {
    "send": UnStepKind.SUBMITTED,
    "acknowledge": UnStepKind.ACKNOWLEDGED,
    "reply": UnStepKind.REPLY_RECEIVED,
    "no_reply": UnStepKind.NO_REPLY,
}
# Why an admin refers a case without recorded consent: a fixed list, so that no free text
# about the person ever sits in the clear (DESIGN §1.1). Labels live with the form.
OVERRIDE_REASONS = (
    "life_or_liberty_at_risk",
    "detained_cannot_be_asked",
    "asked_by_family_or_lawyer",
    "submitter_unreachable",
    "public_information_only",
)


def deadline_for(
    kind: ReferralKind,
    start: datetime,
    entry: DirectoryEntry | None,
    *,
    due_hours: int | None = None,
) -> datetime:
    """When a referral of ``kind`` to ``entry`` whose clock started at ``start`` is due: the
    entry's response time and the FOLLOW_UP_DAYS setting, on the organisation's calendar.
    Creating, sending, the form's preview and the demo data all ask here."""
    return due_at(
        kind,
        start,
        org_zone(),
        response_days=entry.response_days if entry is not None else None,
        due_hours=due_hours,
        follow_up_days=int(current_app.config["FOLLOW_UP_DAYS"]),
    )


def _schedule(referral: Referral, clock_start: datetime, entry: DirectoryEntry | None) -> None:
    referral.clock_started_at = clock_start
    referral.due_at = deadline_for(referral.kind, clock_start, entry, due_hours=referral.due_hours)


def accepted_kinds(entry: DirectoryEntry) -> tuple[ReferralKind, ...]:
    """The kinds of referral an entry takes, in the directory's order (its natural kind first).

    An entry whose kinds the directory does not list (``[]``) takes any kind, with an NGO
    referral as its natural one: the directory says nothing, so we do not refuse."""
    kinds = tuple(
        ReferralKind(kind) for kind in entry.referral_kinds or () if kind in set(ReferralKind)
    )
    if kinds:
        return kinds
    return (ReferralKind.NGO_REFERRAL,) + tuple(
        kind for kind in ReferralKind if kind != ReferralKind.NGO_REFERRAL
    )


# What answers a risk now. The Working Group on Arbitrary Detention takes urgent appeals as
# well as its opinions, whose procedure takes months: a detention that cannot wait goes first
# as an appeal.
URGENT_KINDS = (ReferralKind.SP_URGENT_APPEAL, ReferralKind.EMBASSY_CONTACT)


def kinds_for(entry: DirectoryEntry, urgency: Urgency) -> tuple[ReferralKind, ...]:
    """The kinds an entry takes, the one to suggest first for a case of this urgency: for an
    immediate or days case, the first urgent kind the directory lists for the entry (an entry
    that lists none takes any kind, and suggests none of them for urgency); else its natural
    kind."""
    kinds = accepted_kinds(entry)
    if urgency in (Urgency.IMMEDIATE, Urgency.DAYS) and entry.referral_kinds:
        urgent = next((kind for kind in kinds if kind in URGENT_KINDS), None)
        if urgent is not None:
            return (urgent, *(kind for kind in kinds if kind != urgent))
    return kinds


@dataclass(frozen=True)
class ImpliedDue:
    """The deadline a choice of (entry, kind) implies, for the form to show before saving."""

    due_at: datetime
    clock_starts: str  # "sent", "created", "case_received" (CLOCK_STARTS) or "un_follow_up"


def implied_due(
    case: Case,
    entry: DirectoryEntry,
    kind: ReferralKind,
    *,
    due_hours: int | None = None,
    now: datetime | None = None,
) -> ImpliedDue:
    """When a referral would be due: if it were sent now, or from when its clock really starts
    (the case's arrival, or now for the reprisals cut-off). The same rule ``create`` applies."""
    now = now or utcnow()
    if kind in UN_KINDS:
        follow_up = un_follow_up_due(now, org_zone(), int(current_app.config["UN_FOLLOW_UP_DAYS"]))
        return ImpliedDue(follow_up, "un_follow_up")
    starts = CLOCK_STARTS[kind]
    start = case.received_at if starts == "case_received" else now
    return ImpliedDue(deadline_for(kind, start, entry, due_hours=due_hours), starts)


def _check_owner(owner_id: int, case: Case) -> User:
    """The colleague ``owner_id`` names, if they may own a referral of ``case``; reminders go
    to the owner, so someone who cannot open the case could not act on them."""
    owner = db.session.get(User, owner_id)
    standing = casework.holder_standing(owner, case.org_key_id)
    if owner is None or standing == "not_staff":
        raise ReferralError(_l("The owner must be an active caseworker or admin."), 422)
    if standing == "cannot_act":
        raise ReferralError(casework.cannot_act_message(owner.email), 422)
    return owner


OWNER_CHANGED = "referral.owner_changed"


def owner_change_detail(
    referral_id: int, from_user_id: int | None, to_user_id: int | None
) -> dict[str, Any]:
    """The detail of a ``referral.owner_changed`` event (recorded on the referral's case): by
    :func:`change_owner`, and by a deactivation's handover (``handover.hand_over``)."""
    return {"referral": referral_id, "from_user_id": from_user_id, "to_user_id": to_user_id}


@transactional
def change_owner(referral_id: int, owner_id: int, actor: User) -> Referral:
    """Give a referral that still awaits a reply, and its reminders, to another colleague who
    can open its case (as :func:`create` chooses one); audited as ``referral.owner_changed``."""
    referral = locked(referral_id)
    if referral is None:
        raise ReferralError(_l("This referral does not exist."), 404)
    if referral.state not in AWAITING:
        raise ReferralError(
            _l("Only a referral that still awaits a reply can be given to someone else."), 409
        )
    owner = _check_owner(owner_id, referral.case)
    previous = referral.owner_id
    if previous == owner.id:
        return referral
    referral.owner_id = owner.id
    audit.record(
        OWNER_CHANGED,
        "case",
        referral.case_id,
        actor=actor,
        detail=owner_change_detail(referral.id, previous, owner.id),
    )
    return referral


@transactional
def create(
    case_id: int,
    entry_id: str,
    kind: ReferralKind,
    actor: User,
    *,
    owner_id: int | None = None,
    due_hours: int | None = None,
    consent_override_reason: str | None = None,
    now: datetime | None = None,
) -> Referral:
    now = now or utcnow()
    # Locked before the checks below: two colleagues starting the same referral at once, or
    # one closing the case meanwhile, take turns, and the second sees what the first did.
    case = _locked_case(case_id)
    if case is None:
        raise ReferralError(_l("This case does not exist."))
    if case.status == CaseStatus.CLOSED:
        raise ReferralError(closed_case_message(), 409)
    entry = db.session.get(DirectoryEntry, entry_id)
    if entry is None or entry.retired_at is not None:
        raise ReferralError(_l("Choose an organisation or mechanism from the directory."))
    if kind not in accepted_kinds(entry):
        raise ReferralError(
            _l(
                "%(entry)s does not take this kind of referral. Choose one of its kinds.",
                entry=entry.name,
            )
        )
    reason = (consent_override_reason or "").strip()
    if reason and reason not in OVERRIDE_REASONS:
        raise ReferralError(_l("Choose a reason from the list."), code=REASON_REFUSED)
    # Consent for this purpose (and, to share, this organisation): DESIGN §5.
    consented = consent.allows_referral(case, kind, entry.id)
    if not consented:
        if actor.role != Role.ADMIN:
            if consent.withdrawal_against(case, kind, entry.id) is not None:
                raise ConsentRequired(
                    _l(
                        "Consent for this purpose was withdrawn: "
                        "only an admin can refer it, with a reason."
                    )
                )
            raise ConsentRequired(
                _l(
                    "No consent is recorded for this purpose: "
                    "only an admin can refer it, with a reason."
                )
            )
        if not reason:
            raise ConsentRequired(
                _l("No consent is recorded: an admin override needs a reason."),
                code=REASON_REFUSED,
            )
    # After consent: a referral that must not be made at all is refused for that first.
    existing = open_to(case.id, entry.id, kind)
    if existing is not None:
        raise AlreadyReferred(
            _l(
                "This case already has a referral to %(entry)s that is “%(state)s”: a "
                "colleague may have started it while you had this page open. Open that one "
                "rather than sending the case twice. Nothing was started.",
                entry=vocab.entry_name(entry),
                state=STATE_LABELS[existing.state],
            ),
            existing.id,
        )
    if owner_id is not None:
        _check_owner(owner_id, case)
    if due_hours is not None and not 1 <= due_hours <= 24 * 366:
        raise DueHoursRefused(_l("The deadline in hours is out of range."))
    shortest = shortest_due_hours(kind)
    if due_hours is not None and due_hours < shortest:
        raise DueHoursRefused(
            _l(
                "A draft-law letter gives the government at least %(hours)s hours: enter "
                "%(hours)s or more, or leave it empty for %(hours)s.",
                hours=shortest,
            )
        )
    referral = Referral(
        case_id=case.id,
        entry_id=entry.id,
        kind=kind,
        state=ReferralState.DRAFT,
        owner_id=owner_id or case.assignee_id or actor.id,
        created_by_id=actor.id,
        due_hours=due_hours,
        consent_override_reason=(reason or None) if not consented else None,
        created_at=now,
    )
    # Some clocks start before anything is sent: the case's arrival, or the yearly cut-off.
    match CLOCK_STARTS[kind]:
        case "case_received":
            _schedule(referral, case.received_at, entry)
        case "created":
            _schedule(referral, now, entry)
    db.session.add(referral)
    db.session.flush()
    audit.record(
        "referral.create",
        "case",
        case.id,
        actor=actor,
        detail={"referral": referral.id, "entry": entry.id, "kind": kind.value},
    )
    if not consented:
        audit.record(
            "referral.consent_override",
            "case",
            case.id,
            actor=actor,
            detail={
                "referral": referral.id,
                "reason": reason,
                "purpose": consent.purpose_for(kind).value,
            },
        )
    return referral


@transactional
def transition(
    referral_id: int,
    action: str,
    actor: User,
    *,
    at: datetime | None = None,
    outcome: str | None = None,
) -> Referral:
    """Move a referral along its workflow; ``at`` is when it happened (defaults to now)."""
    if action not in TRANSITIONS:
        raise ReferralError(_l("Unknown action."))
    referral = locked(referral_id)
    if referral is None:
        raise ReferralError(_l("This referral does not exist."))
    sources, target = TRANSITIONS[action]
    if referral.state not in sources:
        # Most often a colleague moved it after this page was read: said with its state's
        # label, as the pages show it (the code, "replied", read as such in every language).
        raise ReferralError(
            _l(
                "This referral is now “%(state)s”: someone changed it while you had it open. "
                "Nothing was changed.",
                state=STATE_LABELS[referral.state],
            ),
            409,
        )
    moment = at or utcnow()
    refused = refused_date(referral, moment)
    if refused is not None:
        raise ReferralError(refused, code=DATE_REFUSED)
    if action != "send" and referral.sent_at is not None and moment < referral.sent_at:
        raise ReferralError(
            _l("The date cannot be before the referral was sent."), code=DATE_REFUSED
        )
    if outcome is not None and action != "close":
        # Taken with another action it was dropped without a word ("Reply recorded.").
        raise ReferralError(
            _l(
                "An outcome is recorded only when the referral is closed: leave it empty for "
                "this step."
            ),
            code=OUTCOME_REFUSED,
        )
    if action == "close":
        if outcome not in set(ReferralOutcome):
            raise ReferralError(
                _l("Choose an outcome to close the referral."), code=OUTCOME_REFUSED
            )
        referral.outcome = outcome
        referral.closed_at = moment
    if referral.kind in UN_KINDS and action in ACTION_STEPS:
        # A UN referral moves by its own dated steps; the step records the transition.
        from intake.services import un_steps  # noqa: PLC0415 (un_steps builds on this module)

        un_steps.record(referral.id, ACTION_STEPS[action], actor, at=moment)
        return referral
    apply_transition(referral, action, actor, moment)
    return referral


def refused_date(referral: Referral, moment: datetime) -> LazyString | None:
    """Why no step of ``referral`` can be dated ``moment``, else None: in the future, or
    before its case's request was received. Such a date made the referral overdue at once,
    put its case first in the queue and skewed the reports' medians. The forms take minutes:
    a step dated the minute the request came in is not before it."""
    if moment > utcnow():
        return _l("The date cannot be in the future.")
    received = referral.case.received_at
    if moment < received.replace(second=0, microsecond=0):
        return _l(
            "The date cannot be before the request was received (%(when)s).",
            when=clock.local_text(received),
        )
    return None


def apply_transition(referral: Referral, action: str, actor: User, moment: datetime) -> None:
    """Move ``referral`` by ``action`` at ``moment`` and audit it, inside the caller's
    transaction (checks are the caller's: :func:`transition` or ``un_steps.record``)."""
    target = TRANSITIONS[action][1]
    if action == "send":
        # Sent from a closed case, it ran a deadline and reminders on a case nobody works on.
        # Locked as in :func:`create`: a colleague closing the case at once waits.
        case = _locked_case(referral.case_id)
        if case is None or case.status == CaseStatus.CLOSED:
            raise ReferralError(closed_case_message(), 409)
    previous = referral.state
    referral.state = target
    if action == "send":
        referral.sent_at = moment
        # A UN referral's clock follows its steps (``un_steps.record`` sets it after this).
        if referral.kind not in UN_KINDS and CLOCK_STARTS[referral.kind] == "sent":
            try:
                _schedule(referral, moment, referral.entry)
            except DeadlineError as error:
                raise ReferralError(str(error)) from error
        casework.mark_referred(referral.case, by=actor)
    elif action == "acknowledge":
        referral.acknowledged_at = moment
    elif action == "reply":
        referral.replied_at = moment
    audit.record(
        f"referral.{action}",
        "case",
        referral.case_id,
        actor=actor,
        detail={"referral": referral.id, "from": previous.value, "to": target.value},
    )


# A referral's recorded dates that are not UN steps (those are corrected by
# ``un_steps.correct``), each with the attribute it is kept in, in the order they happen.
RECORDED_DATES = {"sent": "sent_at", "acknowledged": "acknowledged_at", "replied": "replied_at"}
DATE_CORRECTED = "referral.date_corrected"


@dataclass(frozen=True)
class Correction:
    """What correcting a recorded date did to the referral's deadline."""

    due_before: datetime | None
    due_after: datetime | None

    @property
    def moved_deadline(self) -> bool:
        return self.due_before != self.due_after


def recorded_dates(referral: Referral) -> list[str]:
    """The dates of ``referral`` that :func:`correct_date` can correct: none for a UN
    referral with steps (its dates are its steps, ``un_steps.correct``); a UN referral sent
    before steps were recorded (migration 0018) has only these, its clock counted from
    "sent"."""
    if referral.kind in UN_KINDS and db.session.scalar(
        sa.select(UnStep.id).where(UnStep.referral_id == referral.id).limit(1)
    ):
        return []
    return [which for which, name in RECORDED_DATES.items() if getattr(referral, name) is not None]


def refused_between(
    moment: datetime, earlier: datetime | None, later: datetime | None
) -> LazyString | None:
    """Why a corrected date cannot be ``moment``, else None: it must stay between the dates on
    record just before and just after it, so that the referral's history keeps the order
    its steps were taken in."""
    if earlier is not None and moment < earlier:
        return _l(
            "The date cannot be before the step before it (%(when)s).",
            when=clock.local_text(earlier),
        )
    if later is not None and moment > later:
        return _l(
            "The date cannot be after the step after it (%(when)s).",
            when=clock.local_text(later),
        )
    return None


def audit_correction(
    referral: Referral, actor: User, which: str, before: datetime, after: datetime, **ids: int
) -> None:
    """The audit event of a corrected date: which date, and both values (dates, no content)."""
    audit.record(
        DATE_CORRECTED,
        "case",
        referral.case_id,
        actor=actor,
        detail={
            "referral": referral.id,
            "date": which,
            **ids,
            "from": before.astimezone(UTC).isoformat(timespec="minutes"),
            "to": after.astimezone(UTC).isoformat(timespec="minutes"),
        },
    )


@transactional
def correct_date(referral_id: int, which: str, moment: datetime, actor: User) -> Correction:
    """Correct the recorded date ``which`` (:data:`RECORDED_DATES`) of a referral to
    ``moment``: a mistyped "sent" date otherwise kept a wrong deadline, and its reminders,
    for good. A deadline counted from "sent" moves by as much as the date did
    (:func:`deadlines.moved_with`), and its reminders follow (:func:`renew_reminders`).
    Audited, both dates."""
    referral = locked(referral_id)
    if referral is None:
        raise ReferralError(_l("This referral does not exist."))
    if which not in recorded_dates(referral):
        raise ReferralError(_l("Choose one of the dates on record."), code=DATE_REFUSED)
    # Its dates in the order they happen (a reply after an acknowledgement), then its closing.
    chain = [
        (name, when)
        for name in (*RECORDED_DATES, "closed")
        if (when := getattr(referral, RECORDED_DATES.get(name, f"{name}_at"))) is not None
    ]
    position = [name for name, _ in chain].index(which)
    refused = refused_date(referral, moment) or refused_between(
        moment,
        chain[position - 1][1] if position > 0 else None,
        chain[position + 1][1] if position + 1 < len(chain) else None,
    )
    if refused is not None:
        raise ReferralError(refused, code=DATE_REFUSED)
    before: datetime = getattr(referral, RECORDED_DATES[which])
    due_before = referral.due_at
    setattr(referral, RECORDED_DATES[which], moment)
    if which == "sent" and CLOCK_STARTS[referral.kind] == "sent" and due_before is not None:
        referral.clock_started_at = moment
        referral.due_at = moved_with(referral.kind, due_before, before, moment, org_zone())
        renew_reminders(referral, due_before)
    audit_correction(referral, actor, which, before, moment)
    return Correction(due_before, referral.due_at)


def renew_reminders(referral: Referral, due_before: datetime | None) -> None:
    """After a corrected date: a deadline that moved and is still ahead gets the reminders of
    its own schedule (a new clock generation: "7 days before" the new date is a new reminder,
    not the old date's, already sent). One already past keeps its generation, so that its
    overdue reminders go on every week rather than once more at once."""
    due = referral.due_at
    if due is not None and due != due_before and due > utcnow():
        referral.clock_generation += 1


def next_best(referral: Referral) -> dict[str, Any] | None:
    """For an overdue referral: the best triage suggestion not yet tried for this case."""
    return next_best_for([referral]).get(referral.id)


def next_best_for(overdue: Sequence[Referral]) -> dict[int, dict[str, Any] | None]:
    """:func:`next_best` of each of ``overdue`` (by referral id), in three statements however
    many there are: the entries each case has tried, the cases' routing, the entries named.

    Against the directory as it is now (triage.current_suggestions); an entry that takes no
    individual case (an information source: ranked last, still a suggestion to read) is
    passed over for the next one, never offered as where to refer the case."""
    case_ids = {referral.case_id for referral in overdue}
    if not case_ids:
        return {}
    tried: dict[int, set[str]] = {case_id: set() for case_id in case_ids}
    for case_id, entry_id in db.session.execute(
        sa.select(Referral.case_id, Referral.entry_id).where(Referral.case_id.in_(case_ids))
    ):
        tried[case_id].add(entry_id)
    routings = db.session.execute(
        sa.select(Case.id, *(getattr(Case, name) for name in triage.ROUTING_COLUMNS)).where(
            Case.id.in_(case_ids)
        )
    )
    index = directory.triage_index()
    suggested = {row.id: triage.current_suggestions(row, index) for row in routings}
    untried = {
        case_id: [s for s in suggested.get(case_id) or [] if s.get("id") not in tried[case_id]]
        for case_id in case_ids
    }
    wanted = {str(s.get("id", "")) for suggestions in untried.values() for s in suggestions}
    entries = {
        entry.id: entry
        for entry in db.session.scalars(
            sa.select(DirectoryEntry).where(DirectoryEntry.id.in_(wanted))
        )
    }

    def referable(suggestion: dict[str, Any]) -> bool:
        entry = entries.get(str(suggestion.get("id", "")))
        return (
            entry is not None
            and entry.active
            and triage.NO_DIRECT_CASEWORK not in entry.condition_ids()
        )

    best = {
        case_id: next((s for s in suggestions if referable(s)), None)
        for case_id, suggestions in untried.items()
    }

    def named(suggestion: dict[str, Any] | None) -> dict[str, Any] | None:
        if suggestion is None:
            return None
        entry = entries.get(str(suggestion.get("id", "")))
        # Named in the reader's language, as the entry is everywhere else.
        return {**suggestion, "name": vocab.entry_name(entry)} if entry else suggestion

    return {referral.id: named(best[referral.case_id]) for referral in overdue}


@dataclass(frozen=True)
class ReferralFilters:
    """What /referrals lists: a view (``VIEWS``) narrowed by kind, state, owner and reference."""

    view: str = "action"
    kind: ReferralKind | None = None
    state: ReferralState | None = None
    owner: int | None = None  # a user id; ``mine`` uses :func:`mine` for the viewer
    mine: bool = False
    q: str = ""


VIEWS = ("action", "overdue", "due_soon", "awaiting", "timeline", "all")


def listing(filters: ReferralFilters, viewer_id: int, now: datetime) -> sa.Select[tuple[Referral]]:
    """The referrals of a /referrals view, nearest deadline first (a query to paginate)."""
    return _in_page_order(_listed(filters, viewer_id, now))


def _in_page_order(listed: sa.Select[tuple[Referral]]) -> sa.Select[tuple[Referral]]:
    """The referrals ``listed``, nearest deadline first, with what each row shows."""
    # What each row shows of its case, entry and owner comes with the page: loaded one row at
    # a time from the template, they were three statements per row.
    return listed.options(
        selectinload(Referral.case),
        selectinload(Referral.entry),
        selectinload(Referral.owner),
    ).order_by(*NEAREST_DEADLINE_FIRST)


def _listed(filters: ReferralFilters, viewer_id: int, now: datetime) -> sa.Select[tuple[Referral]]:
    """The referrals a /referrals view and its filters ask for, in no order: what the page
    lists (:func:`listing`) and what it counts (:func:`listing_page`)."""
    query = sa.select(Referral)
    awaiting = Referral.state.in_(AWAITING)
    match filters.view:
        case "overdue":
            query = query.where(awaiting, Referral.due_at < now)
        case "due_soon":
            query = query.where(awaiting, due_soon_sql(Referral.due_at, now))
        case "awaiting" | "timeline":
            # Awaiting a reply, on a deadline's timeline: sent. A draft has asked nothing yet
            # and has no clock (it is in "action", and counted as "not sent yet").
            query = query.where(awaiting, Referral.state != ReferralState.DRAFT)
        case "action":
            # A draft is work too: until it is sent its clock has not started, and it would
            # otherwise be in no view that asks for action (usability pass, 2026-12-02).
            query = query.where(
                awaiting,
                sa.or_(
                    due_soon_sql(Referral.due_at, now, or_overdue=True),
                    Referral.state == ReferralState.DRAFT,
                ),
            )
    if filters.kind is not None:
        query = query.where(Referral.kind == filters.kind)
    if filters.state is not None:
        query = query.where(Referral.state == filters.state)
    if filters.mine:
        query = query.where(mine(viewer_id))
    elif filters.owner is not None:
        query = query.where(Referral.owner_id == filters.owner)
    if filters.q:
        pattern = "%" + like_escape(filters.q.upper()) + "%"
        # Joined only to search: every referral has its case, so the join changes nothing
        # else, and it made the page's count hash all 100,000 cases (issue 14).
        query = query.join(Case, Case.id == Referral.case_id).where(
            Case.ref.ilike(pattern, escape="\\")
        )
    return query


@dataclass(frozen=True)
class ListingPage:
    """One page of a /referrals view. ``total`` is counted only as far as the page needs
    (:mod:`counting`: up to COUNT_CAP, or to the end of the page asked for); above that
    (``capped``) it means "more", and ``pages`` is this page and the next, as on the queue."""

    items: list[Referral]
    page: int
    per_page: int
    total: int
    capped: bool

    @property
    def pages(self) -> int:
        if self.capped:
            return self.page + 1
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int:
        return self.page + 1


def listing_page(
    filters: ReferralFilters, viewer: User, now: datetime, page: int, per_page: int
) -> ListingPage:
    """One page of a /referrals view (:func:`listing`), audited as a listing, as the case
    queue is (``queue.queue``): which referrals it showed, and so which case went to which
    organisation, is a read of those cases (DESIGN §1.6). Its count reads no further than the
    page needs (:class:`ListingPage`): counting every running referral took 29 ms a view at
    157,000 of them, whatever page was shown (issue 14).

    The listing only reads and its audit event is its only write: the commit leaves the rows
    read as they were, so the page needs no reload per object after it."""
    session = db.session()
    expire_on_commit = session.expire_on_commit
    session.expire_on_commit = False
    try:
        return _listed_page(filters, viewer, now, page, per_page)
    finally:
        session.expire_on_commit = expire_on_commit


LIST_ACTION = "referral.list"


@transactional
def _listed_page(
    filters: ReferralFilters, viewer: User, now: datetime, page: int, per_page: int
) -> ListingPage:
    count_limit = max(counting.COUNT_CAP, page * per_page)
    # Built once for the count and the page: a "mine" view reads who reminders reach to build it.
    listed = _listed(filters, viewer.id, now)
    found = listed.with_only_columns(Referral.id)
    total = db.session.scalar(sa.select(counting.at_most(found, count_limit))) or 0
    query = _in_page_order(listed).limit(per_page).offset((page - 1) * per_page)
    rows = cast(list[Referral], list(db.session.scalars(query)))
    capped = total > count_limit
    pagination = ListingPage(rows, page, per_page, total, capped)
    detail: dict[str, Any] = {
        "view": filters.view,
        "page": pagination.page,
        "shown": len(rows),
        "total": total,
        # The cases as the case list names them (the audit page's case filter finds them),
        # and the referrals, each to one organisation.
        "cases": list(dict.fromkeys(referral.case_id for referral in rows)),
        "referrals": [referral.id for referral in rows],
    }
    if capped:
        detail["capped"] = True
    narrowed = _filters_detail(filters)
    if narrowed:
        detail["filters"] = narrowed
    audit.record_listing(LIST_ACTION, viewer, detail)
    return pagination


def _filters_detail(filters: ReferralFilters) -> dict[str, Any]:
    """The filters that narrowed a listing, as codes and ids. The reference box's text is
    not kept, only that it searched: anything may be typed there, a name as well."""
    narrowed: dict[str, Any] = {}
    if filters.kind is not None:
        narrowed["kind"] = filters.kind.value
    if filters.state is not None:
        narrowed["state"] = filters.state.value
    if filters.mine:
        narrowed["owner"] = "me"
    elif filters.owner is not None:
        narrowed["owner"] = filters.owner
    if filters.q:
        narrowed["search"] = True
    return narrowed


def get(referral_id: int) -> Referral | None:
    return db.session.get(Referral, referral_id) if 0 < referral_id < 2**31 else None


@transactional
def record_view(referral: Referral, viewer: User) -> None:
    """The referral page carries the sealed note: a read of the case (DESIGN §1.6)."""
    audit.record(
        "referral.view", "case", referral.case_id, actor=viewer, detail={"referral": referral.id}
    )


def reminders_of(referral: Referral) -> Sequence[ReminderOutbox]:
    return db.session.scalars(
        sa.select(ReminderOutbox)
        .where(ReminderOutbox.referral_id == referral.id)
        .order_by(ReminderOutbox.id)
    ).all()


def allowed_actions(referral: Referral) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if referral.state in sources]


def mine(user_id: int) -> sa.ColumnElement[bool]:
    """The referrals that are this person's: exactly those whose reminders reach them
    (``reminders.choose_recipient``), in :func:`mine_parts`. Used by the overview on
    /referrals, its "mine" filter and the daily digest."""
    return sa.or_(sa.false(), *mine_parts(user_id))


def mine_parts(user_id: int) -> list[sa.ColumnElement[bool]]:
    """:func:`mine` in disjoint parts, each of which an index can find (the owner's, or the
    cases a person holds and then their referrals):

    - those they own;
    - those on a case they hold whose owner is nobody, or somebody a reminder cannot reach
      (deactivated, or no longer a caseworker or admin: the hand-over of a deactivation
      leaves a referral with its owner when the successor cannot act on it);
    - for the admin reminded of what nobody else is (``casework.reminded_admin``), those
      whose owner and case holder both are nobody a reminder can reach.

    None, for someone a reminder cannot reach. Counting only "owned, or unowned on a case
    held", a caseworker was reminded of referrals that their "yours", their "mine" filter and
    their daily digest left out.

    Who can be reached is read first (staff are few): written as subqueries of each part
    instead, the overview's twenty took 11 ms to plan, and "nobody or somebody unreachable"
    as one condition could use no index (every referral read for each count)."""
    reach = _reach()
    if user_id not in reach.reachable:
        return []
    held = Referral.case_id.in_(sa.select(Case.id).where(Case.assignee_id == user_id))
    owners_standing_in: list[sa.ColumnElement[bool]] = [Referral.owner_id.is_(None)]
    if reach.unreachable:
        owners_standing_in.append(Referral.owner_id.in_(reach.unreachable))
    parts = [Referral.owner_id == user_id, *(sa.and_(o, held) for o in owners_standing_in)]
    if user_id == reach.reminded_admin:
        holders_standing_in = [Case.assignee_id.is_(None)]
        if reach.unreachable:
            holders_standing_in.append(Case.assignee_id.in_(reach.unreachable))
        unheld = Referral.case_id.in_(sa.select(Case.id).where(sa.or_(*holders_standing_in)))
        parts.extend(sa.and_(o, unheld) for o in owners_standing_in)
    return parts


@dataclass(frozen=True)
class _Reach:
    reachable: frozenset[int]  # whom a reminder can reach (casework.remindable)
    unreachable: tuple[int, ...]  # every other account, in id order
    reminded_admin: int | None  # casework.reminded_admin


def _reach() -> _Reach:
    """Whom reminders reach and whom not, in one read of the staff."""
    admin = casework.reminded_admin().scalar_subquery()
    rows = db.session.execute(
        sa.select(User.id, casework.remindable(), admin).order_by(User.id)
    ).all()
    return _Reach(
        reachable=frozenset(row[0] for row in rows if row[1]),
        unreachable=tuple(row[0] for row in rows if not row[1]),
        reminded_admin=rows[0][2] if rows else None,
    )


@dataclass(frozen=True)
class Overview:
    overdue: int
    due_soon: int
    awaiting: int
    drafts: int  # not sent yet (counted in ``awaiting`` too)


def _overview_conditions(now: datetime) -> list[tuple[sa.ColumnElement[bool], list[Any]]]:
    """Each count of :class:`Overview`, in its order, as a condition on a running referral and
    the index order a bounded count walks (see :func:`counting.at_most`): the deadlines'
    ``ix_referrals_awaiting_due`` from the earliest, where the overdue come first."""
    by_deadline = list(NEAREST_DEADLINE_FIRST)
    return [
        (Referral.due_at < now, by_deadline),
        (due_soon_sql(Referral.due_at, now), by_deadline),
        (Referral.state != ReferralState.DRAFT, []),
        (Referral.state == ReferralState.DRAFT, []),
    ]


def overview(
    now: datetime | None = None, owner_id: int | None = None, *, bounded: bool = False
) -> Overview:
    """Counts of open referrals (all, or :func:`mine` for ``owner_id``): overdue, due soon
    (``deadlines.is_due_soon``), awaiting a reply (sent), and drafts not sent yet. One
    statement.

    ``bounded`` (/referrals' summary): each count reads no further than COUNT_CAP + 1 rows
    (:mod:`counting`), and more than COUNT_CAP reads as "100+"; counted in full, the summary
    read every running referral on every view (33 ms at 157,000, and 11 ms more for the
    viewer's own). The daily digest counts in full: one person's, once a day."""
    now = now or utcnow()
    counts = _overview_conditions(now)
    running = Referral.state.in_(AWAITING)
    if bounded:
        limit = counting.COUNT_CAP
        columns: list[sa.ColumnElement[int]] = []
        parts = mine_parts(owner_id) if owner_id is not None else []
        for condition, order in counts:
            if owner_id is None:
                found = sa.select(Referral.id).where(running, condition).order_by(*order)
                columns.append(counting.at_most(found, limit))
                continue
            # :func:`mine` in its disjoint parts, each bounded and able to use its own index
            # (the owner's; the cases the person holds, then their referrals), summed.
            bounded_parts = [
                counting.at_most(sa.select(Referral.id).where(running, condition, part), limit)
                for part in parts
            ]
            columns.append(sum(bounded_parts, sa.literal(0)))
        values = [
            min(int(value), limit + 1) for value in db.session.execute(sa.select(*columns)).one()
        ]
    else:
        query = sa.select(*(sa.func.count().filter(condition) for condition, _ in counts))
        query = query.where(running)
        if owner_id is not None:
            query = query.where(mine(owner_id))
        values = [int(value) for value in db.session.execute(query).one()]
    overdue, due_soon, awaiting, drafts = values
    return Overview(overdue=overdue, due_soon=due_soon, awaiting=awaiting, drafts=drafts)


# --- The referral's note, sealed in the browser (DESIGN §1.1) ---------------------------------

NOTE_MAX_BYTES = 64 * 1024  # the sealed box, padded: ~60 KiB of text is far more than a note
# The first 44 base64 characters of a sealed box hold its ephemeral public key, new for every
# seal: they name one version of the note without the server reading anything.
NOTE_VERSION_CHARS = 44


class NoteRejected(ReferralError):
    """A sealed note the server will not store."""


def note_version(sealed_note: str | None) -> str:
    """What a page that showed ``sealed_note`` sends back as ``replaces`` ("" for no note)."""
    return (sealed_note or "")[:NOTE_VERSION_CHARS]


@transactional
def set_note(
    referral_id: int,
    sealed_note: str,
    org_key_id: int | None,
    actor: User,
    *,
    replaces: str | None = None,
) -> Referral:
    """Replace the referral's note with ``sealed_note``, sealed in the browser to the current
    organisation key ``org_key_id``. The server only checks the shape: standard base64 of a
    ``crypto_box_seal`` of a ``sodium_pad``-ded (1024-byte block) JSON ``{"body": text}``; it
    cannot read it. Audited without content.

    ``replaces`` (:func:`note_version` of the note the writer saw) refuses to overwrite a note
    someone else saved in the meantime, which the writer has never read."""
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NoteRejected(_l("This referral does not exist."), 404)
    if not isinstance(sealed_note, str) or not sealed_note:
        raise NoteRejected(
            _l("The note did not arrive encrypted. It needs JavaScript. Nothing was saved.")
        )
    try:
        raw = crypto.validate_sealed(sealed_note, max_bytes=NOTE_MAX_BYTES, what="note")
    except crypto.InvalidCiphertext as error:
        if "too large" in str(error):
            raise NoteRejected(_l("The note is too long. Nothing was saved."), 413) from error
        raise NoteRejected(
            _l("The note did not arrive encrypted. It needs JavaScript. Nothing was saved.")
        ) from error
    # Padded to whole blocks before sealing, so its size says nothing about its length.
    if (len(raw) - crypto.SEAL_OVERHEAD) % crypto.PAD_BLOCK:
        raise NoteRejected(
            _l("The note did not arrive encrypted. It needs JavaScript. Nothing was saved.")
        )
    key = current_org_key()
    if key is None or org_key_id != key.id:
        raise NoteRejected(
            _l(
                "The note was sealed to a key that is not the organisation's current key. "
                "Reload the page and try again. Nothing was saved."
            ),
            409,
        )
    if replaces is not None and (
        not isinstance(replaces, str) or len(replaces) > NOTE_VERSION_CHARS
    ):
        raise NoteRejected(_l("The request could not be understood. Nothing was saved."))
    match = Referral.id == referral.id
    if replaces is not None:
        # One conditional UPDATE: two writers racing cannot both pass the check.
        match = sa.and_(
            match,
            sa.or_(Referral.sealed_note.is_(None), Referral.sealed_note == "")
            if not replaces
            else sa.func.substr(Referral.sealed_note, 1, NOTE_VERSION_CHARS) == replaces,
        )
    changed = db.session.execute(
        sa.update(Referral)
        .where(match)
        .values(sealed_note=sealed_note, note_org_key_id=key.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise NoteRejected(
            _l(
                "Someone else changed the note after you opened this page. Copy your text, "
                "reload the page to read theirs, then save again. Nothing was saved."
            ),
            409,
        )
    db.session.refresh(referral)
    audit.record(
        "referral.note",
        "case",
        referral.case_id,
        actor=actor,
        detail={"referral": referral.id, "org_key_id": key.id},
    )
    return referral
