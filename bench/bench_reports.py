"""Reports page time at 1,000 / 10,000 / 100,000 cases on PostgreSQL.

Usage: python bench/bench_reports.py [SIZES]   (default 1000,10000,100000)

Cases are received over the last three years with varied routing fields (urgency, 1-3 threat
types, 1-2 profiles, ~60 countries with a long tail, sealed in the browser or on the server,
consent, status and outcome); about two thirds have one or two referrals in every state, and
each sent referral has a reminder e-mail in the outbox. Each size is timed for:

* ``year_sql``: this year's figures (intake.services.reports.build_report), JSON lists
  unnested in SQL (the default);
* ``year_python``: the same with the JSON lists streamed and counted in Python;
* ``span_sql``: a three-year custom range (every case);
* ``page``: GET /reports/ through the whole app (figures, tables, template) as a viewer;
* ``csv``: GET /reports/export.csv for the three-year range.

Each is run ``REPEAT`` times after one warm-up; the median is reported (and the fastest run
under ``fastest_seconds``). The database is
``BENCH_REPORTS_DATABASE_URL`` (its own, so that other benchmarks can run at the same time).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from _common import ensure_database, write_results

DATABASE_URL = os.environ.get(
    "BENCH_REPORTS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/refuge_bench_reports",
)
SEALED_PLACEHOLDER = "A" * 1400  # the size of one sealed answer set; never read by reports
CHUNK = 20_000
REPEAT = 7
THREATS = [
    "violence_threat", "physical_attack", "detention", "lawsuit", "rights_violation",
    "discrimination", "expression", "health", "aid_worker_security", "disappearance",
    "reprisal", "legislation", "digital",
]  # fmt: skip
PROFILES = [
    "journalist", "freelance_journalist", "woman_hrd", "lawyer", "aid_worker", "lgbti",
    "environmental_land", "indigenous", "academic", "organisation", "family_member",
]  # fmt: skip
COUNTRIES = """TW HK CN MX CO BR GT HN NI VE PE PH MM TH VN KH ID MY IN PK BD LK NP AF IR IQ SY
TR EG SA AE YE BY RU UA AZ GE KZ KG TJ UZ NG KE UG TZ ET SD ZW ZA CM CD RW BI US GB FR DE PL
HU RS""".split()  # noqa: SIM905 - a readable block of codes
KINDS = [
    "ngo_referral", "ngo_referral", "ngo_referral", "sp_urgent_appeal", "sp_allegation_letter",
    "sp_legislation", "wgad_opinion", "reprisals_report", "embassy_contact", "follow_up",
]  # fmt: skip
STATES = ["draft", "sent", "sent", "acknowledged", "replied", "no_reply", "closed", "withdrawn"]
CASE_STATUSES = ["new", "assessing", "referred", "referred", "monitoring", "closed"]
OUTCOMES = ["resolved", "referred_elsewhere", "support_provided", "out_of_scope", "no_contact"]


def _referrals(
    rng: random.Random,
    at: Any,
    now: Any,
    number: int,
    user_ids: list[int],
    entry_ids: list[str],
) -> list[dict[str, Any]]:
    """A case's referrals (none for about a third of cases), received ``at``."""
    if rng.random() < 0.35:
        return []
    referrals = []
    for _ in range(rng.choice([1, 1, 2])):
        state = rng.choice(STATES)
        sent = at + timedelta(hours=rng.randint(2, 30 * 24))
        due = sent + timedelta(days=rng.choice([1, 14, 14, 60, 182]))
        answered = sent + timedelta(days=rng.randint(1, 90))
        referrals.append(
            {
                "entry_id": rng.choice(entry_ids[: rng.choice([5, 20, 60])]),
                "kind": rng.choice(KINDS),
                "state": state,
                "owner_id": user_ids[number % len(user_ids)],
                "clock_started_at": None if state == "draft" else sent,
                "due_at": None if state == "draft" else due,
                "sent_at": None if state == "draft" else sent,
                "acknowledged_at": answered if state == "acknowledged" else None,
                "replied_at": answered if state in ("replied", "closed") else None,
                "created_at": sent - timedelta(hours=1),
                "updated_at": now,
            }
        )
    return referrals


def populate(size: int) -> None:
    """``size`` cases and their referrals. The rows bypass the unit of work, so each case's
    stored queue columns (``urgency_rank``, ``first_response_at``, ``next_due``,
    ``attention_at``) are computed from its own referrals with ``queue_state``'s functions,
    as ``intake.demo`` and bench_scan.py do."""
    import sqlalchemy as sa

    from intake import crypto
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import (
        AWAITING,
        Case,
        DirectoryEntry,
        OrgKey,
        Referral,
        ReminderOutbox,
        Role,
        User,
        queue_state,
    )

    rng = random.Random(size)  # noqa: S311
    now = utcnow()
    public, _secret = crypto.generate_keypair()
    key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
    users = [User(email=f"cw{i}@bench.example", role=Role.CASEWORKER) for i in range(20)]
    entries = [DirectoryEntry(id=f"bench-{i:02d}", name=f"Bench entry {i}") for i in range(60)]
    db.session.add_all([key, *users, *entries])
    db.session.commit()
    user_ids = [user.id for user in users]
    entry_ids = [entry.id for entry in entries]
    awaiting = {state.value for state in AWAITING}
    country_weights = [1 / (rank + 1) for rank in range(len(COUNTRIES))]  # a long tail
    connection = db.session.connection()
    for start in range(0, size, CHUNK):
        rows = []
        planned: list[list[dict[str, Any]]] = []
        for number in range(start, min(size, start + CHUNK)):
            at = now - timedelta(minutes=rng.randint(0, 3 * 365 * 1440))
            status = rng.choice(CASE_STATUSES)
            urgency = rng.choice(["immediate", "days", "days", "weeks", "not_urgent"])
            referrals = _referrals(rng, at, now, number, user_ids, entry_ids)
            planned.append(referrals)
            next_due = min(
                (
                    referral["due_at"]
                    for referral in referrals
                    if referral["state"] in awaiting and referral["due_at"] is not None
                ),
                default=None,
            )
            first_response = queue_state.first_response_at(urgency, at)
            rows.append(
                {
                    "ref": f"RF-R{number:09d}",
                    "status": status,
                    "shared_status": "received",
                    "urgency": urgency,
                    "threats": rng.sample(THREATS, rng.randint(1, 3)),
                    "profiles": rng.sample(PROFILES, rng.randint(1, 2)),
                    "country": rng.choices(COUNTRIES, country_weights)[0],
                    "languages": ["en"],
                    "consent_given": rng.random() < 0.85,
                    "locale": "en",
                    "sealed_by": "browser" if rng.random() < 0.9 else "server",
                    "org_key_id": key.id,
                    "sealed_answers": SEALED_PLACEHOLDER,
                    "receipt_lookup": f"{number:064x}",
                    "assignee_id": user_ids[number % len(user_ids)],
                    "triage": [],
                    "outcome": rng.choice(OUTCOMES) if status == "closed" else None,
                    "received_at": at,
                    "updated_at": now,
                    "urgency_rank": queue_state.urgency_rank(urgency),
                    "first_response_at": first_response,
                    "next_due": next_due,
                    "attention_at": queue_state.attention_at(status, first_response, next_due),
                }
            )
        case_ids = connection.scalars(
            sa.insert(Case.__table__).returning(Case.__table__.c.id, sort_by_parameter_order=True),
            rows,
        ).all()
        referral_rows = [
            {**referral, "case_id": case_id}
            for case_id, referrals in zip(case_ids, planned, strict=True)
            for referral in referrals
        ]
        if referral_rows:
            connection.execute(sa.insert(Referral.__table__), referral_rows)
    sent_referrals = db.session.execute(
        sa.select(Referral.id, Referral.owner_id, Referral.sent_at).where(
            Referral.sent_at.is_not(None)
        )
    ).all()
    outbox: list[dict[str, Any]] = [
        {
            "dedupe_key": f"reminder:{referral_id}:d7",
            "kind": "reminder",
            "referral_id": referral_id,
            "recipient_id": owner_id,
            "offset_key": "d7",
            "counts": {},
            "status": "sent",
            "attempts": 1,
            "created_at": sent_at,
            "sent_at": sent_at + timedelta(days=7),
        }
        for referral_id, owner_id, sent_at in sent_referrals
        if sent_at is not None
    ]
    for start in range(0, len(outbox), CHUNK):
        connection.execute(sa.insert(ReminderOutbox.__table__), outbox[start : start + CHUNK])
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


FASTEST: dict[str, float] = {}


def timed(name: str, run: Callable[[], Any]) -> float:
    """Median of REPEAT runs after a warm-up (plans and caches, as on a server that has served
    the page before); the fastest run goes to FASTEST, a steadier figure on a busy machine."""
    run()
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    FASTEST[name] = round(min(samples), 4)
    return round(statistics.median(samples), 4)


def signed_in_client(app: Any) -> Any:
    from flask import session

    from intake.auth.sessions import start_session
    from intake.extensions import db
    from intake.models import Role, User

    viewer = User(email="viewer@bench.example", role=Role.VIEWER)
    db.session.add(viewer)
    db.session.commit()
    client = app.test_client()
    with app.test_request_context():
        start_session(viewer)
        saved = dict(session)
    with client.session_transaction() as client_session:
        client_session.update(saved)
    return client


def measure(size: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from intake import create_app
    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import Case, Referral
    from intake.services import reports
    from intake.services.settings import org_zone

    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "CELERY_BROKER_URL": "memory://",
            "ORG_TIMEZONE": "Asia/Taipei",
        }
    )
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        started = time.perf_counter()
        populate(size)
        populate_seconds = time.perf_counter() - started
        zone = org_zone()
        year = reports.this_year(zone)
        today = utcnow().astimezone(zone).date()
        span = reports.Period(date(today.year - 3, 1, 1), today, zone)
        referrals = db.session.scalar(db.select(db.func.count()).select_from(Referral))
        in_year = reports.build_report(year).cases.total
        client = signed_in_client(app)
        span_query = f"period=custom&from={span.start.isoformat()}&to={span.end.isoformat()}"

        def page() -> None:
            response = client.get("/reports/")
            assert response.status_code == 200, response.status_code  # noqa: S101

        def export() -> None:
            response = client.get(f"/reports/export.csv?{span_query}")
            assert response.status_code == 200, response.status_code  # noqa: S101

        row = {
            "cases": db.session.scalar(db.select(db.func.count()).select_from(Case)),
            "cases_this_year": in_year,
            "referrals": referrals,
            "populate_seconds": round(populate_seconds, 2),
            "year_sql_seconds": timed("year_sql", lambda: reports.build_report(year, tags="sql")),
            "year_python_seconds": timed(
                "year_python", lambda: reports.build_report(year, tags="python")
            ),
            "span_sql_seconds": timed("span_sql", lambda: reports.build_report(span, tags="sql")),
            "span_python_seconds": timed(
                "span_python", lambda: reports.build_report(span, tags="python")
            ),
            "page_seconds": timed("page", page),
            "csv_span_seconds": timed("csv_span", export),
        }
        row["fastest_seconds"] = dict(FASTEST)
        db.session.remove()
        db.drop_all()
    return row


def main() -> int:
    sizes = [
        int(size) for size in (sys.argv[1] if len(sys.argv) > 1 else "1000,10000,100000").split(",")
    ]
    ensure_database(DATABASE_URL)
    rows = []
    print(
        f"{'cases':>8} {'this yr':>8} {'referrals':>9} {'year sql':>9} {'year py':>8} "
        f"{'3y sql':>8} {'3y py':>8} {'page':>8} {'csv 3y':>8}"
    )
    for size in sizes:
        row = measure(size)
        rows.append(row)
        print(
            f"{row['cases']:>8,} {row['cases_this_year']:>8,} {row['referrals']:>9,} "
            f"{row['year_sql_seconds']:>8.3f}s {row['year_python_seconds']:>7.3f}s "
            f"{row['span_sql_seconds']:>7.3f}s {row['span_python_seconds']:>7.3f}s "
            f"{row['page_seconds']:>7.3f}s {row['csv_span_seconds']:>7.3f}s"
        )
        fastest = row["fastest_seconds"]
        print(
            f"{'(fastest)':>28} {fastest['year_sql']:>8.3f}s {fastest['year_python']:>7.3f}s "
            f"{fastest['span_sql']:>7.3f}s {fastest['span_python']:>7.3f}s "
            f"{fastest['page']:>7.3f}s {fastest['csv_span']:>7.3f}s"
        )
    write_results(
        "reports",
        {"database": "postgresql", "repeat": REPEAT, "statistic": "median", "sizes": rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
