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
indexes returning the same page of rows, on a plain psycopg connection, checked to give the
same cases as the view. Figures are p95 (nearest rank). The database is
``BENCH_QUEUE_DATABASE_URL`` (its own; dropped tables afterwards).
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qsl

from _common import ensure_database, write_results

DATABASE_URL = os.environ.get(
    "BENCH_QUEUE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refuge_bench_queue"
)
REQUESTS = 30
WARM_UP = 3
# The columns a queue row shows (the ORM loads these; the stored triage is deferred).
COLUMNS = (
    "id, ref, status, shared_status, shared_status_held, urgency, threats, profiles, country, "
    "languages, consent_given, locale, sealed_by, org_key_id, sealed_answers, receipt_lookup, "
    "reply_public_key, assignee_id, outcome, received_at, updated_at, closed_at, urgency_rank, "
    "first_response_at, next_due, attention_at"
)
OPEN = "status <> 'closed'"
PRIORITY = "ORDER BY urgency_rank, next_due NULLS LAST, received_at, id LIMIT 25"
DEADLINE = "ORDER BY next_due NULLS LAST, received_at, id LIMIT 25"
ACTION = f"{OPEN} AND (attention_at < %(soon)s OR (status = 'new' AND assignee_id IS NULL))"


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


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
            f"WHERE {OPEN} AND country = 'MX' {PRIORITY}",
            {},
        ),
        (
            "open_immediate_by_deadline",
            "view=open&urgency=immediate&sort=deadline",
            f"WHERE {OPEN} AND urgency = 'immediate' {DEADLINE}",
            {},
        ),
        (
            "mine",
            "view=mine",
            f"WHERE {OPEN} AND assignee_id = %(me)s {PRIORITY}",
            {"me": caseworker_id},
        ),
        (
            "open_detention",
            "view=open&threat=detention",
            f"WHERE {OPEN} AND CAST(threats AS TEXT) LIKE '%%\"detention\"%%' {PRIORITY}",
            {},
        ),
        (
            "reference_search",
            f"view=all&q={ref_part}",
            "WHERE ref LIKE %(ref)s "
            "ORDER BY urgency_rank, next_due NULLS LAST, received_at, id LIMIT 25",
            {"ref": f"%{ref_part}%"},
        ),
    ]


def measure_queue(app: Any, caseworker_id: int) -> dict[str, Any]:
    import sqlalchemy as sa
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
    bare_connection = db.engine.raw_connection()  # psycopg itself, no ORM, no Flask
    results: dict[str, Any] = {}
    for name, query, sql, extra in scenarios(caseworker_id, ref_part):
        url = f"/cases/?{query}" if query else "/cases/"

        def bare(sql: str = sql, extra: dict[str, Any] = extra) -> tuple[float, list[Any]]:
            now = utcnow()
            cursor = bare_connection.cursor()
            started = time.perf_counter()
            statement = f"SELECT {COLUMNS} FROM cases {sql}"  # noqa: S608 (constants only)
            cursor.execute(statement, {"now": now, "soon": now + DUE_SOON, **extra})
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            bare_connection.commit()
            return seconds, rows

        def view(url: str = url) -> tuple[float, str]:
            started = time.perf_counter()
            response = client.get(url)
            seconds = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            return seconds, response.get_data(as_text=True)

        # Same rows: the bare statement's cases are the view's page, in the view's order.
        _, bare_rows = bare()
        with app.test_request_context(url):
            viewer = db.session.get_one(User, caseworker_id)
            filters = parse_filters(MultiDict(parse_qsl(query)))
            page = queue_service.queue(filters, viewer)
            service_refs = [row.case.ref for row in page.rows]
        db.session.remove()
        bare_refs = [row[1] for row in bare_rows]
        assert bare_refs == service_refs, (name, bare_refs[:3], service_refs[:3])
        _, html = view()
        shown = re.findall(r"RF-[0-9A-Z]{8}", html)
        assert set(bare_refs) <= set(shown), name
        assert bare_refs, f"{name}: no rows (the scenario measures nothing)"
        for _ in range(WARM_UP):
            view()
            bare()
        # Interleaved, so that both see the same moments of a shared machine.
        view_times, bare_times = [], []
        for _ in range(REQUESTS):
            view_times.append(view()[0])
            bare_times.append(bare()[0])
        row = {
            "url": url,
            "rows": len(bare_refs),
            "view_p95_ms": round(p95(view_times) * 1000, 2),
            "view_p50_ms": round(sorted(view_times)[len(view_times) // 2] * 1000, 2),
            "bare_p95_ms": round(p95(bare_times) * 1000, 2),
            "bare_p50_ms": round(sorted(bare_times)[len(bare_times) // 2] * 1000, 2),
        }
        row["ratio_p95"] = round(row["view_p95_ms"] / row["bare_p95_ms"], 2)
        results[name] = row
        print(
            f"{name:>28}: view p50 {row['view_p50_ms']:7.1f} p95 {row['view_p95_ms']:7.1f} ms | "
            f"bare p50 {row['bare_p50_ms']:6.2f} p95 {row['bare_p95_ms']:6.2f} ms | "
            f"ratio {row['ratio_p95']:.1f}x ({row['rows']} rows)"
        )
    bare_connection.close()
    return results


def main(mode: str, cases: int) -> None:
    from intake.extensions import db

    ensure_database(DATABASE_URL)
    app = make_app()
    with app.app_context():
        caseworker_id, secret = prepare(app)
        demo = run_demo(app, cases, secret)
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
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def record_ratios(queue: dict[str, Any], demo: dict[str, Any]) -> None:
    from ratios import record

    label = f"{demo['cases'] // 1000}k"
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
        note=note,
        **sizes,
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen = arguments[0] if arguments else "quick"
    if chosen not in ("quick", "demo"):
        sys.exit(__doc__)
    main(chosen, int(arguments[1]) if len(arguments) > 1 else 100_000)
