"""Consent per purpose: record, withdraw, and answer "may we do this?" (DESIGN §5, issue 12).

Every writing function owns its transaction and audits ids, purposes and kinds only — never who
the person is. ``Case.consent_given`` is derived here and nowhere else: consent to share with an
organisation is on record and not withdrawn (the routing lists and the report count it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    ConsentChannel,
    ConsentGiver,
    ConsentPurpose,
    ConsentRecord,
    DirectoryEntry,
    ReferralKind,
    User,
)
from intake.services import audit
from intake.services.errors import ServiceError
from intake.services.transactions import transactional

# The purpose a kind of referral needs consent for.
PURPOSE_OF_KIND: dict[ReferralKind, ConsentPurpose] = {
    ReferralKind.NGO_REFERRAL: ConsentPurpose.SHARE_WITH_ORGANISATION,
    ReferralKind.EMBASSY_CONTACT: ConsentPurpose.SHARE_WITH_ORGANISATION,
    # A second message to whoever the first went to: sharing again.
    ReferralKind.FOLLOW_UP: ConsentPurpose.SHARE_WITH_ORGANISATION,
    ReferralKind.SP_URGENT_APPEAL: ConsentPurpose.UN_SUBMISSION,
    ReferralKind.SP_ALLEGATION_LETTER: ConsentPurpose.UN_SUBMISSION,
    ReferralKind.SP_LEGISLATION: ConsentPurpose.UN_SUBMISSION,
    ReferralKind.WGAD_OPINION: ConsentPurpose.UN_SUBMISSION,
    ReferralKind.REPRISALS_REPORT: ConsentPurpose.REPRISALS_REPORT,
}
# What the intake form's clear answer (everyone named agreed, and the submitter allows sharing)
# consents to; the migration backfills the same two for older cases.
INTAKE_PURPOSES = (ConsentPurpose.SHARE_WITH_ORGANISATION, ConsentPurpose.UN_SUBMISSION)
# What a caseworker may record: the person's side, and how it reached us (not the form or the
# status page, which write their own records).
STAFF_GIVERS = (ConsentGiver.PERSON, ConsentGiver.FAMILY, ConsentGiver.LAWYER)
STAFF_CHANNELS = (ConsentChannel.FOLLOW_UP_MESSAGE, ConsentChannel.CALL_NOTE)


class ConsentError(ServiceError):
    """A consent change that cannot be made."""


class AlreadyWithdrawn(ConsentError):
    """The record was withdrawn before (often: the same withdrawal posted again by a reload)."""


def purpose_for(kind: ReferralKind) -> ConsentPurpose:
    return PURPOSE_OF_KIND[kind]


def records(case: Case) -> list[ConsentRecord]:
    """Every record of the case, oldest first (withdrawn ones too: the history)."""
    return list(
        db.session.scalars(
            sa.select(ConsentRecord)
            .where(ConsentRecord.case_id == case.id)
            .order_by(ConsentRecord.given_at, ConsentRecord.id)
        )
    )


def _applies(record: ConsentRecord, purpose: ConsentPurpose, entry_id: str | None) -> bool:
    """Whether ``record`` is about ``purpose`` (and, for sharing, this organisation): a record
    for one named organisation is about that one only; one without is about any."""
    if record.purpose is not purpose:
        return False
    return record.entry_id is None or entry_id is None or record.entry_id == entry_id


def _covers(record: ConsentRecord, purpose: ConsentPurpose, entry_id: str | None) -> bool:
    return record.active and _applies(record, purpose, entry_id)


def has_consent(case: Case, purpose: ConsentPurpose, entry_id: str | None = None) -> bool:
    """Consent for ``purpose`` (and, for sharing, this directory entry) is on record now."""
    return on_record(case).covers(purpose, entry_id)


def _asked_of(kind: ReferralKind, entry_id: str | None) -> tuple[ConsentPurpose, str | None]:
    """The consent a referral of ``kind`` to ``entry_id`` needs: its purpose and, to share
    with an organisation, that organisation."""
    purpose = purpose_for(kind)
    return purpose, entry_id if purpose is ConsentPurpose.SHARE_WITH_ORGANISATION else None


def allows_referral(case: Case, kind: ReferralKind, entry_id: str | None) -> bool:
    return on_record(case).allows(kind, entry_id)


def withdrawal_against(
    case: Case, kind: ReferralKind, entry_id: str | None
) -> ConsentRecord | None:
    """The withdrawal that leaves a referral of ``kind`` to ``entry_id`` without consent: the
    newest withdrawn record about it, when no record about it stands; else None. A referral
    sent before the withdrawal showed nothing of it, and still offered "Reply received"."""
    purpose, entry = _asked_of(kind, entry_id)
    about = [record for record in records(case) if _applies(record, purpose, entry)]
    if any(record.active for record in about):
        return None
    # None active: each was withdrawn (given_at only satisfies the type checker).
    return max(about, key=lambda record: record.withdrawn_at or record.given_at, default=None)


@dataclass(frozen=True)
class OnRecord:
    """A case's consent records, read once, for a page that asks many questions of them (the
    new-referral form asks it of every entry and kind)."""

    known: Sequence[ConsentRecord]

    def allows(self, kind: ReferralKind, entry_id: str | None) -> bool:
        """:func:`allows_referral`, answered from the records read once."""
        purpose, entry = _asked_of(kind, entry_id)
        return self.covers(purpose, entry)

    def covers(self, purpose: ConsentPurpose, entry_id: str | None = None) -> bool:
        return any(_covers(record, purpose, entry_id) for record in self.known)

    def missing_purposes(self) -> list[ConsentPurpose]:
        """The purposes without consent on record (for the referral form's warning)."""
        return [purpose for purpose in ConsentPurpose if not self.covers(purpose)]


def on_record(case: Case) -> OnRecord:
    return OnRecord(records(case))


def reprisals_consent(case: Case) -> bool | None:
    """May the case go into the Secretary-General's reprisals report?

    True: consent for that purpose is on record. False: it was given and has been withdrawn
    (do not ask again as if new). None: nobody has asked yet."""
    found = [r for r in records(case) if r.purpose is ConsentPurpose.REPRISALS_REPORT]
    if not found:
        return None
    return any(record.active for record in found)


def _derive_flag(case: Case) -> None:
    case.consent_given = has_consent(case, ConsentPurpose.SHARE_WITH_ORGANISATION)


def _recorded_entry(
    record: ConsentRecord, actor: User | None, actor_label: str | None
) -> audit.Entry:
    return _recorded_event(
        record.case_id,
        _recorded_detail(
            record.id, record.purpose, record.entry_id, record.given_by, record.given_via
        ),
        actor,
        actor_label,
    )


def _recorded_event(
    case_id: int, detail: dict[str, Any], actor: User | None, actor_label: str | None
) -> audit.Entry:
    """The "consent.recorded" event of a record on ``case_id``."""
    return audit.Entry(
        "consent.recorded",
        "case",
        case_id,
        actor_label=actor_label or (f"user:{actor.email}" if actor is not None else "system"),
        actor_id=actor.id if actor is not None else None,
        detail=detail,
    )


def _recorded_detail(
    record_id: int,
    purpose: ConsentPurpose,
    entry_id: str | None,
    given_by: ConsentGiver,
    given_via: ConsentChannel,
) -> dict[str, Any]:
    """What the "consent.recorded" event says of a record."""
    return {
        "record": record_id,
        "purpose": purpose.value,
        "entry": entry_id,
        "by": given_by.value,
        "via": given_via.value,
    }


def _audit_recorded(record: ConsentRecord, actor: User | None, actor_label: str | None) -> None:
    entry = _recorded_entry(record, actor, actor_label)
    audit.record(
        entry.action,
        entry.target_type,
        entry.target_id,
        actor=actor,
        actor_label=actor_label,
        detail=entry.detail,
    )


def intake_record_values(case_id: Any, given_at: Any) -> list[dict[str, Any]]:
    """The columns of the records the intake form's "yes" makes, one dict per purpose (the
    submission inserts them in the statement that inserts the case: ``case_id`` and
    ``given_at`` are SQL expressions there)."""
    return [
        {
            "case_id": case_id,
            "purpose": purpose,
            "given_by": ConsentGiver.SUBMITTER,
            "given_via": ConsentChannel.INTAKE_FORM,
            "given_at": given_at,
        }
        for purpose in INTAKE_PURPOSES
    ]


def intake_entries(
    case_id: int, inserted: Sequence[tuple[int, ConsentPurpose]], actor_label: str
) -> list[audit.Entry]:
    """The audit events of intake records inserted by the submission itself, oldest first:
    the same events as :func:`_recorded_entry` of those records, made from the ids and
    purposes the insert returned (no ORM object is built for a row that is not read)."""
    return [
        _recorded_event(
            case_id,
            _recorded_detail(
                record_id,
                ConsentPurpose(purpose),
                None,
                ConsentGiver.SUBMITTER,
                ConsentChannel.INTAKE_FORM,
            ),
            None,
            actor_label,
        )
        for record_id, purpose in sorted(inserted)
    ]


def record_from_intake(case: Case, consented: bool, actor_label: str) -> list[audit.Entry]:
    """The first records, from the intake form's answers (inside the submission's transaction),
    inserted together; returns their audit events for the caller to append with its own
    (:func:`audit.record_all`, the last step before the submission commits).

    The form asks whether everyone named agreed and whether the submitter allows sharing; only
    "yes" to both is in the clear, and that is consent to share and to submit to the UN. The
    nuance ("ask me first", "some agreed") stays in the sealed answers for the caseworker."""
    created: list[ConsentRecord] = []
    if consented:
        created = [
            ConsentRecord(
                case_id=case.id,
                purpose=purpose,
                given_by=ConsentGiver.SUBMITTER,
                given_via=ConsentChannel.INTAKE_FORM,
                given_at=case.received_at,
            )
            for purpose in INTAKE_PURPOSES
        ]
        db.session.add_all(created)
        db.session.flush()  # one INSERT for all of them
    case.consent_given = consented
    return [_recorded_entry(record, None, actor_label) for record in created]


@transactional
def record(
    case_id: int,
    purpose: ConsentPurpose,
    given_by: ConsentGiver,
    given_via: ConsentChannel,
    actor: User,
    *,
    entry_id: str | None = None,
    given_at: datetime | None = None,
) -> ConsentRecord:
    """A caseworker records consent they received by message or call."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise ConsentError(_l("This case does not exist."), 404)
    if given_by not in STAFF_GIVERS:
        raise ConsentError(_l("Choose who gave the consent from the list."))
    if given_via not in STAFF_CHANNELS:
        raise ConsentError(_l("Choose how the consent was given from the list."))
    if entry_id is not None:
        if purpose is not ConsentPurpose.SHARE_WITH_ORGANISATION:
            raise ConsentError(_l("Only consent to share can name an organisation."))
        entry = db.session.get(DirectoryEntry, entry_id)
        if entry is None or entry.retired_at is not None:
            raise ConsentError(_l("Choose an organisation from the directory."))
    now = utcnow()
    moment = given_at or now
    if moment > now:
        raise ConsentError(_l("The date cannot be in the future."))
    # A day's slack: a date picked in the organisation's zone may start before UTC's.
    if moment < case.received_at - timedelta(days=1):
        raise ConsentError(_l("The date cannot be before the request arrived."))
    duplicate = any(
        r.active and r.purpose is purpose and r.entry_id == entry_id for r in records(case)
    )
    if duplicate:
        raise ConsentError(_l("This consent is already on record."), 409)
    created = ConsentRecord(
        case_id=case.id,
        purpose=purpose,
        entry_id=entry_id,
        given_by=given_by,
        given_via=given_via,
        given_at=moment,
        recorded_by_id=actor.id,
    )
    db.session.add(created)
    db.session.flush()
    _derive_flag(case)
    _audit_recorded(created, actor, None)
    return created


def withdrawable(case: Case, record_id: int) -> ConsentRecord:
    """The case's record ``record_id`` while it can still be withdrawn (what /status asks the
    defender to confirm, and what a withdrawal changes); ConsentError otherwise."""
    found = db.session.get(ConsentRecord, record_id)
    if found is None or found.case_id != case.id:
        raise ConsentError(_l("This consent record does not exist."), 404)
    if not found.active:
        raise AlreadyWithdrawn(_l("This consent has already been withdrawn."), 409)
    return found


def _withdraw(
    case: Case,
    record_id: int,
    by: ConsentGiver,
    via: ConsentChannel,
    at: datetime,
    actor: User | None,
    actor_label: str | None,
) -> ConsentRecord:
    found = withdrawable(case, record_id)
    found.withdrawn_at = at
    found.withdrawn_by = by
    found.withdrawn_via = via
    found.withdrawal_recorded_by_id = actor.id if actor is not None else None
    db.session.flush()
    _derive_flag(case)
    audit.record(
        "consent.withdrawn",
        "case",
        case.id,
        actor=actor,
        actor_label=actor_label,
        detail={
            "record": found.id,
            "purpose": found.purpose.value,
            "by": by.value,
            "via": via.value,
        },
    )
    return found


@transactional
def withdraw(
    case_id: int,
    record_id: int,
    withdrawn_by: ConsentGiver,
    withdrawn_via: ConsentChannel,
    actor: User,
    *,
    at: datetime | None = None,
) -> ConsentRecord:
    """A caseworker records that consent was withdrawn (by message or call)."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise ConsentError(_l("This case does not exist."), 404)
    if withdrawn_by not in STAFF_GIVERS:
        raise ConsentError(_l("Choose who withdrew the consent from the list."))
    if withdrawn_via not in STAFF_CHANNELS:
        raise ConsentError(_l("Choose how the consent was withdrawn from the list."))
    now = utcnow()
    moment = at or now
    if moment > now:
        raise ConsentError(_l("The date cannot be in the future."))
    return _withdraw(case, record_id, withdrawn_by, withdrawn_via, moment, actor, None)


@transactional
def withdraw_by_submitter(case: Case, record_id: int, actor_label: str) -> ConsentRecord:
    """The defender withdraws a consent at /status with their receipt code."""
    return _withdraw(
        case,
        record_id,
        ConsentGiver.SUBMITTER,
        ConsentChannel.STATUS_PAGE,
        utcnow(),
        None,
        actor_label,
    )


def entries_to_name() -> list[DirectoryEntry]:
    """The directory entries a consent to share may name (not retired), by name."""
    return list(
        db.session.scalars(
            sa.select(DirectoryEntry)
            .where(DirectoryEntry.retired_at.is_(None))
            .order_by(DirectoryEntry.name)
        )
    )


def active_records(case: Case) -> Sequence[ConsentRecord]:
    return [r for r in records(case) if r.active]
