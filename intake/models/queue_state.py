"""The queue's stored columns of a case, kept in the flush that changes the case or its
referrals (issue 14: the queue reads indexes, not every case and every open referral).

One place for every writer: a session hook, so that the services, the CLI, the demo's ORM
paths and the tests' builders all keep ``Case.urgency_rank``, ``first_response_at``,
``next_due`` and ``attention_at`` without remembering to. Writers that bypass the unit of work
(``sa.update(Case)``, bulk inserts) call :func:`refresh` themselves in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction, scoped_session

from intake.db import utcnow
from intake.models.case import FIRST_RESPONSE, URGENCY_ORDER, Case
from intake.models.enums import CaseStatus, Urgency
from intake.models.referral import AWAITING, Referral

_CASE_INPUTS = ("status", "urgency", "received_at")
_REFERRAL_INPUTS = ("state", "due_at", "case_id", "case")
_PENDING = "queue_state.pending"


def urgency_rank(urgency: Urgency | str) -> int:
    try:
        return URGENCY_ORDER.index(Urgency(urgency))
    except ValueError:
        return len(URGENCY_ORDER)


def first_response_at(urgency: Urgency | str, received_at: datetime) -> datetime:
    """When a new case of ``urgency`` received at ``received_at`` must have had its first
    response (services.casework.first_response_due: the one rule, stored with the case)."""
    return received_at + FIRST_RESPONSE[Urgency(urgency)]


def attention_at(
    status: CaseStatus | str, first_response: datetime | None, next_due: datetime | None
) -> datetime | None:
    respond = first_response if CaseStatus(status) == CaseStatus.NEW else None
    if respond is None or next_due is None:
        return respond or next_due
    return min(respond, next_due)


def new_case_columns(urgency: Urgency | str, received_at: datetime) -> dict[str, Any]:
    """The stored queue columns of a case just received (it has no referrals yet): for
    writers that insert a case without the unit of work, the same values the hook sets."""
    first_response = first_response_at(urgency, received_at)
    return {
        "urgency_rank": urgency_rank(urgency),
        "first_response_at": first_response,
        "attention_at": attention_at(CaseStatus.NEW, first_response, None),
    }


def _next_due_sql() -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.min(Referral.due_at))
        .where(Referral.case_id == Case.id, Referral.state.in_(AWAITING))
        .scalar_subquery()
    )


def refresh_statement(case_ids: Iterable[int] | None = None) -> sa.Update:
    """One UPDATE recomputing ``next_due`` and ``attention_at`` of the given cases (all when
    None) from their referrals; ``updated_at`` stays (a referral's change is not the case's)."""
    due = _next_due_sql()
    respond = sa.case((Case.status == CaseStatus.NEW, Case.first_response_at), else_=sa.null())
    attention = sa.case(
        (due.is_(None), respond),
        (respond.is_(None), due),
        (respond < due, respond),
        else_=due,
    )
    statement = sa.update(Case).values(
        next_due=due, attention_at=attention, updated_at=Case.updated_at
    )
    if case_ids is not None:
        statement = statement.where(Case.id.in_(sorted(set(case_ids))))
    return statement.execution_options(synchronize_session=False)


def refresh(session: Session | scoped_session[Any], case_ids: Iterable[int]) -> None:
    """Recompute the stored queue columns of these cases now (same transaction)."""
    ids = sorted(set(case_ids))
    if not ids:
        return
    session.execute(refresh_statement(ids))
    _expire(session, ids)


def _expire(session: Session | scoped_session[Any], ids: list[int]) -> None:
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Case) and obj.id in wanted:
            session.expire(obj, ["next_due", "attention_at"])


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    pending: list[Any] = []
    for obj in session.new:
        if isinstance(obj, Case):
            if obj.received_at is None:
                obj.received_at = utcnow()
            if obj.status is None:
                obj.status = CaseStatus.NEW
            obj.urgency_rank = urgency_rank(obj.urgency)
            obj.first_response_at = first_response_at(obj.urgency, obj.received_at)
            obj.attention_at = attention_at(obj.status, obj.first_response_at, obj.next_due)
        elif isinstance(obj, Referral):
            pending.append(obj)
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj, _CASE_INPUTS):
            obj.urgency_rank = urgency_rank(obj.urgency)
            obj.first_response_at = first_response_at(obj.urgency, obj.received_at)
            pending.append(obj)
        elif isinstance(obj, Referral) and _changed(obj, _REFERRAL_INPUTS):
            pending.append(obj)
            previous: list[Any] = list(sa.inspect(obj).attrs["case_id"].history.deleted)
            pending.extend(case_id for case_id in previous if case_id is not None)
    for obj in session.deleted:
        if isinstance(obj, Referral) and obj.case_id is not None:
            pending.append(obj.case_id)
    if pending:
        session.info.setdefault(_PENDING, []).extend(pending)


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    ids: set[int] = set()
    for obj in pending:
        if isinstance(obj, int):
            ids.add(obj)
        elif isinstance(obj, Case):
            ids.add(obj.id)
        else:
            case_id = obj.case_id if obj.case_id is not None else getattr(obj.case, "id", None)
            if case_id is not None:
                ids.add(case_id)
    if ids:
        session.connection().execute(refresh_statement(ids))
        _expire(session, sorted(ids))
