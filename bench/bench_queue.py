"""The caseworker queue (/cases) at 100,000 cases on PostgreSQL, against the indexed design.

Usage:
  python bench/bench_queue.py quick [CASES]   make bench-quick: records queue_p95_100k_ms and
                                             queue_p95_ratio in bench/results/ratios.json
  python bench/bench_queue.py demo [CASES]    only `flask demo --cases CASES`, timed

The cases come from the real `flask demo --cases N` (sealed to the organisation key, triage
stored, referrals with deadlines around today), timed too. Each scenario (the first page, a
few filters, a search by part of a reference) is requested ``REQUESTS`` times through the
real Flask view, by a test client signed in as a caseworker (sessions, counts, the audit
row, the template); the bare baseline is one hand-written SQL statement over the same
indexes returning the same page of rows with what the page shows of them (the case's
columns, its nearest running referral clock with that entry's names, the assignee's
address), on a plain psycopg connection, checked to give the same cases as the view. The
same statement without the clock and the address (the cases' columns only, the baseline
until 2026-12-02) is timed too and recorded beside it. So is a bare *page* (``bare_page``):
a Flask app with no Refuge code whose one route runs the bare statement on its own psycopg
connection and renders the rows' columns into an HTML table, requested the same way as the
view. It does what any page serving the indexed design must (a request, the statement, the
rows escaped into HTML) and nothing of Refuge's (no session, sign-in, tab counts, audit
event, translations or page frame): the detail keeps the view's p95 over it beside the
headline ratio, to show how much of the gap is the page itself rather than the queue.
Figures are p95 (nearest rank). A signed-in page that does no queue work (the unlock page)
is timed as well: the fixed cost of any staff page. The database is
``BENCH_QUEUE_DATABASE_URL`` (its own; dropped tables afterwards).

``BENCH_QUEUE_REUSE=1`` keeps the populated database between runs, to iterate on the view:
a run reuses it when it is at the migrations' head with the bench's staff and at least CASES
cases (the demo is then not timed again), and leaves it in place afterwards.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from _common import ensure_database, write_results

DATABASE_URL = os.environ.get(
    "BENCH_QUEUE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refuge_bench_queue"
)
REUSE = os.environ.get("BENCH_QUEUE_REUSE", "") == "1"
REQUESTS = 60
WARM_UP = 3
# The columns a queue row shows (the ORM loads these; the stored triage is deferred).
COLUMNS = (
    "id, ref, status, shared_status, shared_status_held, urgency, threats, profiles, country, "
    "languages, consent_given, locale, sealed_by, org_key_id, sealed_answers, receipt_lookup, "
    "reply_public_key, assignee_id, outcome, received_at, updated_at, closed_at, urgency_rank, "
    "first_response_at, next_due, attention_at"
)
CASE_COLUMNS = ", ".join(f"c.{name.strip()}" for name in COLUMNS.split(","))
# What else a row shows: its next action (the referral with the nearest running clock, and
# that entry's names) and who holds it.
# (For a UN referral, whether its clock is the government's: a step that starts it exists.)
SHOWN = (
    "FROM cases c LEFT JOIN LATERAL (SELECT r.kind, r.state, r.due_at, r.entry_id, "
    "(SELECT true FROM un_steps s WHERE s.referral_id = r.id "
    "AND s.kind IN ('communication_sent', 'opinion_transmitted') LIMIT 1) AS government "
    "FROM referrals r WHERE r.case_id = c.id AND r.state IN ('draft', 'sent', 'acknowledged') "
    "AND r.due_at IS NOT NULL ORDER BY r.due_at, r.id LIMIT 1) clock ON true "
    "LEFT JOIN directory_entries e ON e.id = clock.entry_id "
    "LEFT JOIN users u ON u.id = c.assignee_id"
)
SHOWN_COLUMNS = (
    f"{CASE_COLUMNS}, clock.kind, clock.state, clock.due_at, e.name, e.name_zh, u.email, "
    "clock.government"
)
OPEN = "c.status <> 'closed'"
PRIORITY = "ORDER BY c.urgency_rank, c.attention_at NULLS LAST, c.received_at, c.id LIMIT 25"
DEADLINE = "ORDER BY c.attention_at NULLS LAST, c.received_at, c.id LIMIT 25"
NEWEST = "ORDER BY c.received_at DESC, c.id DESC LIMIT 25"
ACTION = f"{OPEN} AND (c.attention_at < %(soon)s OR (c.status = 'new' AND c.assignee_id IS NULL))"


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def p95_ms(samples: list[float]) -> float:
    return round(p95(samples) * 1000, 2)


def p50_ms(samples: list[float]) -> float:
    return round(sorted(samples)[len(samples) // 2] * 1000, 2)


def make_app() -> Any:
    from intake import create_app

    return create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "CELERY_BROKER_URL": "memory://",
            "RATELIMIT_ENABLED": False,
        }
    )


def prepare(app: Any) -> tuple[int, bytes]:
    """A fresh schema (migrations), an organisation key, staff, the shipped directory.
    Returns (a caseworker's id, the organisation secret key)."""
    from flask_migrate import upgrade

    from intake import crypto
    from intake.extensions import db
    from intake.models import OrgKey, Role, User
    from intake.services import directory, key_pins

    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade()
    public, secret = crypto.generate_keypair()
    key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
    db.session.add(key)
    key_pins.pin(key)
    staff = [User(email=f"cw{i}@bench.example", role=Role.CASEWORKER) for i in range(8)]
    db.session.add_all([*staff, User(email="admin@bench.example", role=Role.ADMIN)])
    db.session.commit()
    directory.import_shipped()
    return staff[0].id, secret


def reusable(app: Any, cases: int) -> tuple[int, dict[str, Any]] | None:
    """(the caseworker's id, the demo's sizes) of a database left by a run with REUSE, when it
    is at the migrations' head and holds at least ``cases`` cases; else None."""
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app

    from intake.extensions import db
    from intake.models import Case, Referral, User

    head = ScriptDirectory.from_config(
        current_app.extensions["migrate"].migrate.get_config()
    ).get_current_head()
    with db.engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() != head:
            return None
    caseworker_id = db.session.scalar(sa.select(User.id).where(User.email == "cw0@bench.example"))
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0
    if caseworker_id is None or stored < cases:
        return None
    referrals = db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) or 0
    print(f"reusing {stored:,} cases, {referrals:,} referrals (BENCH_QUEUE_REUSE=1)")
    return caseworker_id, {"cases": stored, "referrals": referrals, "seconds": None}


def run_demo(app: Any, cases: int, secret: bytes) -> dict[str, Any]:
    """`flask demo --cases N` through the CLI, timed; checks a case opens with the org key."""
    import json

    import sqlalchemy as sa

    from intake import crypto
    from intake.extensions import db
    from intake.models import Case

    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["demo", "--cases", str(cases)])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    sealed = db.session.scalar(sa.select(Case.sealed_answers).order_by(Case.id.desc()).limit(1))
    assert crypto.open_answers(sealed or "", secret)["what_happened"]
    db.session.remove()
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    rate = summary["cases"] / seconds
    print(
        f"flask demo --cases {cases}: {seconds:.1f} s ({rate:,.0f} cases/s), "
        f"{summary['referrals']:,} referrals"
    )
    return {"cases": summary["cases"], "referrals": summary["referrals"], "seconds": seconds}


def signed_in_client(app: Any, user: Any) -> Any:
    from flask import session

    from intake.auth.sessions import start_session

    client = app.test_client()
    with app.test_request_context():
        start_session(user)
        saved = dict(session)
    with client.session_transaction() as client_session:
        client_session.update(saved)
    return client


def scenarios(caseworker_id: int, ref_part: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, query string, the bare statement's WHERE and ORDER BY, its parameters beyond
    now/soon). Every value that varies is a parameter; the rest are constants of this file."""
    return [
        ("first_page", "", f"WHERE {ACTION} {PRIORITY}", {}),
        (
            "open_country",
            "view=open&country=MX",
            f"WHERE {OPEN} AND c.country = 'MX' {PRIORITY}",
            {},
        ),
        (
            "open_immediate_by_deadline",
            "view=open&urgency=immediate&sort=deadline",
            f"WHERE {OPEN} AND c.urgency = 'immediate' {DEADLINE}",
            {},
        ),
        (
            # Cases past their first response: every row's next action is a referral's clock
            # (the scenarios above show new cases' first responses), so the clocks are checked.
            "referred_newest",
            "view=open&status=referred&sort=received_desc",
            f"WHERE {OPEN} AND c.status = 'referred' {NEWEST}",
            {},
        ),
        (
            "mine",
            "view=mine",
            f"WHERE {OPEN} AND c.assignee_id = %(me)s {PRIORITY}",
            {"me": caseworker_id},
        ),
        (
            "open_detention",
            "view=open&threat=detention",
            # The GIN index of migration 0022 (ix_cases_threats) answers this expression.
            f"WHERE {OPEN} AND CAST(c.threats AS JSONB) @> '[\"detention\"]' {PRIORITY}",
            {},
        ),
        (
            "reference_search",
            f"view=all&q={ref_part}",
            f"WHERE c.ref LIKE %(ref)s {PRIORITY}",
            {"ref": f"%{ref_part}%"},
        ),
    ]


BARE_PAGE = """<!doctype html><title>Cases</title><table>
{%- for row in rows %}<tr><th><a href="/cases/{{ row.ref }}">{{ row.ref }}</a></th>
<td>{{ row.urgency }}</td><td>{{ row.status }}</td><td>{{ row.name }} {{ row.name_zh or '' }}</td>
<td>{{ row.kind or '' }} {{ row.due_at or '—' }}{{ ' (government)' if row.government else '' }}</td>
<td>{{ row.country or '' }}</td>
<td>{{ row.email or '' }}</td></tr>
{%- endfor %}</table>"""


def bare_page_app(connection: Any) -> Any:
    """The bare page (module docstring): one route, ``/<scenario>``, serving the scenario's
    bare statement as a table, on ``connection`` (psycopg, no ORM)."""
    from flask import Flask
    from psycopg.rows import dict_row

    bare_app = Flask("bare_page")
    statements: dict[str, tuple[str, dict[str, Any]]] = {}
    template = bare_app.jinja_env.from_string(BARE_PAGE)  # compiled once, as a file would be

    @bare_app.get("/<name>")
    def page(name: str) -> str:
        from intake.db import utcnow
        from intake.services.deadlines import DUE_SOON

        sql, extra = statements[name]
        now = utcnow()
        cursor = connection.cursor(row_factory=dict_row)  # the columns by name
        cursor.execute(sql, {"now": now, "soon": now + DUE_SOON, **extra})
        rows = cursor.fetchall()
        connection.commit()
        return template.render(rows=rows)

    bare_app.config["statements"] = statements
    return bare_app


def measure_queue(app: Any, caseworker_id: int) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa
    from markupsafe import escape
    from werkzeug.datastructures import MultiDict

    from intake.cases.forms import parse_filters
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import Case, User
    from intake.services import queue as queue_service
    from intake.services.deadlines import DUE_SOON

    caseworker = db.session.get_one(User, caseworker_id)
    # Part of a reference that exists, as staff type it: "RF-" and five of its eight symbols.
    ref = db.session.scalar(sa.select(Case.ref).order_by(Case.id.desc()).limit(1)) or ""
    ref_part = ref[:8]
    client = signed_in_client(app, caseworker)
    fresh_context = ThreadPoolExecutor(max_workers=1)
    bare_connection = db.engine.raw_connection()  # psycopg itself, no ORM, no Flask
    page_connection = db.engine.raw_connection()
    bare_pages = bare_page_app(page_connection)
    bare_page_client = bare_pages.test_client()
    results: dict[str, Any] = {}
    # Rows whose next action the bare statement's clock decides, by whether the government's
    # clock runs: both must have been compared, else the check checked nothing.
    clocks_checked = {True: 0, False: 0}

    def view(url: str) -> tuple[float, str]:
        def timed() -> tuple[float, Any]:
            started = time.perf_counter()
            response = client.get(url)
            return time.perf_counter() - started, response

        # In a thread with no application context, so that each request pushes its own, as
        # under gunicorn: this process's context would keep ``g`` (the time zone read, ...)
        # from one request to the next and hide a statement per request.
        seconds, response = fresh_context.submit(timed).result()
        assert response.status_code == 200, (url, response.status_code)
        return seconds, response.get_data(as_text=True)

    def bare_page(name: str) -> tuple[float, str]:
        def timed() -> tuple[float, Any]:
            started = time.perf_counter()
            response = bare_page_client.get(f"/{name}")
            return time.perf_counter() - started, response

        seconds, response = fresh_context.submit(timed).result()
        assert response.status_code == 200, (name, response.status_code)
        return seconds, response.get_data(as_text=True)

    for name, query, sql, extra in scenarios(caseworker_id, ref_part):
        url = f"/cases/?{query}" if query else "/cases/"

        def bare(
            sql: str = sql, extra: dict[str, Any] = extra, *, shown: bool = True
        ) -> tuple[float, Sequence[Any]]:
            now = utcnow()
            cursor = bare_connection.cursor()
            started = time.perf_counter()
            # Constants of this file only.
            if shown:
                statement = f"SELECT {SHOWN_COLUMNS} {SHOWN} {sql}"  # noqa: S608
            else:
                statement = f"SELECT {CASE_COLUMNS} FROM cases c {sql}"  # noqa: S608
            cursor.execute(statement, {"now": now, "soon": now + DUE_SOON, **extra})
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            bare_connection.commit()
            return seconds, rows

        # Same rows: the bare statement's cases are the view's page, in the view's order.
        _, bare_rows = bare()
        _, cases_only_rows = bare(shown=False)
        with app.test_request_context(url):
            viewer = db.session.get_one(User, caseworker_id)
            filters = parse_filters(MultiDict(parse_qsl(query)))
            page = queue_service.queue(filters, viewer)
            service_refs = [row.case.ref for row in page.rows]
            service_due = [row.next_action.due for row in page.rows]
            service_government = [row.next_action.what == "government_reply" for row in page.rows]
        db.session.remove()
        bare_refs = [row[1] for row in bare_rows]
        assert bare_refs == service_refs, (name, bare_refs[:3], service_refs[:3])
        assert [row[1] for row in cases_only_rows] == bare_refs, name
        _, html = view(url)
        shown = re.findall(r"RF-[0-9A-Z]{8}", html)
        assert set(bare_refs) <= set(shown), name
        bare_pages.config["statements"][name] = (
            f"SELECT {SHOWN_COLUMNS} {SHOWN} {sql}",  # noqa: S608 (constants of this file)
            extra,
        )
        _, bare_html = bare_page(name)
        assert re.findall(r"RF-[0-9A-Z]{8}", bare_html)[::2] == bare_refs, name
        assert bare_refs, f"{name}: no rows (the scenario measures nothing)"
        # Same clocks: where the page says a referral is next, it is the bare one's, by entry.
        columns = len(CASE_COLUMNS.split(","))
        for bare_row, due, government in zip(
            bare_rows, service_due, service_government, strict=True
        ):
            clock_due, entry_name = bare_row[columns + 2], bare_row[columns + 3]
            if due is not None and due == clock_due:
                clocks_checked[bool(bare_row[columns + 6])] += 1
                assert str(escape(entry_name)) in html, (name, entry_name)  # as Jinja escapes it
                # Same UN clock: the government's reply on the page where a step started it.
                assert government == bool(bare_row[columns + 6]), (name, bare_row[1])
        for _ in range(WARM_UP):
            view(url)
            bare()
            bare(shown=False)
            bare_page(name)
        # Interleaved, so that all see the same moments of a shared machine.
        view_times, bare_times, cases_only_times, page_times = [], [], [], []
        for _ in range(REQUESTS):
            view_times.append(view(url)[0])
            bare_times.append(bare()[0])
            cases_only_times.append(bare(shown=False)[0])
            page_times.append(bare_page(name)[0])
        row: dict[str, Any] = {
            "url": url,
            "rows": len(bare_refs),
            "view_p95_ms": p95_ms(view_times),
            "view_p50_ms": p50_ms(view_times),
            "bare_p95_ms": p95_ms(bare_times),
            "bare_p50_ms": p50_ms(bare_times),
            "bare_cases_only_p95_ms": p95_ms(cases_only_times),
            "bare_page_p95_ms": p95_ms(page_times),
            "bare_page_p50_ms": p50_ms(page_times),
        }
        row["ratio_p95"] = round(row["view_p95_ms"] / row["bare_p95_ms"], 2)
        row["ratio_p95_cases_only"] = round(row["view_p95_ms"] / row["bare_cases_only_p95_ms"], 2)
        row["ratio_p95_bare_page"] = round(row["view_p95_ms"] / row["bare_page_p95_ms"], 2)
        results[name] = row
        print(
            f"{name:>28}: view p50 {row['view_p50_ms']:7.1f} p95 {row['view_p95_ms']:7.1f} ms | "
            f"bare p50 {row['bare_p50_ms']:6.2f} p95 {row['bare_p95_ms']:6.2f} ms | "
            f"ratio {row['ratio_p95']:.1f}x ({row['rows']} rows; cases' columns only: "
            f"p95 {row['bare_cases_only_p95_ms']:.2f} ms, {row['ratio_p95_cases_only']:.1f}x; "
            f"bare page p95 {row['bare_page_p95_ms']:.2f} ms, {row['ratio_p95_bare_page']:.1f}x)"
        )
    bare_connection.close()
    page_connection.close()
    assert all(clocks_checked.values()), f"clocks compared: {clocks_checked}"
    # The fixed cost of any signed-in staff page: one that does no queue work.
    for _ in range(WARM_UP):
        view("/auth/unlock")
    unlock_times = [view("/auth/unlock")[0] for _ in range(REQUESTS)]
    results["unlock_page"] = {
        "url": "/auth/unlock",
        "view_p95_ms": p95_ms(unlock_times),
        "view_p50_ms": p50_ms(unlock_times),
    }
    print(
        f"{'unlock_page (no queue work)':>28}: view p50 "
        f"{results['unlock_page']['view_p50_ms']:7.1f} p95 "
        f"{results['unlock_page']['view_p95_ms']:7.1f} ms"
    )
    results["referrals"] = measure_referrals(view)
    return results


# /referrals: the page's 25 running referrals, nearest deadline first, with what it shows of
# each (its case's reference, the entry's names, the owner's address), off the deadline
# index (ix_referrals_awaiting_due). Not part of queue_p95_ratio (issue 14 names the queue).
REFERRAL_SCENARIOS = (
    ("referrals_action", "", "(r.due_at < %(soon)s OR r.state = 'draft')"),
    ("referrals_overdue", "?view=overdue", "r.due_at < %(now)s"),
)
REFERRAL_SHOWN = (
    "SELECT r.id, c.ref, e.name, e.name_zh, u.email FROM referrals r "
    "JOIN cases c ON c.id = r.case_id JOIN directory_entries e ON e.id = r.entry_id "
    "LEFT JOIN users u ON u.id = r.owner_id "
    "WHERE r.state IN ('draft', 'sent', 'acknowledged') AND {condition} "
    "ORDER BY r.due_at ASC NULLS LAST, r.id ASC LIMIT 25"
)


def measure_referrals(view: Any) -> dict[str, Any]:
    """/referrals' default view and its overdue view against their bare statements, as the
    queue's scenarios are measured (checked to list the same referrals, interleaved)."""
    from intake.db import utcnow
    from intake.extensions import db
    from intake.services.deadlines import DUE_SOON

    connection = db.engine.raw_connection()
    measured: dict[str, Any] = {}
    for name, query, condition in REFERRAL_SCENARIOS:
        url = f"/referrals/{query}"
        statement = REFERRAL_SHOWN.format(condition=condition)

        def bare(statement: str = statement) -> tuple[float, list[Any]]:
            now = utcnow()
            cursor = connection.cursor()
            started = time.perf_counter()
            cursor.execute(statement, {"now": now, "soon": now + DUE_SOON})
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            connection.commit()
            return seconds, rows

        _, rows = bare()
        _, html = view(url)
        listed = [int(n) for n in dict.fromkeys(re.findall(r'href="/referrals/(\d+)"', html))]
        assert rows, f"{name}: no rows (the scenario measures nothing)"
        assert listed == [row[0] for row in rows], (name, listed[:3], [row[0] for row in rows[:3]])
        for _ in range(WARM_UP):
            view(url)
            bare()
        view_times, bare_times = [], []
        for _ in range(REQUESTS):
            view_times.append(view(url)[0])
            bare_times.append(bare()[0])
        row = {
            "url": url,
            "rows": len(rows),
            "view_p95_ms": p95_ms(view_times),
            "view_p50_ms": p50_ms(view_times),
            "bare_p95_ms": p95_ms(bare_times),
        }
        row["ratio_p95"] = round(row["view_p95_ms"] / row["bare_p95_ms"], 2)
        measured[name] = row
        print(
            f"{name:>28}: view p50 {row['view_p50_ms']:7.1f} p95 {row['view_p95_ms']:7.1f} ms | "
            f"bare p95 {row['bare_p95_ms']:6.2f} ms | ratio {row['ratio_p95']:.1f}x "
            f"({row['rows']} rows)"
        )
    connection.close()
    return measured


def main(mode: str, cases: int) -> None:
    from intake.extensions import db

    ensure_database(DATABASE_URL)
    app = make_app()
    with app.app_context():
        kept = reusable(app, cases) if REUSE and mode == "quick" else None
        if kept is None:
            caseworker_id, secret = prepare(app)
            demo = run_demo(app, cases, secret)
        else:
            caseworker_id, demo = kept
        if mode == "demo":
            write_results(
                "demo",
                {
                    "database": "postgresql",
                    **demo,
                    "cases_per_second": demo["cases"] / demo["seconds"],
                },
            )
        else:
            queue = measure_queue(app, caseworker_id)
            write_results("queue", {"database": "postgresql", "demo": demo, "scenarios": queue})
            record_ratios(queue, demo)
        db.session.remove()
        if REUSE:
            return
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def record_ratios(queue: dict[str, Any], demo: dict[str, Any]) -> None:
    from ratios import record

    label = f"{demo['cases'] // 1000}k"
    fixed_cost = queue.pop("unlock_page")
    queue.pop("referrals")  # kept in queue.json, not one of issue 14's queue figures
    worst = max(queue, key=lambda name: queue[name]["ratio_p95"])
    sizes = {"cases": demo["cases"], "referrals": demo["referrals"], "database": "postgresql"}
    note = (
        "2-core machine shared with other work: absolute times are noisy; view and bare "
        f"interleaved, {REQUESTS} requests each after {WARM_UP} warm-up"
    )
    record(
        f"queue_p95_{label}_ms",
        queue["first_page"]["view_p95_ms"],
        scenario="first_page",
        bare_p95_ms=queue["first_page"]["bare_p95_ms"],
        scenarios=queue,
        note=note,
        **sizes,
    )
    record(
        "queue_p95_ratio",
        queue[worst]["ratio_p95"],
        scenario=f"the worst of {len(queue)}: {worst}",
        ratios={name: row["ratio_p95"] for name, row in queue.items()},
        ratios_cases_columns_only={
            name: row["ratio_p95_cases_only"] for name, row in queue.items()
        },
        ratios_over_bare_page={name: row["ratio_p95_bare_page"] for name, row in queue.items()},
        unlock_page=fixed_cost,
        note=note,
        **sizes,
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen = arguments[0] if arguments else "quick"
    if chosen not in ("quick", "demo"):
        sys.exit(__doc__)
    main(chosen, int(arguments[1]) if len(arguments) > 1 else 100_000)
