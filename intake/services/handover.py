"""What a colleague holds — open cases and referrals awaiting a reply — and handing it on when
their account is deactivated (admin/confirm.html, :func:`deactivate`).

A deactivated account can neither open a case nor act on a reminder. So deactivation leaves no
open case with it: each goes to the colleague the admin chose, where that colleague can act on
the case's key (:func:`casework.able_to_act`), and is otherwise unassigned, which lists it under
the queue's Unassigned view. Its awaiting referrals go to the chosen colleague on the same
terms, and otherwise keep the deactivated owner, marked as such on their page; their reminders
then go to the case's holder or the first admin (``reminders.choose_recipient``).

Everything here runs inside the deactivation's transaction and is audited with the events a
single change writes: ``case.assign`` and ``referral.owner_changed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from intake.db import utcnow
from intake.extensions import db
from intake.models import AWAITING, Case, CaseStatus, Referral, Role, User
from intake.services import accounts, audit, casework, locks, referrals, reminders
from intake.services.errors import ServiceError
from intake.services.transactions import transactional

# Rows per UPDATE and per audit statement: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500
T = TypeVar("T")


class HandoverError(ServiceError):
    """The colleague chosen to take over cannot be given anything (shown beside the field)."""

    status = 422


@dataclass(frozen=True)
class Holdings:
    """What ``user`` holds now: open cases assigned to them, referrals they own that still
    await a reply."""

    open_cases: int
    awaiting_referrals: int

    @property
    def anything(self) -> bool:
        return bool(self.open_cases or self.awaiting_referrals)


def _open_cases_of(user_id: int) -> sa.Select[int, int]:
    return sa.select(Case.id, Case.org_key_id).where(
        Case.assignee_id == user_id, Case.status != CaseStatus.CLOSED
    )


def _awaiting_referrals_of(user_id: int) -> sa.Select[int, int, int]:
    return (
        sa.select(Referral.id, Referral.case_id, Case.org_key_id)
        .join(Case, Case.id == Referral.case_id)
        .where(Referral.owner_id == user_id, Referral.state.in_(AWAITING))
    )


def _lock_holdings(user_id: int) -> None:
    """Lock the rows a hand-over will change (the cases ``user_id`` holds or holds a referral
    of, then those referrals; in id order, ``FOR NO KEY UPDATE``) before anything is audited.
    Every other change of a case or referral locks its rows first and the audit chain last
    (``referrals.locked``); a deactivation that audited first, then waited for a case a
    colleague was updating, while the colleague waited for the audit chain, was a deadlock
    PostgreSQL ended by failing one of them (a 500)."""
    held_cases = sa.select(Referral.case_id).where(
        Referral.owner_id == user_id, Referral.state.in_(AWAITING)
    )
    db.session.execute(
        sa.select(Case.id)
        .where(
            sa.or_(
                sa.and_(Case.assignee_id == user_id, Case.status != CaseStatus.CLOSED),
                Case.id.in_(held_cases),
            )
        )
        .order_by(Case.id)
        .with_for_update(key_share=True)
    ).all()
    db.session.execute(
        sa.select(Referral.id)
        .where(Referral.owner_id == user_id, Referral.state.in_(AWAITING))
        .order_by(Referral.id)
        .with_for_update(key_share=True)
    ).all()


def holdings_of(user: User) -> Holdings:
    def count(query: sa.Select[*tuple[Any, ...]]) -> int:
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)

    return Holdings(count(_open_cases_of(user.id)), count(_awaiting_referrals_of(user.id)))


def successors_for(leaving: User) -> list[User]:
    """Whom the confirmation offers: colleagues who can sign in and act on some organisation
    key (:func:`casework.able_to_act`), by e-mail; never the person leaving."""
    return [user for user in casework.assignable_users() if user.id != leaving.id]


# The confirmation's deliberate "Nobody: leave them unassigned". Its placeholder ("— Choose —",
# the value "") is no choice: one hurried click once left every case of the account unassigned.
NOBODY = "nobody"


def successor_of(raw: str, leaving: User) -> User | None:
    """The colleague a confirmation form names (a user id as text); :data:`NOBODY`: nobody.
    Nothing chosen (``""``) is refused while ``leaving`` holds anything. Raises
    :class:`HandoverError` with the reason for anything else, before anything is written."""
    raw = raw.strip()
    if raw == NOBODY:
        return None
    if not raw:
        if holdings_of(leaving).anything:
            raise HandoverError(_l("Choose who takes over their cases and referrals, or “Nobody”."))
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise HandoverError(_l("Choose a colleague from the list, or nobody."))
    user = db.session.get(User, int(raw))
    if user is None:
        raise HandoverError(_l("Choose a colleague from the list, or nobody."))
    if user.id == leaving.id:
        raise HandoverError(
            _l("Their cases cannot be given back to them: choose a colleague, or nobody.")
        )
    if not user.is_active_account:
        raise HandoverError(
            _l("The account of %(email)s is deactivated: choose someone else.", email=user.email)
        )
    if user.role not in casework.CASE_HOLDER_ROLES or not casework.can_act_on(user, None):
        raise HandoverError(
            _l(
                "%(email)s cannot take cases: they need to sign in with a confirmed second "
                "factor and hold an organisation key. Choose someone else.",
                email=user.email,
            )
        )
    return user


@dataclass(frozen=True)
class Handover:
    """What deactivating one account did with what it held."""

    successor_email: str | None
    cases_given: int
    referrals_given: int
    cases_unassigned: int  # open cases now held by nobody
    cases_refused: int  # of those: sealed to a key the chosen colleague does not hold
    referrals_left: int  # awaiting referrals still owned by the deactivated account
    referrals_to_first_admin: int  # of those: on a case nobody active holds
    first_admin_email: str | None  # whom their reminders go to


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _reassign_cases(ids: Sequence[int], leaving: User, to: User | None) -> list[int]:
    """Cases of ``ids`` still held by ``leaving`` given to ``to`` (or nobody): their ids."""
    moved: list[int] = []
    now = utcnow()
    for chunk in _chunks(ids):
        moved += db.session.scalars(
            sa.update(Case)
            .where(Case.id.in_(chunk), Case.assignee_id == leaving.id)
            .values(assignee_id=to.id if to else None, updated_at=now)
            .returning(Case.id)
            .execution_options(synchronize_session=False)
        ).all()
    return moved


def _reassign_referrals(ids: Sequence[int], leaving: User, to: User) -> list[int]:
    moved: list[int] = []
    for chunk in _chunks(ids):
        moved += db.session.scalars(
            sa.update(Referral)
            .where(Referral.id.in_(chunk), Referral.owner_id == leaving.id)
            .values(owner_id=to.id)
            .returning(Referral.id)
            .execution_options(synchronize_session=False)
        ).all()
    return moved


def _record(entries: Iterable[audit.Entry]) -> None:
    for chunk in _chunks(list(entries)):
        audit.record_all(chunk)


def hand_over(leaving: User, successor: User | None, actor: User) -> Handover:
    """Give what ``leaving`` holds to ``successor`` where they can act on the case's key, and
    unassign the open cases that remain; inside the caller's transaction (the deactivation,
    under the key-custody lock, so that nobody's grants change meanwhile)."""
    cases = db.session.execute(_open_cases_of(leaving.id)).all()
    awaiting = db.session.execute(_awaiting_referrals_of(leaving.id)).all()
    keys = {row.org_key_id for row in cases} | {row.org_key_id for row in awaiting}
    if successor is not None:
        # Checked again under the lock: the form was filled in before it was taken.
        successor_of(str(successor.id), leaving)
        usable = {key for key in keys if casework.can_act_on(successor, key)}
    else:
        usable = set()
    given_cases = _reassign_cases(
        [row.id for row in cases if row.org_key_id in usable], leaving, successor
    )
    unassigned = _reassign_cases(
        [row.id for row in cases if row.org_key_id not in usable], leaving, None
    )
    given_referrals = set(
        _reassign_referrals(
            [row.id for row in awaiting if row.org_key_id in usable], leaving, successor
        )
        if successor is not None
        else ()
    )
    label = f"user:{actor.email}"
    to_id = successor.id if successor is not None else None
    _record(
        [
            *(
                audit.Entry(
                    "case.assign",
                    "case",
                    case_id,
                    label,
                    {"from_user_id": leaving.id, "to_user_id": given_to},
                    actor.id,
                )
                for case_ids, given_to in ((given_cases, to_id), (unassigned, None))
                for case_id in case_ids
            ),
            *(
                audit.Entry(
                    referrals.OWNER_CHANGED,
                    "case",
                    case_id,
                    label,
                    referrals.owner_change_detail(referral_id, leaving.id, to_id),
                    actor.id,
                )
                for referral_id, case_id, _key in awaiting
                if referral_id in given_referrals
            ),
        ]
    )
    left = [row for row in awaiting if row.id not in given_referrals]
    return Handover(
        successor_email=successor.email if successor is not None else None,
        cases_given=len(given_cases),
        referrals_given=len(given_referrals),
        cases_unassigned=len(unassigned),
        cases_refused=len(unassigned) if successor is not None else 0,
        referrals_left=len(left),
        referrals_to_first_admin=_without_active_holder([row.case_id for row in left]),
        first_admin_email=admin.email if (admin := reminders.first_admin()) else None,
    )


def _without_active_holder(case_ids: Sequence[int]) -> int:
    """How many of ``case_ids`` (one per referral) no active caseworker or admin holds, after
    the changes above: a referral whose owner left then reminds the first admin."""
    held: set[int] = set()
    for chunk in _chunks(sorted(set(case_ids))):
        held.update(
            db.session.scalars(
                sa.select(Case.id)
                .join(User, User.id == Case.assignee_id)
                .where(
                    Case.id.in_(chunk),
                    User.is_active_account.is_(True),
                    User.role.in_(casework.CASE_HOLDER_ROLES),
                )
            )
        )
    return sum(1 for case_id in case_ids if case_id not in held)


@transactional
def deactivate(leaving: User, successor: User | None, actor: User) -> Handover:
    """Deactivate ``leaving`` (:func:`accounts.deactivate`) and hand what they hold to
    ``successor``, or to nobody: one transaction, so a refusal of either writes nothing."""
    locks.serialise(locks.KEY_CUSTODY)  # as accounts.deactivate: first, as in change_role
    _lock_holdings(leaving.id)
    accounts.deactivate(leaving, actor)
    return hand_over(leaving, successor, actor)


@transactional
def change_role(user: User, role: Role, successor: User | None, actor: User) -> Handover | None:
    """Change ``user``'s role (:func:`accounts.set_role`); to one that holds no cases (a
    viewer), what they hold goes to ``successor``, or to nobody, in the same transaction: a
    caseworker made a viewer kept their open cases and referrals, which nobody could act on
    and whose reminders still went to them."""
    locks.serialise(locks.KEY_CUSTODY)
    if role not in casework.CASE_HOLDER_ROLES:
        _lock_holdings(user.id)
    accounts.set_role(user, role, actor)
    if role in casework.CASE_HOLDER_ROLES:
        return None
    return hand_over(user, successor, actor)
