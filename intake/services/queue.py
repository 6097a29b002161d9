"""The caseworker queue: one page of cases, most urgent first, with their flags and filters.

A listing is audited (no content). The rules of one case — its first-response deadline, its
workflow — are :mod:`intake.services.casework`'s; "due soon" is :func:`deadlines.is_due_soon`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask_babel import get_locale
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.orm import aliased

from intake import vocab
from intake.db import UTCDateTime, among_ids, like_escape, utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    Case,
    CaseSearchIndex,
    CaseStatus,
    KeyGrant,
    OrgKey,
    Referral,
    ReferralKind,
    ReferralState,
    Urgency,
    User,
)
from intake.models.directory import DirectoryEntry
from intake.services import audit, counting, recovery, search, un_steps
from intake.services.casework import able_to_act, first_response_due
from intake.services.deadlines import due_soon_ends, due_soon_sql, is_due_soon
from intake.services.transactions import transactional

PAGE_SIZE = 25


# --- the queue ------------------------------------------------------------------------------

# Saved views, in the order the tabs show them. "all" (open and closed) stays for old links.
VIEWS = (
    "action",
    "mine",
    "unassigned",
    "overdue",
    "week",
    "waiting",
    "open",
    "closed",
    "closed_unread",
    "all",
)
# The sorts a column header turns around (the same name + DESCENDING): every column of the
# order reversed, NULLs first, so that PostgreSQL reads the same index backwards. A caseworker
# could sort each column one way only. (Country is its own: see _listed_by_country.)
REVERSIBLE = ("priority", "deadline", "ref", "status", "country")
DESCENDING = "_desc"
BY_COUNTRY = frozenset({"country", f"country{DESCENDING}"})
SORTS = (
    "priority",
    "deadline",
    "received_desc",
    "received_asc",
    "updated_desc",
    "ref",
    "status",
    "country",
    *(f"{sort}{DESCENDING}" for sort in REVERSIBLE),
)
# Columns of those orders that may be NULL (last in ascending order, first when reversed).
_NULLABLE = frozenset({"attention_at"})


@dataclass(frozen=True)
class QueueFilters:
    view: str = "action"
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    threat: str | None = None
    country: str | None = None
    assignee: str | None = None  # "me", "unassigned" or a user id
    overdue: bool = False
    q: str | None = None  # part of a reference
    tokens: tuple[str, ...] = ()  # keyed search tokens from the browser (services.search)
    search_key_id: int | None = None  # the organisation key the tokens were keyed with
    search_note: str | None = None  # why a search typed in the box was not run
    sort: str = "priority"
    page: int = 1


@dataclass(frozen=True)
class NextAction:
    """What happens next on a case, for the queue to say in words.

    ``what``: ``first_response`` (ours), ``send`` (a draft referral: ours), ``government_reply``
    (a UN communication or opinion: the government's), ``check_mandate`` (a submission to a UN
    mechanism that has not written to the government yet: ours to check), ``answer`` (an
    organisation's), ``none``.
    ``when``: ``overdue``, ``soon`` (within DUE_SOON: ours to chase), ``waiting`` or ``none``.
    """

    what: str
    when: str
    due: datetime | None = None
    entry: str | None = None
    kind: ReferralKind | None = None


class QueueCase(NamedTuple):
    """What a queue row reads of its case: columns of the page's statement, not a loaded
    ``Case`` (the ORM's identity map, state and attribute events cost more than the rest of
    a row; a listing changes nothing)."""

    id: int
    ref: str
    status: CaseStatus
    urgency: Urgency
    country: str | None
    languages: list[str]
    assignee_id: int | None
    org_key_id: int
    sealed_answers: str
    received_at: datetime
    next_due: datetime | None
    # The submitter wrote since a caseworker last opened the case (intake.services.follow_ups).
    unread_follow_up_at: datetime | None = None


@dataclass
class QueueRow:
    case: QueueCase
    next_due: datetime | None
    # new, unassigned, overdue, due_soon, follow_up (a message from the submitter unseen)
    flags: list[str] = field(default_factory=list)
    next_action: NextAction = field(default_factory=lambda: NextAction("none", "none"))
    indexed: bool = False  # has search tokens under the current organisation key
    assignee_email: str | None = None  # who holds the case (a former colleague too)
    assignee_deactivated: bool = False  # their account is deactivated: they will not act

    @property
    def respond_by(self) -> datetime | None:
        return first_response_due(self.case)


class StaffMember(NamedTuple):
    id: int
    email: str


@dataclass
class QueuePage:
    """One page of the queue. ``total`` and ``counts`` are bounded: a value above its cap
    (``capped``; each tab's at :data:`counting.COUNT_CAP`) means "more than the cap", and then
    ``pages`` is the pages known so far (this one and, when there are more rows, the next)."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int]
    capped: bool = False
    search_key_id: int | None = None  # the current organisation key, for the search tokens
    # The assignee filter's people, by e-mail: who can be assigned a case, and who holds one.
    assignable: list[StaffMember] = field(default_factory=list)
    # Whether the viewer holds the current organisation key (a grant not revoked), and if not,
    # how they can have it (again).
    viewer_holds_key: bool = True
    way_back: recovery.WayBack = field(default_factory=lambda: recovery.WayBack(False, False))

    @property
    def lacks_key(self) -> bool:
        """An organisation key exists and the viewer was not given it: rows cannot be read."""
        return self.search_key_id is not None and not self.viewer_holds_key

    @property
    def action_count(self) -> int:
        return self.counts.get("action", 0)

    @property
    def has_next(self) -> bool:
        return self.capped or self.page < self.pages


# "Open" written as the partial indexes' own predicate (status <> 'closed'), a constant in the
# SQL rather than a bound parameter: PostgreSQL uses a partial index only when it can prove the
# query implies its WHERE, which it cannot for a parameter once a prepared statement switches
# to its generic plan (psycopg prepares a statement from its fifth execution).
_CLOSED = sa.literal(CaseStatus.CLOSED, Case.status.type, literal_execute=True)


# The moment and the viewer a listing is computed for, as parameters: the saved views' SQL
# (and the tab counts' whole statement) is built once per process, not on every page view.
_NOW = sa.bindparam("queue_now", type_=UTCDateTime())
_SOON = sa.bindparam("queue_soon", type_=UTCDateTime())  # deadlines.due_soon_ends(_NOW)
_VIEWER = sa.bindparam("queue_viewer", type_=sa.Integer())


def _listing_parameters(now: datetime, viewer: User) -> dict[str, Any]:
    return {"queue_now": now, "queue_soon": due_soon_ends(now), "queue_viewer": viewer.id}


@functools.cache
def _view_conditions() -> dict[str, sa.ColumnElement[bool]]:
    """Each saved view as one SQL condition over the stored queue columns (also counted, in
    one query, for the tabs), with the parameters of :func:`_listing_parameters`.
    ``attention_at`` is the earlier of a new case's first-response deadline and its nearest
    running referral clock (intake.models.queue_state)."""
    is_open = Case.status != _CLOSED
    overdue = Case.attention_at < _NOW
    # An action by us is due: a first response due soon or late, a referral clock passed or
    # near, a new case nobody holds, a message from the submitter nobody has seen. Not
    # "anything open" (that is the "open" view). An unseen message is not a deadline: it
    # leaves attention_at (and so "overdue" and "due this week") alone, and takes the case
    # out of "waiting on others" (which is open cases with a clock and no action due).
    action = sa.or_(
        due_soon_sql(Case.attention_at, _NOW, ends=_SOON, or_overdue=True),
        sa.and_(Case.status == CaseStatus.NEW, Case.assignee_id.is_(None)),
        Case.unread_follow_up_at.is_not(None),
    )
    week = due_soon_sql(Case.attention_at, _NOW, ends=_SOON)
    return {
        "action": sa.and_(is_open, action),
        "mine": sa.and_(is_open, Case.assignee_id == _VIEWER),
        "unassigned": sa.and_(is_open, Case.assignee_id.is_(None)),
        "overdue": sa.and_(is_open, overdue),
        "week": sa.and_(is_open, week),
        "waiting": sa.and_(is_open, Case.next_due.is_not(None), sa.not_(action)),
        "open": is_open,
        "closed": Case.status == CaseStatus.CLOSED,
        # A closed case's submitter wrote again ("You can still send us a message", /status)
        # and nobody has read it: not a tab, a notice above every list (ix_cases_closed_unread).
        "closed_unread": sa.and_(Case.status == _CLOSED, Case.unread_follow_up_at.is_not(None)),
        "all": sa.true(),
    }


def _conditions(filters: QueueFilters, viewer: User) -> list[sa.ColumnElement[bool]]:
    """The listing's conditions, with the parameters of :func:`_listing_parameters`."""
    views = _view_conditions()
    conditions: list[sa.ColumnElement[bool]] = [views[filters.view]]
    if filters.status is not None:
        conditions.append(Case.status == filters.status)
    if filters.urgency is not None:
        conditions.append(Case.urgency == filters.urgency)
    if filters.threat:
        conditions.append(_has_threat(filters.threat))
    if filters.country:
        conditions.append(Case.country == filters.country)
    if filters.assignee == "me":
        conditions.append(Case.assignee_id == viewer.id)
    elif filters.assignee == "unassigned":
        conditions.append(Case.assignee_id.is_(None))
    elif filters.assignee:
        conditions.append(Case.assignee_id == int(filters.assignee))
    if filters.overdue:
        conditions.append(views["overdue"])
    if filters.q:
        conditions.append(Case.ref.like("%" + like_escape(filters.q) + "%", escape="\\"))
    if filters.tokens and filters.search_key_id is not None:
        conditions.append(Case.id.in_(search.cases_with_all(filters.tokens, filters.search_key_id)))
    return conditions


def _has_threat(threat: str) -> sa.ColumnElement[bool]:
    """The case lists ``threat``: on PostgreSQL by the GIN index ix_cases_threats (its very
    expression, ``CAST(threats AS JSONB) @> '["…"]'``); elsewhere by the stored JSON text, where
    ids ([a-z_]) are quoted, so the pattern matches one whole id."""
    if db.session.get_bind().dialect.name == "postgresql":
        wanted = sa.cast(sa.literal(json.dumps([threat])), JSONB)
        return sa.cast(Case.threats, JSONB).op("@>")(wanted)
    pattern = '%"' + like_escape(threat) + '"%'
    return sa.cast(Case.threats, sa.Text).like(pattern, escape="\\")


def _only_the_view(filters: QueueFilters) -> bool:
    """No filter beyond the saved view: its tab count is the total."""
    return not (
        filters.status
        or filters.urgency
        or filters.threat
        or filters.country
        or filters.assignee
        or filters.overdue
        or filters.q
        or (filters.tokens and filters.search_key_id is not None)
    )


@functools.cache
def _order(sort: str) -> tuple[Any, ...]:
    """The ORDER BY of a sort, built once per process."""
    return tuple(_sort_columns(sort))


def _sort_columns(sort: str) -> list[Any]:
    if sort == "received_desc":
        return [Case.received_at.desc(), Case.id.desc()]
    if sort == "received_asc":
        return [Case.received_at.asc(), Case.id.asc()]
    if sort == "updated_desc":
        return [Case.updated_at.desc(), Case.id.desc()]
    base = sort.removesuffix(DESCENDING)
    if base == sort or base not in REVERSIBLE:
        return [
            column.asc().nulls_last() if column.key in _NULLABLE else column.asc()
            for column in _ascending_columns(sort)
        ]
    return [
        column.desc().nulls_first() if column.key in _NULLABLE else column.desc()
        for column in _ascending_columns(base)
    ]


def _ascending_columns(sort: str) -> list[Any]:
    if sort == "ref":
        return [Case.ref]
    if sort == "status":  # the workflow's order, computed by the database (ix_cases_status_rank)
        return [Case.status_rank, Case.received_at, Case.id]
    # By attention_at, the deadline the Due column shows: a new case's first response as well
    # as its referrals' clocks (next_due alone put a new Immediate request after cases due next
    # year). Both as the indexes read them (ix_cases_open_deadline / ix_cases_open_priority and
    # ix_cases_open_assignee for open tabs, ix_cases_deadline / ix_cases_priority for "All"):
    # PostgreSQL puts NULLs last in ascending order; SQLite is told to.
    if sort == "deadline":
        return [Case.attention_at, Case.received_at, Case.id]
    return [Case.urgency_rank, Case.attention_at, Case.received_at, Case.id]


def _bounded_count(
    conditions: list[sa.ColumnElement[bool]], limit: int, order: Sequence[Any] | None = None
) -> sa.ScalarSelect[int]:
    """How many cases meet ``conditions``, counting no further than ``limit`` + 1 (so a
    result above ``limit`` means "more"): the rows of a LIMIT-ed subquery. ``order`` names the
    index to walk (its columns): with it PostgreSQL reads that index from the start and stops
    at the limit, rather than scanning the table in storage order and hoping the matching rows
    come early (they do not: a week's deadlines are the newest rows)."""
    found = sa.select(sa.literal(1).label("one")).select_from(Case).where(*conditions)
    if order:
        found = found.order_by(*order)
    return counting.at_most(found, limit)


def _count_orders() -> dict[str, Sequence[Any]]:
    """Per saved view, the index its tab count walks (see _bounded_count)."""
    by_attention = [Case.attention_at]  # ix_cases_open_attention
    by_assignee = [Case.assignee_id, *_order("priority")]  # ix_cases_open_assignee
    return {
        "action": _order("priority"),  # ix_cases_open_priority, as the page itself
        "mine": by_assignee,
        "unassigned": by_assignee,
        "overdue": by_attention,
        "week": by_attention,
        "waiting": by_attention,
        "open": by_attention,
        "closed": [Case.status, Case.urgency],  # ix_cases_status_urgency
    }


_CURRENT_KEY = "current_key"
_VIEWER_HOLDS_KEY = "viewer_holds_key"
_KIT_CONFIRMED = "kit_confirmed"
_VIEWER_HAD_GRANT = "viewer_had_grant"
_ASSIGNABLE = "assignable"


def _current_key() -> sa.ScalarSelect[int | None]:
    """The current organisation key's id: the newest not retired, as keys.current_org_key."""
    return sa.select(sa.func.max(OrgKey.id)).where(OrgKey.retired_at.is_(None)).scalar_subquery()


def _viewer_holds_key() -> sa.ScalarSelect[int]:
    """1 when the viewer holds an active grant of the current organisation key, else 0: a
    colleague signed in before an admin gave them the key sees every row as "cannot be
    opened", and the page must say why (and who can help)."""
    return (
        sa.select(sa.func.count())
        .where(
            KeyGrant.user_id == _VIEWER,
            KeyGrant.org_key_id == _current_key(),
            KeyGrant.revoked_at.is_(None),
        )
        .scalar_subquery()
    )


def _assignable(dialect: str) -> sa.ScalarSelect[Any]:
    """The assignee filter's people, as one JSON array of [id, e-mail] ordered by e-mail:
    who can be assigned a case (able to sign in and holding a key: casework.able_to_act),
    and whoever holds an open case now, able or not (finding their cases is the point)."""
    holds_open = (
        sa.select(Case.id).where(Case.assignee_id == User.id, Case.status != _CLOSED).exists()
    )
    people = sa.select(User.id, User.email).where(sa.or_(able_to_act(None), holds_open))
    if dialect == "postgresql":
        pair = sa.func.json_build_array(User.id, User.email)
        return people.with_only_columns(
            sa.func.json_agg(aggregate_order_by(pair, User.email))
        ).scalar_subquery()
    # SQLite keeps the order of the rows it aggregates (its BINARY collation is Python's order).
    ordered = people.order_by(User.email).subquery()
    return sa.select(
        sa.func.json_group_array(sa.func.json_array(ordered.c.id, ordered.c.email))
    ).scalar_subquery()


@functools.cache
def _tab_counts(cap: int, dialect: str) -> tuple[sa.Label[Any], ...]:
    """Each saved view's bounded count (up to ``cap`` + 1), the current key and who can be
    assigned a case, as columns: what the page shows above its rows, in one statement."""
    orders = _count_orders()
    columns: list[sa.Label[Any]] = [
        _bounded_count([condition], cap, orders.get(name)).label(name)
        for name, condition in _view_conditions().items()
    ]
    columns.append(_current_key().label(_CURRENT_KEY))
    columns.append(_viewer_holds_key().label(_VIEWER_HOLDS_KEY))
    kit, had_grant = recovery.way_back_columns(_VIEWER)
    columns += [kit.label(_KIT_CONFIRMED), had_grant.label(_VIEWER_HAD_GRANT)]
    columns.append(_assignable(dialect).label(_ASSIGNABLE))
    return tuple(columns)


@functools.cache
def _tab_counts_statement(cap: int, dialect: str) -> sa.Select[Any]:
    """The tab counts as one statement built once: SQLAlchemy keys its compiled-SQL cache by
    walking a statement, once per statement object (this one has ten subqueries)."""
    return sa.select(*_tab_counts(cap, dialect))


class Listed(NamedTuple):
    """A filtered list to read the ids of: its conditions, how far to count (``limit`` + 1
    ids), its sort, and whether a search narrows it (a reference's part, keyed tokens)."""

    conditions: list[sa.ColumnElement[bool]]
    limit: int
    sort: str
    searched: bool = False


def view_counts(
    viewer: User,
    now: datetime | None = None,
    listed: Listed | None = None,
) -> tuple[dict[str, int], list[StaffMember], list[int]]:
    """How many cases each saved view holds, up to COUNT_CAP + 1 each (:mod:`counting`), in one
    statement. The current organisation key's id rides along as "current_key" (0: none), with
    whether the viewer holds it and how they can have it (recovery.way_back_columns), and who
    can be assigned a case (by e-mail). With ``listed``, the filtered list's first
    ``limit`` + 1 case ids in the sort's order come too (else an empty list): its
    bounded count and the ids of any of its pages, from one search (see _listed_ids)."""
    dialect = db.session.get_bind().dialect.name
    statement = _tab_counts_statement(counting.COUNT_CAP, dialect)
    parameters = _listing_parameters(now or utcnow(), viewer)
    if listed is not None:
        statement = statement.add_columns(_listed_ids(listed, dialect).label(_LISTED))
        if listed.sort in BY_COUNTRY:
            locale = str(get_locale() or "en")
            parameters[_COUNTRIES] = _country_order(locale, listed.sort, dialect)
    row = dict(db.session.execute(statement, parameters).one()._mapping)
    people = _json_list(row.pop(_ASSIGNABLE))
    ids = [int(case_id) for case_id in _json_list(row.pop(_LISTED, None))]
    if listed is not None:
        # By country, the cases with one and those without come as two lists, each as long.
        del ids[listed.limit + 1 :]
    counts = {name: int(value or 0) for name, value in row.items()}
    return counts, [StaffMember(int(person_id), email) for person_id, email in people], ids


def _json_list(value: Any) -> list[Any]:
    """A list column as the driver returns it: PostgreSQL's arrays and JSON arrive as lists,
    SQLite's JSON as text; NULL is an empty list."""
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value or [])


_LISTED = "listed_ids"


def _listed_ids(listed: Listed, dialect: str) -> sa.ColumnElement[Any]:
    """The ids of the first ``limit`` + 1 cases meeting ``conditions``, in ``sort``'s order,
    as one array column: the filtered list's bounded count is its length, and a page is a
    slice of it. The search (a reference's trigrams, a threat's GIN index, search tokens)
    then runs once per listing; counting it and reading the page apart ran it twice."""
    conditions, limit, sort, searched = listed
    if sort in BY_COUNTRY:
        return _listed_by_country(conditions, limit, sort, dialect, searched=searched)
    found = sa.select(Case.id).where(*conditions).order_by(*_order(sort)).limit(limit + 1)
    if dialect == "postgresql":
        # ARRAY(subquery) keeps the subquery's order.
        return sa.func.array(found.scalar_subquery())
    # SQLite keeps the order of the rows it aggregates (as in _assignable).
    ordered = found.subquery()
    return sa.select(sa.func.json_group_array(ordered.c.id)).scalar_subquery()


# By country: the countries' codes in the order of their names in the reader's language.
_COUNTRIES = "queue_countries"


@functools.cache
def _country_order(locale: str, sort: str, dialect: str) -> list[str] | str:
    """The parameter of a country sort: every country's code, ordered by its name in
    ``locale`` (reversed for the reversed sort); on SQLite as one text, ",AR,CN,…,"."""
    codes = list(vocab.countries_in_name_order(locale))
    if sort.endswith(DESCENDING):
        codes.reverse()
    return codes if dialect == "postgresql" else "," + ",".join(codes) + ","


def _listed_by_country(
    conditions: list[sa.ColumnElement[bool]],
    limit: int,
    sort: str,
    dialect: str,
    *,
    searched: bool,
) -> sa.ColumnElement[Any]:
    """The ids of the first ``limit`` + 1 cases meeting ``conditions`` by their country's name
    in the reader's language (the parameter :data:`_COUNTRIES`), oldest first within a
    country (all reversed for the reversed sort), then those of the first ``limit`` + 1
    cases without a country, which come last in both directions: two lists, one column.

    The names' order is no index's. On PostgreSQL the countries are walked in that order,
    each one's cases read off ix_cases_country_received in their order (a LATERAL join, at
    most ``limit`` + 1 a country), and the walk stops once it has enough: a page costs what
    it shows, not the whole list sorted by name (at 100,000 cases, ~1-6 ms against
    ~70-90 ms). A search (a reference's part, keyed tokens) finds few cases by its own index:
    those are sorted by the country's place in the order instead, as on SQLite (where a list
    is a small organisation's)."""
    descending = sort.endswith(DESCENDING)

    def in_order(*columns: Any) -> list[Any]:
        return [column.desc() if descending else column.asc() for column in columns]

    if dialect != "postgresql":
        # The country's place in ",AR,CN,…,"; none (or a code we do not name) last.
        place = sa.func.nullif(sa.func.instr(sa.bindparam(_COUNTRIES), "," + Case.country + ","), 0)
        found = (
            sa.select(Case.id)
            .where(*conditions)
            .order_by(place.asc().nulls_last(), *in_order(Case.received_at, Case.id))
            .limit(limit + 1)
            .subquery()
        )
        return sa.select(sa.func.json_group_array(found.c.id)).scalar_subquery()
    order = sa.bindparam(_COUNTRIES, type_=pg.ARRAY(sa.String(2)))
    if searched:
        place = sa.func.array_position(order, Case.country)
        with_country = (
            sa.select(Case.id)
            .where(Case.country.is_not(None), *conditions)
            .order_by(place.asc().nulls_last(), *in_order(Case.received_at, Case.id))
            .limit(limit + 1)
        )
    else:
        countries = (
            sa.func.unnest(order)
            .table_valued("code", with_ordinality="rank")
            .render_derived(name="countries")
        )
        cases = (
            sa.select(Case.id, Case.received_at)
            .where(Case.country == countries.c.code, *conditions)
            .order_by(*in_order(Case.received_at, Case.id))
            .limit(limit + 1)
            .lateral("country_cases")
        )
        with_country = (
            sa.select(cases.c.id)
            .select_from(countries)
            .join(cases, sa.true())
            .order_by(countries.c.rank, *in_order(cases.c.received_at, cases.c.id))
            .limit(limit + 1)
        )
    without = (
        sa.select(Case.id)
        .where(Case.country.is_(None), *conditions)
        .order_by(*in_order(Case.received_at, Case.id))
        .limit(limit + 1)
    )
    return sa.func.array_cat(
        sa.func.array(with_country.scalar_subquery()), sa.func.array(without.scalar_subquery())
    )


class NearestClock(NamedTuple):
    """A case's referral with the nearest running clock (AWAITING, with a due date): what
    the queue's next action says of it."""

    kind: ReferralKind
    state: ReferralState
    due_at: datetime
    entry: str  # the entry's name in the reader's language, or its id
    # A UN referral's clock is the government's reply (else: check with the mandate).
    government_clock: bool = False


def queue(filters: QueueFilters, viewer: User) -> QueuePage:
    """One page of the caseworker queue, most urgent first; audited as a listing (no content).

    Counted as far as the page needs: up to :data:`counting.COUNT_CAP`, or to the requested page
    when it lies deeper (the page's own OFFSET reads as many rows). An out-of-range page shows
    the last one. The listing only reads, and its audit event is its only write: the commit
    leaves what was read (the rows, the viewer) as it was, so the page needs no reload per
    object after it."""
    session = db.session()
    expire_on_commit = session.expire_on_commit
    session.expire_on_commit = False
    try:
        return _listing(filters, viewer)
    finally:
        session.expire_on_commit = expire_on_commit


@transactional
def _listing(filters: QueueFilters, viewer: User) -> QueuePage:
    now = utcnow()
    conditions = _conditions(filters, viewer)
    count_limit = max(counting.COUNT_CAP, max(1, filters.page) * PAGE_SIZE)
    listed: list[int] | None = None
    # By country the page is always a slice of the list's ids (see _listed_by_country).
    by_view = filters.sort not in BY_COUNTRY
    if _only_the_view(filters) and count_limit == counting.COUNT_CAP and by_view:
        counts, assignable, _ = view_counts(viewer, now)
        total = counts[filters.view]
    else:
        searched = bool(filters.q or (filters.tokens and filters.search_key_id is not None))
        counts, assignable, listed = view_counts(
            viewer, now, Listed(conditions, count_limit, filters.sort, searched)
        )
        total = len(listed)
    search_key_id = counts.pop(_CURRENT_KEY) or None
    holds_key = bool(counts.pop(_VIEWER_HOLDS_KEY))
    way_back = recovery.WayBack(
        kit=bool(counts.pop(_KIT_CONFIRMED)), had_grant=bool(counts.pop(_VIEWER_HAD_GRANT))
    )
    capped = total > count_limit
    if capped:
        # More rows than counted, so this page is full and another follows it.
        page = max(1, filters.page)
        pages = page + 1
    else:
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, filters.page), pages)
    if listed is None:
        rows = _page_rows(conditions, filters.sort, page, search_key_id, now, viewer)
    else:
        shown = listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        rows = _rows_of(shown, search_key_id, now, viewer) if shown else []
    detail: dict[str, Any] = {
        "view": filters.view,
        "page": page,
        "shown": len(rows),
        "total": total,
        # The rows carry their ciphertext, and the viewer's browser opens each one's name and
        # summary: which cases were read is said here (the audit page's case filter finds it).
        "cases": [row.case.id for row in rows],
    }
    if capped:
        detail["capped"] = True
    audit.record_listing("case.list", viewer, detail)
    return QueuePage(
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        counts=counts,
        capped=capped,
        search_key_id=search_key_id,
        assignable=assignable,
        viewer_holds_key=holds_key,
        way_back=way_back,
    )


_HOLDER = aliased(User, name="holder")
_SEARCH_KEY = sa.bindparam("queue_search_key", type_=sa.Integer())


# A case's columns (QueueCase), its nearest clock (kind, state, due, entry id, entry names),
# indexed?, its holder (e-mail, and whether their account is active).
_PageQuery = sa.Select[Any]
_CASE_COLUMNS = len(QueueCase._fields)


@functools.cache
def _page_query(with_search_key: bool) -> _PageQuery:
    """What a page's statement reads of each case, before its conditions, order and page:
    built once per process (it was a fifth of the rows' cost), with ``queue_search_key``
    as a parameter when there is a current organisation key."""
    nearest = (
        sa.select(Referral.id)
        .where(
            Referral.case_id == Case.id,
            Referral.state.in_(AWAITING),
            Referral.due_at.is_not(None),
        )
        .order_by(Referral.due_at, Referral.id)
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )
    indexed = (
        sa.and_(CaseSearchIndex.case_id == Case.id, CaseSearchIndex.org_key_id == _SEARCH_KEY)
        if with_search_key
        else sa.false()
    )
    return (
        sa.select(
            *(getattr(Case, name) for name in QueueCase._fields),
            Referral.kind,
            Referral.state,
            Referral.due_at,
            Referral.entry_id,
            DirectoryEntry.name,
            DirectoryEntry.name_zh,
            # For a UN referral: is its clock the government's reply, or the check with the
            # mandate before anything was sent to the government (un_steps.clock_of)?
            un_steps.government_clock_started(Referral.id).label("government_clock"),
            CaseSearchIndex.case_id.is_not(None).label("indexed"),
            _HOLDER.email,
            _HOLDER.is_active_account,
        )
        .outerjoin(Referral, Referral.id == nearest)
        .outerjoin(DirectoryEntry, DirectoryEntry.id == Referral.entry_id)
        .outerjoin(CaseSearchIndex, indexed)
        .outerjoin(_HOLDER, _HOLDER.id == Case.assignee_id)
    )


def _page_rows(
    conditions: list[sa.ColumnElement[bool]],
    sort: str,
    page: int,
    search_key_id: int | None,
    now: datetime,
    viewer: User,
) -> list[QueueRow]:
    """One page of a saved view's cases in one statement (see _queue_rows)."""
    query = (
        _page_query(search_key_id is not None)
        .where(*conditions)
        .order_by(*_order(sort))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return _queue_rows(query, search_key_id, now, viewer)


def _rows_of(
    case_ids: list[int], search_key_id: int | None, now: datetime, viewer: User
) -> list[QueueRow]:
    """The cases ``case_ids`` (a page of a filtered list, from _listed_ids) in that order."""
    dialect = db.session.get_bind().dialect.name
    query = _page_by_ids(search_key_id is not None, dialect)
    position = {case_id: index for index, case_id in enumerate(case_ids)}
    rows = _queue_rows(query, search_key_id, now, viewer, {_PAGE_IDS: case_ids})
    return sorted(rows, key=lambda row: position[row.case.id])


_PAGE_IDS = "queue_page_ids"


@functools.cache
def _page_by_ids(with_search_key: bool, dialect: str) -> _PageQuery:
    """A page's statement by its cases' ids, one parameter for any number of them (as
    :func:`_page_query`, built once per process)."""
    return _page_query(with_search_key).where(
        among_ids(Case.__table__.c.id, dialect == "postgresql", _PAGE_IDS)
    )


def _queue_rows(
    query: _PageQuery,
    search_key_id: int | None,
    now: datetime,
    viewer: User,
    extra: dict[str, Any] | None = None,
) -> list[QueueRow]:
    """Each case ``query`` finds with its nearest running referral clock (and that entry's
    names), whether it has search tokens under the current key, and the e-mail address of
    whoever holds it, and whether their account is deactivated."""
    locale = str(get_locale() or "en")
    rows = []
    parameters = {
        **_listing_parameters(now, viewer),
        "queue_search_key": search_key_id,
        **(extra or {}),
    }
    for row in db.session.execute(query, parameters):
        case = QueueCase._make(row[:_CASE_COLUMNS])
        (
            kind,
            state,
            due_at,
            entry_id,
            name,
            name_zh,
            government_clock,
            is_indexed,
            holder_email,
            holder_active,
        ) = row[_CASE_COLUMNS:]
        clock = None
        if due_at is not None:
            entry = vocab.name_for_reader(name, name_zh, locale) if name else entry_id
            clock = NearestClock(kind, state, due_at, entry, bool(government_clock))
        rows.append(
            QueueRow(
                case=case,
                next_due=case.next_due,
                flags=flags_for(case, case.next_due, now),
                next_action=next_action(case, clock, now),
                indexed=bool(is_indexed),
                assignee_email=holder_email,
                assignee_deactivated=holder_email is not None and not holder_active,
            )
        )
    return rows


def next_action(case: QueueCase, referral: NearestClock | None, now: datetime) -> NextAction:
    """The nearest thing due on an open case: its first response or a referral's clock."""
    if case.status == CaseStatus.CLOSED:
        return NextAction("none", "none")
    respond_by = first_response_due(case)
    due = referral.due_at if referral is not None else None
    if respond_by is not None and (due is None or respond_by <= due):
        when = "overdue" if respond_by < now else "soon"
        return NextAction("first_response", when, respond_by)
    if referral is None or due is None:
        return NextAction("none", "none")
    return referral_action(referral, now)


def referral_action(referral: NearestClock, now: datetime) -> NextAction:
    """What a running referral's clock asks next, and how near it is: the queue's row and the
    case page's "Next action" say it in the same words (cases.wording.next_action_words)."""
    if referral.state == ReferralState.DRAFT:
        what = "send"
    elif referral.kind in un_steps.CLOCK_STEP:
        # Before the UN writes to the government, the date is when to check with the mandate.
        what = "government_reply" if referral.government_clock else "check_mandate"
    else:
        what = "answer"
    due = referral.due_at
    when = "overdue" if due < now else "soon" if is_due_soon(due, now) else "waiting"
    return NextAction(what, when, due, referral.entry, referral.kind)


def flags_for(case: QueueCase, next_due: datetime | None, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    flags: list[str] = []
    if case.unread_follow_up_at is not None:
        flags.append("follow_up")  # shown on a closed case too: the submitter wrote after all
    if case.status == CaseStatus.CLOSED:
        return flags
    if case.status == CaseStatus.NEW:
        flags.append("new")
    if case.assignee_id is None:
        flags.append("unassigned")
    respond_by = first_response_due(case)
    if (respond_by is not None and respond_by < now) or (next_due is not None and next_due < now):
        flags.append("overdue")
    elif next_due is not None and is_due_soon(next_due, now):
        flags.append("due_soon")
    return flags
