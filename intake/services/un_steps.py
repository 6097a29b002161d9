"""The UN's own clock for a referral to a UN mechanism (DESIGN §5, issue 12, seed 002).

A submission to a mandate may lead to a communication to the government weeks later, or never.
Until it does, the referral's ``due_at`` is a follow-up clock (``UN_FOLLOW_UP_DAYS`` after the
last contact with the mandate) that asks the caseworker to check; from the communication (or a
WGAD opinion's transmission) it is the government's reply deadline by the rule table. ``due_at``
stays the one deadline that pages and the reminder scan read.

Every step is a dated, audited row. Only routing facts are in the clear: dates, the channel,
the type of communication, the mandates that joined, a stated deadline. The UN's reference, the
link to a publication and the summary of a government reply are sealed in the browser like a
referral's note (js/un-steps.js checks the reference and link there, as this module once did):
the UN publishes its communications, and they name the defender (DESIGN §1.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from intake import clock, crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    CommunicationType,
    Referral,
    ReferralKind,
    ReferralState,
    UnStep,
    UnStepKind,
    User,
)
from intake.services import audit, referrals
from intake.services.deadlines import (
    LEGISLATION_HOURS,
    UN_KINDS,
    DeadlineError,
    government_reply_due,
    un_follow_up_due,
)
from intake.services.keys import current_org_key
from intake.services.settings import org_zone
from intake.services.transactions import transactional

CHANNELS = ("online_form", "email", "staff_contact", "other")
SUMMARY_MAX_BYTES = 64 * 1024
# A sealed reference (at most 40 characters) or link (at most 500 ASCII characters) is one
# padded block: nothing longer was ever typed into those fields (js/un-steps.js).
FACT_MAX_BYTES = crypto.PAD_BLOCK + crypto.SEAL_OVERHEAD
MANDATES_MAX = 300
# Mandate names are public (e.g. "SR on human rights defenders; WG on Arbitrary Detention"):
# letters of any script, digits, spaces and light punctuation, Chinese too (，；、（）: a
# caseworker writing in Chinese was refused "任意拘留问题工作组，强迫…"); nothing markup-like.
MANDATES_PATTERN = re.compile(r"[\w ,;.'’()&/，；、（）-]+")

# Steps that move the referral's state too (the same transitions as every referral).
STEP_ACTIONS = {
    UnStepKind.SUBMITTED: "send",
    UnStepKind.ACKNOWLEDGED: "acknowledge",
    UnStepKind.REPLY_RECEIVED: "reply",
    UnStepKind.NO_REPLY: "no_reply",
}
# Contacts with the mandate that restart the follow-up clock while nothing has been sent.
CONTACTS = frozenset({UnStepKind.SUBMITTED, UnStepKind.SECOND_MESSAGE, UnStepKind.FACTS_UPDATE})
# Steps that come after the government's clock started (:func:`record` checks their dates).
AFTER_CLOCK = frozenset({UnStepKind.REPLY_RECEIVED, UnStepKind.NO_REPLY, UnStepKind.PUBLISHED})
# Steps whose date the referral keeps too (its workflow's dates, as for every referral).
STEP_DATES = {
    UnStepKind.SUBMITTED: "sent_at",
    UnStepKind.ACKNOWLEDGED: "acknowledged_at",
    UnStepKind.REPLY_RECEIVED: "replied_at",
}
# The step that starts the government's clock, per kind.
CLOCK_STEP = {
    ReferralKind.SP_URGENT_APPEAL: UnStepKind.COMMUNICATION_SENT,
    ReferralKind.SP_ALLEGATION_LETTER: UnStepKind.COMMUNICATION_SENT,
    ReferralKind.SP_LEGISLATION: UnStepKind.COMMUNICATION_SENT,
    ReferralKind.WGAD_OPINION: UnStepKind.OPINION_TRANSMITTED,
}


class StepRejected(referrals.ReferralError):
    """A UN step the server will not record (the message is safe to show)."""

    status = 422


# A UN reference or link that came in the clear (a page from before they were sealed, or no
# JavaScript) or as anything but ciphertext: refused, never stored.
NOT_SEALED = _l(
    "The UN reference and link did not arrive encrypted. They need JavaScript and your "
    "unlocked key. Nothing was saved."
)


def steps_of(referral: Referral, *, afresh: bool = False) -> Sequence[UnStep]:
    """The referral's steps, in the order they happened. ``afresh``: as committed now, also
    those this session read before (under :func:`referrals.locked`, a colleague's corrected
    date is seen, not the page's)."""
    query = (
        sa.select(UnStep)
        .where(UnStep.referral_id == referral.id)
        .order_by(UnStep.happened_at, UnStep.id)
    )
    if afresh:
        query = query.execution_options(populate_existing=True)
    return db.session.scalars(query).all()


def clock_of(referral: Referral, steps: Sequence[UnStep] | None = None) -> str | None:
    """Which clock ``due_at`` is for a referral to a UN mechanism: "reply" (the government's
    reply deadline, from the communication or a WGAD opinion's transmission) or "follow_up"
    (when to check with the mandate, nothing sent to the government yet); None for others."""
    if referral.kind not in CLOCK_STEP:
        return None
    known = steps_of(referral) if steps is None else steps
    started = any(step.kind == CLOCK_STEP[referral.kind] for step in known)
    return "reply" if started else "follow_up"


def government_clock_started(
    referral_id: sa.ColumnExpressionArgument[int],
) -> sa.ColumnElement[bool]:
    """SQL: the referral ``referral_id`` has the step that starts the government's clock (the
    queue reads it per row, as :func:`clock_of` per referral).

    A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL may run an EXISTS in a select list
    as one hashed scan of every matching step, chosen by the rows the list could hold (all
    open cases) rather than the page's 25; at 100,000 demo cases that scan was half the
    queue's first page (issue 14). A scalar subquery is looked up per row, by
    ``ix_un_steps_referral_happened``."""
    return (
        sa.select(UnStep.id)
        .where(
            UnStep.referral_id == referral_id,
            UnStep.kind.in_(sorted(set(CLOCK_STEP.values()))),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )


def clocks_of(referrals_shown: Sequence[Referral]) -> dict[int, str]:
    """:func:`clock_of` for a page of referrals, in one query: each UN referral's id and
    "reply" or "follow_up" (others are left out)."""
    un_ids = [referral.id for referral in referrals_shown if referral.kind in CLOCK_STEP]
    if not un_ids:
        return {}
    replying = set(
        db.session.scalars(
            sa.select(Referral.id).where(
                Referral.id.in_(un_ids), government_clock_started(Referral.id)
            )
        )
    )
    return {
        referral_id: "reply" if referral_id in replying else "follow_up" for referral_id in un_ids
    }


def _first(steps: Sequence[UnStep], kind: UnStepKind) -> UnStep | None:
    return next((step for step in steps if step.kind == kind), None)


def next_steps(referral: Referral, steps: Sequence[UnStep] | None = None) -> list[UnStepKind]:
    """The steps that can be recorded next, in the order the UN takes them."""
    if referral.kind not in UN_KINDS or referral.state in (
        ReferralState.CLOSED,
        ReferralState.WITHDRAWN,
    ):
        return []
    steps = steps_of(referral) if steps is None else steps
    kinds = {step.kind for step in steps}
    if referral.state == ReferralState.DRAFT:
        return [UnStepKind.SUBMITTED]
    clock_step = CLOCK_STEP[referral.kind]
    answered = referral.state in (ReferralState.REPLIED, ReferralState.NO_REPLY)
    possible: list[UnStepKind] = []
    if referral.state == ReferralState.SENT:
        # Not every mandate acknowledges, and some do so late: possible until it is recorded.
        possible += [UnStepKind.ACKNOWLEDGED]
    if clock_step not in kinds:
        if referral.state == ReferralState.SENT and UnStepKind.NOT_ACKNOWLEDGED not in kinds:
            possible += [UnStepKind.NOT_ACKNOWLEDGED]
        possible += [UnStepKind.SECOND_MESSAGE, UnStepKind.FACTS_UPDATE]
        if referral.kind == ReferralKind.WGAD_OPINION and UnStepKind.OPINION_ADOPTED not in kinds:
            possible += [UnStepKind.OPINION_ADOPTED]
        possible += [clock_step]
        return possible
    if not answered:
        possible += [UnStepKind.REPLY_RECEIVED, UnStepKind.NO_REPLY, UnStepKind.FACTS_UPDATE]
    elif referral.state == ReferralState.NO_REPLY:
        # The government answered after its deadline lapsed (referrals.TRANSITIONS).
        possible += [UnStepKind.REPLY_RECEIVED]
    if UnStepKind.PUBLISHED not in kinds:
        possible += [UnStepKind.PUBLISHED]
    possible += [UnStepKind.PRESS_RELEASE, UnStepKind.FURTHER_COMMUNICATION]
    return possible


@dataclass(frozen=True)
class StepFields:
    """What a step may carry besides its date, each checked by :func:`record`."""

    channel: str | None = None
    communication_type: str | None = None
    sealed_reference: str | None = None
    joined_mandates: str | None = None
    sealed_link: str | None = None
    due_hours: int | None = None
    sealed_summary: str | None = None
    # The key the sealed fields were sealed to (the page's current organisation key).
    org_key_id: int | None = None


def _mandates(value: str) -> str:
    text = " ".join(value.split())
    if len(text) > MANDATES_MAX or not MANDATES_PATTERN.fullmatch(text):
        raise StepRejected(
            _l("List the mandates that joined by name, separated by commas (no other signs).")
        )
    return text


def _checked_seal(
    sealed: str,
    org_key_id: int | None,
    max_bytes: int,
    *,
    too_long: LazyString,
    not_sealed: LazyString,
    other_key: LazyString,
) -> int:
    """Check a sealed field's shape (padded blocks, at most ``max_bytes``, as
    ``referrals.set_note`` checks a note's) and that it was sealed to the organisation's
    current key; that key's id. Each refusal is said in the field's own words."""
    try:
        crypto.validate_padded(sealed, max_bytes=max_bytes)
    except crypto.InvalidCiphertext as error:
        if "too large" in str(error):
            raise StepRejected(too_long, 413) from error
        raise StepRejected(not_sealed) from error
    key = current_org_key()
    if key is None or org_key_id != key.id:
        raise StepRejected(other_key, 409)
    return key.id


def _summary(sealed: str, org_key_id: int | None) -> int:
    """A sealed reply summary: the key it used (:func:`_checked_seal`)."""
    return _checked_seal(
        sealed,
        org_key_id,
        SUMMARY_MAX_BYTES,
        too_long=_l("The summary is too long. Nothing was saved."),
        not_sealed=_l(
            "The summary did not arrive encrypted. It needs JavaScript. Nothing was saved."
        ),
        other_key=_l(
            "The summary was sealed to a key that is not the organisation's current key. "
            "Reload the page and try again. Nothing was saved."
        ),
    )


def looks_sealed(value: str) -> bool:
    """Whether ``value`` has the shape of a sealed reference or link (a refused step's are
    given back to the page only then: never what came in the clear)."""
    try:
        crypto.validate_padded(value, max_bytes=FACT_MAX_BYTES)
    except crypto.InvalidCiphertext:
        return False
    return True


def _sealed_fact(sealed: str, org_key_id: int | None) -> int:
    """A sealed UN reference or link (one padded block): the key it used. What it says is
    checked in the browser only."""
    return _checked_seal(
        sealed,
        org_key_id,
        FACT_MAX_BYTES,
        too_long=_l("The UN reference or link is too long. Nothing was saved."),
        not_sealed=NOT_SEALED,
        other_key=_l(
            "The UN reference or link was sealed to a key that is not the organisation's "
            "current key. Reload the page and try again. Nothing was saved."
        ),
    )


@transactional
def record(
    referral_id: int,
    kind: UnStepKind,
    actor: User,
    *,
    at: datetime | None = None,
    fields: StepFields | None = None,
) -> UnStep:
    """Record that ``kind`` happened at ``at`` (default now), move the referral's state and
    clock as the step implies, and audit it (ids, step and date, never content)."""
    fields = fields or StepFields()
    # Locked, then checked: of two colleagues recording a step at once, the second sees the
    # first's (a reply and a "no reply" both landed, contradicting each other).
    referral = referrals.locked(referral_id)
    if referral is None:
        raise StepRejected(_l("This referral does not exist."), 404)
    if referral.kind not in UN_KINDS:
        raise StepRejected(_l("Only a referral to a UN mechanism has UN steps."))
    steps = list(steps_of(referral, afresh=True))
    if kind not in next_steps(referral, steps):
        raise StepRejected(_l("This step cannot be recorded now. Choose one of the next steps."))
    moment = at or utcnow()
    refused = _refused_order(referral, kind, moment, steps)
    if refused is not None:
        raise StepRejected(refused)
    clock_step = CLOCK_STEP[referral.kind]

    step = UnStep(referral_id=referral.id, kind=kind, happened_at=moment, recorded_by_id=actor.id)
    if fields.channel:
        if kind not in CONTACTS or fields.channel not in CHANNELS:
            raise StepRejected(_l("Choose how it was sent from the list."))
        step.channel = fields.channel
    if fields.communication_type:
        if kind != UnStepKind.COMMUNICATION_SENT or fields.communication_type not in set(
            CommunicationType
        ):
            raise StepRejected(_l("Choose the type of communication from the list."))
        step.communication_type = CommunicationType(fields.communication_type)
    elif kind == UnStepKind.COMMUNICATION_SENT:
        raise StepRejected(_l("Choose the type of communication from the list."))
    if fields.sealed_reference:
        if kind not in (UnStepKind.COMMUNICATION_SENT, UnStepKind.FURTHER_COMMUNICATION):
            raise StepRejected(_l("Only a communication has a UN reference."))
        step.reference_org_key_id = _sealed_fact(fields.sealed_reference, fields.org_key_id)
        step.sealed_reference = fields.sealed_reference
    if fields.joined_mandates:
        if kind not in (UnStepKind.COMMUNICATION_SENT, UnStepKind.FURTHER_COMMUNICATION):
            raise StepRejected(_l("Only a communication has mandates that joined it."))
        step.joined_mandates = _mandates(fields.joined_mandates)
    if fields.sealed_link:
        if kind not in (
            UnStepKind.PUBLISHED,
            UnStepKind.PRESS_RELEASE,
            UnStepKind.FURTHER_COMMUNICATION,
        ):
            raise StepRejected(_l("Only a publication or follow-up has a link."))
        step.link_org_key_id = _sealed_fact(fields.sealed_link, fields.org_key_id)
        step.sealed_link = fields.sealed_link
    elif kind == UnStepKind.PUBLISHED:
        raise StepRejected(_l("The link must be a web address starting with https://."))
    if fields.due_hours is not None:
        if kind != UnStepKind.COMMUNICATION_SENT or referral.kind != ReferralKind.SP_LEGISLATION:
            raise StepRejected(
                _l("Only a communication on draft legislation states its own deadline.")
            )
        if not LEGISLATION_HOURS <= fields.due_hours <= 24 * 366:
            raise StepRejected(
                _l("The stated deadline must be at least 48 hours and at most a year.")
            )
        step.due_hours = fields.due_hours
    if fields.sealed_summary:
        if kind != UnStepKind.REPLY_RECEIVED:
            raise StepRejected(_l("Only a reply has a summary."))
        step.summary_org_key_id = _summary(fields.sealed_summary, fields.org_key_id)
        step.sealed_summary = fields.sealed_summary

    action = STEP_ACTIONS.get(kind)
    if action is not None:
        referrals.apply_transition(referral, action, actor, moment)
    if kind == clock_step and step.due_hours is not None:
        referral.due_hours = step.due_hours
    # The clock follows the steps: the government's from the communication (or transmission),
    # never the submission; before it, a follow-up after the latest contact with the mandate.
    if _sets_the_clock(referral, kind, steps):
        _reclock(referral, [*steps, step])
    db.session.add(step)
    db.session.flush()
    # Which key sealed what it carries (all sealed on one page, to its current key).
    sealed_to = step.summary_org_key_id or step.reference_org_key_id or step.link_org_key_id
    audit.record(
        "referral.un_step",
        "case",
        referral.case_id,
        actor=actor,
        detail={
            "referral": referral.id,
            "step": kind.value,
            "un_step": step.id,
            **({"org_key_id": sealed_to} if sealed_to else {}),
        },
    )
    return step


def _sets_the_clock(referral: Referral, kind: UnStepKind, others: Sequence[UnStep]) -> bool:
    """Whether a step of ``kind`` (beside ``others``) is one the clock runs from: the step that
    starts the government's clock, or a contact with the mandate before it. Other steps leave
    the deadline alone, even if the time zone or the follow-up period changed since."""
    clock_kind = CLOCK_STEP[referral.kind]
    started = _first(others, clock_kind) is not None
    return kind == clock_kind or (kind in CONTACTS and not started)


def _reclock(referral: Referral, steps: Sequence[UnStep], *, new_generation: bool = True) -> None:
    """Set the referral's clock from its steps, as :func:`record` set it step by step: the
    government's reply deadline from the step that starts it, else the follow-up clock from
    the latest contact with the mandate. A deadline that moves starts a new generation of
    reminders, unless ``new_generation`` is False (a correction: ``referrals.renew_reminders``
    decides)."""
    clock_step = _first(steps, CLOCK_STEP[referral.kind])
    zone = org_zone()
    if clock_step is not None:
        start = clock_step.happened_at
        try:
            due = government_reply_due(referral.kind, start, zone, due_hours=referral.due_hours)
        except DeadlineError as error:
            raise StepRejected(str(error)) from error
    else:
        contacts = [step.happened_at for step in steps if step.kind in CONTACTS]
        if not contacts:
            return
        start = max(contacts)
        due = un_follow_up_due(start, zone, int(current_app.config["UN_FOLLOW_UP_DAYS"]))
    if new_generation and referral.due_at is not None and due != referral.due_at:
        # A deadline moved (a first clock keeps generation 0, the keys of older rows).
        referral.clock_generation += 1
    referral.clock_started_at, referral.due_at = start, due


def _refused_order(
    referral: Referral, kind: UnStepKind, moment: datetime, others: Sequence[UnStep]
) -> LazyString | None:
    """Why a step of ``kind`` cannot be dated ``moment`` beside the referral's ``others``
    steps, else None: not in the future nor before the request; the submission first; a reply,
    a lack of one or a publication after the government's clock started. For a new step
    (:func:`record`) and a corrected one (:func:`correct`) alike."""
    refused = referrals.refused_date(referral, moment)
    if refused is not None:
        return refused
    if kind == UnStepKind.SUBMITTED:
        later = min((other.happened_at for other in others), default=None)
        if later is not None and moment > later:
            return _l(
                "The date cannot be after a later step of this referral (%(when)s).",
                when=clock.local_text(later),
            )
        return None
    # The submission's date, kept on the referral (STEP_DATES): older referrals have no step.
    if referral.sent_at is not None and moment < referral.sent_at:
        return _l(
            "The date cannot be before the submission to the mandate (%(when)s).",
            when=clock.local_text(referral.sent_at),
        )
    clock_step = _first(others, CLOCK_STEP[referral.kind])
    if kind == CLOCK_STEP[referral.kind]:
        later = min(
            (other.happened_at for other in others if other.kind in AFTER_CLOCK), default=None
        )
        if later is not None and moment > later:
            return _l(
                "The date cannot be after a later step of this referral (%(when)s).",
                when=clock.local_text(later),
            )
    if kind in AFTER_CLOCK and clock_step is not None and moment < clock_step.happened_at:
        return _l(
            "The date cannot be before the communication to the government (%(when)s).",
            when=clock.local_text(clock_step.happened_at),
        )
    return None


@transactional
def correct(referral_id: int, step_id: int, moment: datetime, actor: User) -> referrals.Correction:
    """Correct the date of one recorded step of a UN referral to ``moment``, keeping the
    steps' order; the referral's dates and its clock follow, by the rules that set them (a
    mistyped date of the communication kept a wrong government deadline for good).
    Audited, both dates."""
    referral = referrals.locked(referral_id)
    steps = list(steps_of(referral, afresh=True)) if referral is not None else []
    step = next((step for step in steps if step.id == step_id), None)
    if referral is None or step is None:
        raise StepRejected(_l("Choose one of the dates on record."))
    position = steps.index(step)
    others = [other for other in steps if other.id != step.id]
    # Between the steps just before and after it (or the closing): the timeline keeps the
    # order the steps were taken in, which next_steps allowed.
    later = steps[position + 1].happened_at if position + 1 < len(steps) else referral.closed_at
    refused = _refused_order(referral, step.kind, moment, others) or referrals.refused_between(
        moment, steps[position - 1].happened_at if position > 0 else None, later
    )
    if refused is not None:
        raise StepRejected(refused)
    before, due_before = step.happened_at, referral.due_at
    step.happened_at = moment
    if step.kind in STEP_DATES:
        setattr(referral, STEP_DATES[step.kind], moment)
    if _sets_the_clock(referral, step.kind, others):
        _reclock(referral, steps, new_generation=False)
        referrals.renew_reminders(referral, due_before)
    referrals.audit_correction(referral, actor, step.kind.value, before, moment, un_step=step.id)
    return referrals.Correction(due_before, referral.due_at)
