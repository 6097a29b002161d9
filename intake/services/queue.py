"""The caseworker queue: one page of cases, most urgent first, with their flags and filters.

A listing is audited (no content). The rules of one case — its first-response deadline, its
workflow — are :mod:`intake.services.casework`'s; "due soon" is :data:`deadlines.DUE_SOON`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intake.db import like_escape, utcnow
from intake.extensions import db
from intake.models import AWAITING, Case, CaseStatus, Referral, Urgency, User
from intake.services import audit
from intake.services.casework import FIRST_RESPONSE, first_response_due
from intake.services.deadlines import DUE_SOON
from intake.services.transactions import transactional

PAGE_SIZE = 25
URGENCY_ORDER = (Urgency.IMMEDIATE, Urgency.DAYS, Urgency.WEEKS, Urgency.NOT_URGENT)


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
        pattern = '%"' + like_escape(filters.threat) + '"%'
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
        conditions.append(Case.ref.like("%" + like_escape(filters.q) + "%", escape="\\"))
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


@transactional
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
    return QueuePage(rows=rows, total=total, page=page, pages=pages, action_count=action_count)


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


def countries_in_use() -> list[str]:
    """The countries of stored cases, for the queue's country filter."""
    return list(
        db.session.scalars(
            sa.select(Case.country)
            .where(Case.country.is_not(None))
            .distinct()
            .order_by(Case.country)
        )
    )


def assignee_emails(page: QueuePage) -> dict[int, str]:
    """Who holds each case on the page, by user id."""
    ids = {row.case.assignee_id for row in page.rows if row.case.assignee_id}
    if not ids:
        return {}
    return {
        user.id: user.email for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))
    }
