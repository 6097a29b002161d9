"""The queue's cost follows the page: counts stop at a cap, pages go on past it, and the
number of statements a listing runs does not depend on how many cases there are."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Case, CaseStatus, Role, SealedBy, Urgency, User, queue_state
from intake.services import counting
from intake.services import queue as queue_service
from tests.builders import OrgKeyPair, make_case, make_org_key, make_user, sign_in

CAP = 5  # the counting cap in these tests (COUNT_CAP), so that a few cases exceed it


@pytest.fixture(autouse=True)
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counting, "COUNT_CAP", CAP)


def refs_in(html: str) -> list[str]:
    return re.findall(r'class="case-ref" href="/cases/([^"]+)"', html)


def badge(html: str, view: str) -> str:
    tab = re.search(
        rf'href="/cases/\?view={view}[^"]*"[^>]*>\s*[^<]+<span class="badge">([^<]+)<', html
    )
    assert tab is not None, view
    return tab.group(1)


def open_cases(org: OrgKeyPair, count: int, start: int = 0, **fields: Any) -> None:
    for number in range(start, start + count):
        make_case(
            org,
            ref=f"RF-B{number:03d}",
            received_at=utcnow() - timedelta(hours=500 - number),
            **fields,
        )


@contextmanager
def statements(app: Flask, sent: list[tuple[str, Any]] | None = None) -> Iterator[list[str]]:
    """The SQL of each statement run meanwhile; ``sent`` also gets each with its parameters."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))
        if sent is not None:
            sent.append((str(args[2]), args[3]))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def plan_of(statement: str, parameters: Any) -> str:
    """PostgreSQL's plan for a statement as the app sent it."""
    explained = db.session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in explained)


def test_tab_counts_match_a_direct_count_below_the_cap(any_app: Flask) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    open_cases(org, 3, status=CaseStatus.ASSESSING, assignee_id=me.id)
    open_cases(org, 2, start=3, status=CaseStatus.CLOSED)
    html = client.get("/cases/").get_data(as_text=True)
    direct = {
        "mine": db.session.scalar(
            sa.select(sa.func.count()).where(
                Case.assignee_id == me.id, Case.status != CaseStatus.CLOSED
            )
        ),
        "closed": db.session.scalar(
            sa.select(sa.func.count()).where(Case.status == CaseStatus.CLOSED)
        ),
        "open": db.session.scalar(
            sa.select(sa.func.count()).where(Case.status != CaseStatus.CLOSED)
        ),
    }
    assert direct == {"mine": 3, "closed": 2, "open": 3}
    for view, count in direct.items():
        assert badge(html, view) == str(count), view
    all_html = client.get("/cases/?view=all").get_data(as_text=True)
    assert "5 cases" in all_html
    assert "More than" not in all_html


def test_past_the_cap_a_tab_says_so_and_the_pages_go_on(any_app: Flask) -> None:
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    total = 2 * queue_service.PAGE_SIZE + 3  # three pages, well past the cap of 5
    open_cases(org, total, status=CaseStatus.ASSESSING)
    first = client.get("/cases/?view=open").get_data(as_text=True)
    assert badge(first, "open") == f"{CAP}+"
    assert badge(first, "closed") == "0"
    # The list's own count reaches at least to the end of the page shown.
    assert f"More than {max(CAP, queue_service.PAGE_SIZE)} cases" in first
    assert "page 1 of" not in first
    assert 'href="/cases/?view=open&amp;page=2" rel="next"' in first
    everything = [f"RF-B{n:03d}" for n in range(total)]
    seen = refs_in(first)
    for number in (2, 3):
        html = client.get(f"/cases/?view=open&page={number}").get_data(as_text=True)
        seen += refs_in(html)
        assert f"page {number}" in html
    assert seen == everything  # every case once, in the queue's order
    # The last page is counted exactly (the count reaches as deep as the page asked for).
    last = client.get("/cases/?view=open&page=3").get_data(as_text=True)
    assert "page 3 of 3" in last
    assert 'rel="next"' not in last
    # A page beyond the end shows the last one, as before.
    assert refs_in(client.get("/cases/?view=open&page=9").get_data(as_text=True)) == everything[-3:]


def test_a_capped_listing_is_audited_as_capped(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_service, "PAGE_SIZE", 2)
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    open_cases(org, CAP + 2, status=CaseStatus.ASSESSING)
    client.get("/cases/?view=open")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.list")).one()
    listed = event.detail.pop("cases")
    assert event.detail == {
        "view": "open",
        "page": 1,
        "shown": 2,
        "total": CAP + 1,
        "capped": True,
    }
    assert len(listed) == 2


@pytest.mark.parametrize(
    "query",
    [
        "",
        "view=mine",
        "view=open&country=MX",
        "view=all&q=RF-B0",
        "view=open&page=2",
        "view=open&sort=country",
        "view=all&sort=country_desc&page=2",
    ],
)
def test_the_statements_a_listing_runs_do_not_grow_with_the_cases(
    any_app: Flask, query: str
) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    colleagues = [make_user(Role.CASEWORKER) for _ in range(3)]

    def add(count: int, start: int) -> None:
        for number in range(start, start + count):
            holder: User | None = ([me, *colleagues, None])[number % 5]
            make_case(
                org,
                ref=f"RF-B{number:03d}",
                status=CaseStatus.ASSESSING if number % 3 else CaseStatus.NEW,
                assignee_id=holder.id if holder else None,
                received_at=utcnow() - timedelta(hours=number),
            )
        db.session.commit()

    def listing() -> int:
        client.get(f"/cases/?{query}")  # warm: the session row, the time zone, the key
        with statements(any_app) as seen:
            response = client.get(f"/cases/?{query}")
        assert response.status_code == 200
        return len(seen)

    add(30, 0)
    few = listing()
    add(270, 30)
    many = listing()
    assert few == many, (few, many)
    # The session row with its account, the counts with the current key, the page with its
    # clocks, the audit head and event (SQLite: and the head at commit), the staff named,
    # the organisation's profile; how this caseworker, holding no key, can get it comes with the
    # counts (a statement after the commit opened a second transaction).
    assert many <= 8


def test_a_search_runs_once_per_listing_and_its_pages_are_slices_of_it(any_app: Flask) -> None:
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    found = queue_service.PAGE_SIZE + 3
    open_cases(org, found, status=CaseStatus.ASSESSING)
    open_cases(org, 2, start=100, status=CaseStatus.CLOSED)
    everything = [f"RF-B{n:03d}" for n in range(found)]

    def searched(query: str) -> tuple[str, list[str], int]:
        """The page, the statements that match on the reference's pattern (a bound parameter),
        and how many statements the listing ran."""
        client.get(f"/cases/?{query}")  # warm: the session row, the time zone, the key
        with statements(any_app) as seen:
            response = client.get(f"/cases/?{query}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return html, [sql for sql in seen if " LIKE " in sql], len(seen)

    # Counted and paged from one search: the page is read by id, not searched again.
    first, matching, ran = searched("view=open&q=RF-B0")
    assert len(matching) == 1, matching
    assert refs_in(first) == everything[: queue_service.PAGE_SIZE]
    # Counted past the tabs' cap (5), as deep as the page needs: more than one page's worth.
    assert f"More than {queue_service.PAGE_SIZE} cases" in first
    second, matching, _ = searched("view=open&q=RF-B0&page=2")
    assert len(matching) == 1, matching
    assert refs_in(second) == everything[queue_service.PAGE_SIZE :]
    assert "page 2 of 2" in second
    # A page past the end shows the last one; the closed cases stay out of "open".
    past = searched("view=open&q=RF-B&page=7")[0]
    assert refs_in(past) == everything[queue_service.PAGE_SIZE :]
    # Nothing found: the search runs once and no page is read at all (one statement fewer).
    empty, matching, ran_empty = searched("view=open&q=RF-ZZZ")
    assert refs_in(empty) == []
    assert len(matching) == 1, matching
    assert ran_empty == ran - 1, (ran_empty, ran)


@pytest.mark.postgres
def test_the_threat_filter_is_answered_by_its_index_on_postgresql(pg_app: Flask) -> None:
    org = make_org_key()
    make_case(org, ref="RF-T001", threats=["detention", "lawsuit"])
    make_case(org, ref="RF-T002", threats=["digital"])
    db.session.commit()
    statement = sa.select(Case.ref).where(queue_service._has_threat("detention"))
    assert list(db.session.scalars(statement)) == ["RF-T001"]
    # The filter is the index's own expression: with sequential scans priced out (the table is
    # tiny), the plan reads ix_cases_threats. A text match would have no index to read.
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))
    assert "ix_cases_threats" in plan, plan


def _many_cases(org: OrgKeyPair, count: int, holder: User) -> None:
    """``count`` cases in one INSERT (the builders' flush per case would take minutes): every
    status and urgency, first responses and referral clocks from a year ago to a year ahead,
    a third held by ``holder``. The stored queue columns as queue_state computes them."""
    now = utcnow()
    statuses = list(CaseStatus)
    urgencies = list(Urgency)
    rows = []
    for number in range(count):
        status = statuses[number % len(statuses)]
        urgency = urgencies[number % 7 % len(urgencies)]
        received = now - timedelta(hours=(number * 37) % 9000)
        first_response = queue_state.first_response_at(urgency, received)
        next_due = None if number % 3 else now + timedelta(hours=(number * 53) % 17000 - 8500)
        rows.append(
            {
                "ref": f"RF-P{number:05d}",
                "status": status,
                "urgency": urgency,
                "sealed_by": SealedBy.SERVER,
                "org_key_id": org.key.id,
                "sealed_answers": "sealed",
                "receipt_lookup": f"{number:064x}",
                "received_at": received,
                "assignee_id": holder.id if number % 3 == 1 else None,
                "urgency_rank": queue_state.urgency_rank(urgency),
                "first_response_at": first_response,
                "next_due": next_due,
                "attention_at": queue_state.attention_at(status, first_response, next_due),
            }
        )
    db.session.execute(sa.insert(Case), rows)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE cases"))


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("view", "sort", "index"),
    [
        ("action", "priority", "ix_cases_open_priority"),  # the queue's first page
        ("open", "priority", "ix_cases_open_priority"),
        ("open", "deadline", "ix_cases_open_deadline"),
        ("mine", "priority", "ix_cases_open_assignee"),
    ],
)
def test_a_deadline_sorts_first_page_walks_its_index_on_postgresql(
    pg_app: Flask, view: str, sort: str, index: str
) -> None:
    org = make_org_key()
    me = make_user(role=Role.CASEWORKER)
    _many_cases(org, 3000, me)
    filters = queue_service.QueueFilters(view=view, sort=sort)
    parameters = queue_service._listing_parameters(utcnow(), me)
    page = (
        queue_service._page_query(False)
        .where(*queue_service._conditions(filters, me))
        .order_by(*queue_service._order(sort))
        .limit(queue_service.PAGE_SIZE)
        .params(parameters)
    )
    # The order is the index's own (attention_at, a first response included): PostgreSQL reads
    # it from the start and stops after a page, with no Sort of every open case.
    sql = str(page.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(db.session.scalars(sa.text("EXPLAIN " + sql)))
    assert f"Index Scan using {index} on cases" in plan, plan
    assert "Sort Key: cases." not in plan, plan  # (a case's nearest referral is sorted)
    # And the page is the first of the view's cases by their next deadline (none: last).
    found = db.session.execute(
        sa.select(Case.ref, Case.urgency_rank, Case.attention_at, Case.received_at, Case.id)
        .where(*queue_service._conditions(filters, me))
        .params(parameters)
    ).all()

    def order(case: Any) -> tuple[Any, ...]:
        deadline = (case.attention_at is None, case.attention_at or case.received_at)
        rank = (case.urgency_rank,) if sort == "priority" else ()
        return (*rank, *deadline, case.received_at, case.id)

    expected = [case.ref for case in sorted(found, key=order)[: queue_service.PAGE_SIZE]]
    assert [row.ref for row in db.session.execute(page)] == expected


def test_the_page_reads_each_rows_un_clock_by_index_not_by_scanning_every_step(
    pg_app: Flask,
) -> None:
    """Whether a UN referral's clock is the government's (un_steps.government_clock_started)
    is read for the page's rows only. As an EXISTS, PostgreSQL planned it as a hashed subplan
    over every UN step of every case when the list was long (the open cases' estimate, not
    the page's 25 rows): at 100,000 demo cases, 30 of the first page's 60 ms."""
    from intake import demo
    from intake.services import directory

    directory.import_shipped()
    make_org_key()
    client = pg_app.test_client()
    sign_in(client, Role.CASEWORKER)
    db.session.commit()
    demo.create(400)
    assert db.session.scalar(sa.text("SELECT count(*) FROM un_steps")) > 300
    with db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    client.get("/cases/")  # warm: the session row, the time zone, the key
    sent: list[tuple[str, Any]] = []
    with statements(pg_app, sent):
        for query in ("", "view=open", "view=mine"):
            assert client.get(f"/cases/?{query}").status_code == 200
    reading_steps = [(sql, parameters) for sql, parameters in sent if "un_steps" in sql]
    assert len(reading_steps) == 3
    for statement, parameters in reading_steps:
        plan = plan_of(statement, parameters)
        assert "un_steps" in plan, plan
        assert "Seq Scan on un_steps" not in plan, plan
        assert "hashed SubPlan" not in plan, plan


def test_sorted_by_country_cases_without_one_come_last_then_oldest_first(any_app: Flask) -> None:
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    now = utcnow()
    for number, (country, hours) in enumerate(
        [(None, 50), ("MX", 10), ("AR", 5), ("MX", 40), (None, 60), ("AR", 30)]
    ):
        make_case(
            org,
            ref=f"RF-C{number:03d}",
            country=country,
            status=CaseStatus.ASSESSING,
            received_at=now - timedelta(hours=hours),
        )
    html = client.get("/cases/?view=open&sort=country").get_data(as_text=True)
    assert refs_in(html) == ["RF-C005", "RF-C002", "RF-C003", "RF-C001", "RF-C004", "RF-C000"]


SORTS_BY_INDEX = ("priority", "deadline", "received_desc", "received_asc", "updated_desc", "ref")


@pytest.mark.parametrize("view", ["action", "open", "mine", "closed", "all"])
@pytest.mark.parametrize(
    "sort",
    [*SORTS_BY_INDEX, "country", "status", *(f"{s}_desc" for s in queue_service.REVERSIBLE)],
)
def test_a_page_in_any_sort_is_read_off_an_index_in_its_order(
    pg_app: Flask, view: str, sort: str
) -> None:
    """At 100,000 demo cases, sorting by country or status on any tab, or anything on "All",
    or by "Recently updated", read and sorted every case: 90-260 ms a page. Each is now read
    off an index in its order (PostgreSQL's plan with sorts off still shows a sort where no
    index can give the order). By country, the countries are walked in the order of their
    names (no index has it), each one's cases read off ix_cases_country_received in theirs:
    the one sort is of the cases read so far within one country (an incremental sort whose
    groups are the countries), never of the list."""
    client = pg_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    org = make_org_key()
    open_cases(org, 2, status=CaseStatus.NEW, assignee_id=me.id)
    open_cases(org, 2, start=2, status=CaseStatus.CLOSED, assignee_id=me.id)
    sent: list[tuple[str, Any]] = []
    with statements(pg_app, sent):
        assert client.get(f"/cases/?view={view}&sort={sort}").status_code == 200
    # What orders cases: the page, or its ids, and the counts.
    ordering = [(sql, parameters) for sql, parameters in sent if "ORDER BY cases." in sql]
    assert any(f"ORDER BY {_order_sql(sort)}" in statement for statement, _ in ordering)
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    by_country = sort in queue_service.BY_COUNTRY
    for statement, parameters in ordering:
        plan = plan_of(statement, parameters)
        # Any sort but the nearest-referral subquery's (on referral columns): expression keys
        # print in parentheses, "Sort Key: ((country IS NULL)), ...".
        lines = plan.splitlines()
        sorts = [line for line in lines if "Sort Key:" in line]
        if by_country and "countries" in statement:
            within = [line for line in sorts if "Sort Key: countries.rank," in line]
            assert len(within) == 1, plan
            assert lines[lines.index(within[0]) + 1].strip() == "Presorted Key: countries.rank"
            walked = r"Index (Only )?Scan (Backward )?using ix_cases_country_received"
            assert re.search(walked, plan), plan
            sorts.remove(within[0])
        assert all("referrals" in line for line in sorts), plan
        assert "Seq Scan on cases" not in plan, plan


def test_a_column_header_turns_its_sort_around(any_app: Flask) -> None:
    """Each column sorted one way only: clicking "Reference" again loaded the same page, and
    the arrow always pointed down (a review in Chromium)."""
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    now = utcnow()
    for number, (country, hours) in enumerate([(None, 50), ("MX", 10), ("AR", 5), ("MX", 40)]):
        make_case(
            org,
            ref=f"RF-C{number:03d}",
            country=country,
            status=CaseStatus.ASSESSING,
            received_at=now - timedelta(hours=hours),
        )
    html = client.get("/cases/?view=open&sort=ref").get_data(as_text=True)
    assert refs_in(html) == ["RF-C000", "RF-C001", "RF-C002", "RF-C003"]
    header = re.search(r'<th scope="col" aria-sort="ascending">\s*<a href="([^"]+)">', html)
    assert header is not None
    assert "sort=ref_desc" in header.group(1)
    reversed_html = client.get(header.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert refs_in(reversed_html) == ["RF-C003", "RF-C002", "RF-C001", "RF-C000"]
    back = re.search(r'<th scope="col" aria-sort="descending">\s*<a href="([^"]+)">', reversed_html)
    assert back is not None
    assert "sort=ref&" in back.group(1) + "&"
    assert '<option value="ref_desc" selected>Reference, reversed</option>' in reversed_html
    # Reversed, but the case without a country stays last (it came first going down).
    up = refs_in(client.get("/cases/?view=open&sort=country").get_data(as_text=True))
    down = refs_in(client.get("/cases/?view=open&sort=country_desc").get_data(as_text=True))
    assert up[-1] == down[-1] == "RF-C000"
    assert down[:-1] == list(reversed(up[:-1]))


def _order_sql(sort: str) -> str:
    """The first column of a sort's ORDER BY as PostgreSQL is sent it (by country: the place
    of the country's name in the reader's order)."""
    if sort in queue_service.BY_COUNTRY:
        return "countries.rank"
    return str(queue_service._order(sort)[0].compile(db.engine)).split(" ")[0]


def test_sorted_by_status_cases_follow_the_workflow_as_their_status_changes(
    any_app: Flask,
) -> None:
    """The Status sort's rank is computed by the database from the status (Case.status_rank):
    it follows every change, through the ORM and through bulk updates alike."""
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    now = utcnow()
    order = [CaseStatus.MONITORING, CaseStatus.NEW, CaseStatus.CLOSED, CaseStatus.REFERRED]
    cases = [
        make_case(
            org, ref=f"RF-S{number:03d}", status=status, received_at=now - timedelta(hours=number)
        )
        for number, status in enumerate(order)
    ]
    listed = refs_in(client.get("/cases/?view=all&sort=status").get_data(as_text=True))
    assert listed == ["RF-S001", "RF-S003", "RF-S000", "RF-S002"]
    cases[2].status = CaseStatus.ASSESSING  # reopened, through the ORM
    db.session.commit()
    db.session.execute(  # and one closed by a bulk statement
        sa.update(Case).where(Case.id == cases[1].id).values(status=CaseStatus.CLOSED)
    )
    db.session.commit()
    listed = refs_in(client.get("/cases/?view=all&sort=status").get_data(as_text=True))
    assert listed == ["RF-S002", "RF-S003", "RF-S000", "RF-S001"]
    ranks = [case.status_rank for case in db.session.scalars(sa.select(Case).order_by(Case.ref))]
    assert ranks == [3, 4, 1, 2]


def test_the_status_rank_the_models_compute_is_the_one_the_migrations_store() -> None:
    """``STATUS_RANK_SQL`` follows ``CaseStatus``; a deployed database keeps the expression its
    migration wrote (Alembic's comparison only warns about a changed computed column). A new
    or reordered status needs a migration that writes the new expression: this says so."""
    import importlib.util
    from pathlib import Path

    from intake.models.case import STATUS_RANK_SQL

    path = Path(__file__).resolve().parents[2] / "migrations/versions/0032_cases_status_rank.py"
    spec = importlib.util.spec_from_file_location("migration_0032", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.STATUS_RANK_SQL == STATUS_RANK_SQL
