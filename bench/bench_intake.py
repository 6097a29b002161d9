"""Intake submissions per second through real gunicorn, against a bare Flask insert.

Usage: python bench/bench_intake.py [quick [CASES] [REQUESTS]]   (default 100000 cases; 1200)

Both servers are gunicorn with ``config/gunicorn.py`` (2 workers of threads) on free
loopback ports, against one PostgreSQL database (``BENCH_DATABASE_URL``) holding CASES cases
already, with Redis (``BENCH_REDIS_URL``) for the rate limit, which stays on with production's two
windows (an hour and a day, counted in one Redis call), their limits raised out of the way: the
check is work every submission pays. Four client processes post REQUESTS
submissions in all to each endpoint, in ROUNDS rounds that take turns (browser, bare, no-JS,
bare, then again), so that a burst of other work on the machine falls on every path alike
rather than on whichever ran during it; each path's rate is its requests over its time:

- **browser path**: answers sealed beforehand (as the browser does) and posted with the CSRF
  token and session cookie that one ``GET /request/key`` per client gave (the real flow; a
  browser fetches the key once per form, not per byte it sends), and a fresh submission token
  per request (as intake.js sends one per filled form); each answer is 201.
- **no-JS path**: the same answers in plaintext with the CSRF token and a fresh submission
  token (the form's hidden field), sealed by the server; each answer is a 303 to the receipt.
- **bare**: a Flask endpoint of a dozen lines that inserts one row of the same size (the sealed
  answers and the routing fields) with one statement and answers 201.

Rows are counted afterwards: every request wrote exactly one case (or bare row). The ratios are
Refuge's submissions/s divided by the bare endpoint's. The detail also gives each path's CPU
per request (Linux's /proc): in its gunicorn processes, and in PostgreSQL and Redis, which serve
one path at a time here; ``*_cpu_ratio`` is what the CPU alone makes of the ratios. On a machine
shared with other work the CPU varies less than the rates, so it is what compares two versions.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import Any

from _common import (
    BENCH_DATABASE_URL,
    BENCH_REDIS_URL,
    BENCH_SECRET_KEY,
    ROOT,
    cpu_seconds,
    ensure_database,
    write_results,
)

BARE_TABLE = "bench_bare_intake"
CLIENTS = 4
ROUNDS = 3  # turns each path takes, alternating with the others
ROUTING = {
    "urgency": "days",
    "threats": ["detention", "reprisal"],
    "profiles": ["lawyer"],
    "country": "MX",
    "languages": ["es", "en"],
}
CHOICES = {"sender_role": "self", "safe_to_contact": "unsure", "consent": "yes",
           "referral_consent": "yes"}  # fmt: skip


def answers() -> dict[str, str]:
    """Every field of the form answered, free text a few sentences long."""
    from intake.public.forms import SEALED_FIELDS

    text = "Detained at a checkpoint on the way home; phone taken. "
    return {name: CHOICES.get(name, text * 2) for name in SEALED_FIELDS}


def bare_app() -> Any:
    """The honest minimum for the same write: parse the form, insert one row, commit."""
    import sqlalchemy as sa
    from flask import Flask, request

    app = Flask("bare_intake")
    engine = sa.create_engine(BENCH_DATABASE_URL, pool_size=2)
    insert = sa.text(
        f"INSERT INTO {BARE_TABLE} (sealed_answers, urgency, threats, country, received_at) "  # noqa: S608
        "VALUES (:sealed, :urgency, :threats, :country, now())"
    )

    @app.post("/bare")
    def bare() -> tuple[str, int]:
        form = request.form
        with engine.begin() as connection:
            connection.execute(
                insert,
                {
                    "sealed": form["sealed_answers"],
                    "urgency": form["urgency"],
                    "threats": json.dumps(form.getlist("threats")),
                    "country": form.get("country"),
                },
            )
        return "{}", 201

    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def gunicorn(app_spec: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:config.gunicorn",
            "--pythonpath",
            str(ROOT / "bench"),
            app_spec,
        ],
        cwd=ROOT,
        env={**env, "PORT": str(port), "BIND_HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def encode(fields: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode(fields, doseq=True).encode()


def new_submission_token() -> bytes:
    """What intake.js makes per filled form: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")


def _client(job: tuple[int, str, int, bytes, int, Any]) -> tuple[int, dict[int, int]]:
    """One client: a session (cookie and CSRF token) when posting to Refuge, then ``count``
    POSTs; returns how many answered each status."""
    port, path, count, body, expected, barrier = job
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if path == "/request":
        connection.request("GET", "/request/key")
        response = connection.getresponse()
        token = json.loads(response.read())["csrf_token"]
        cookies = response.msg.get_all("Set-Cookie") or []
        headers["Cookie"] = "; ".join(cookie.split(";", 1)[0] for cookie in cookies)
        body = body + b"&" + encode({"csrf_token": token})
    statuses: dict[int, int] = {}
    barrier.wait()
    for _ in range(count):
        sent = body
        if path == "/request":
            # A fresh submission token per request, as every filled form has (both paths):
            # the server claims each one in the case's transaction, and that is measured.
            sent = body + b"&submission_token=" + new_submission_token()
        connection.request("POST", path, body=sent, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
    return expected, statuses


def hammer(port: int, path: str, body: bytes, total: int, expected: int) -> float:
    """Submissions per second from CLIENTS processes posting ``total`` in all."""
    return total / timed(port, path, body, total, expected)[0]


# The processes whose CPU a path's requests cost: the server's (its gunicorn session), and the
# database's and Redis's, which serve one path at a time here (the machine's own servers).
SHARED_SERVERS = ("postgres", "redis-server")


def timed(
    port: int, path: str, body: bytes, total: int, expected: int, session: int = 0
) -> tuple[float, tuple[float, float] | None]:
    """Seconds CLIENTS processes take to post ``total`` (a multiple of CLIENTS) in all, and
    the CPU seconds meanwhile of the server whose session is ``session`` and of PostgreSQL
    and Redis (None without /proc, or without ``session``)."""
    per_client = total // CLIENTS
    with multiprocessing.Manager() as manager:
        barrier = manager.Barrier(CLIENTS + 1)
        with multiprocessing.Pool(CLIENTS) as pool:
            pending = pool.map_async(
                _client, [(port, path, per_client, body, expected, barrier)] * CLIENTS
            )
            barrier.wait(timeout=120)
            server_before = cpu_seconds([session]) if session else None
            shared_before = cpu_seconds(names=SHARED_SERVERS)
            started = time.perf_counter()
            results = pending.get(timeout=600)
            seconds = time.perf_counter() - started
            server_after = cpu_seconds([session]) if session else None
            shared_after = cpu_seconds(names=SHARED_SERVERS)
    for wanted, statuses in results:
        if statuses != {wanted: per_client}:
            raise RuntimeError(f"{path}: expected {per_client} x {wanted}, got {statuses}")
    if None in (server_before, server_after, shared_before, shared_after):
        return seconds, None
    return seconds, (
        server_after - server_before,  # type: ignore[operator]
        shared_after - shared_before,  # type: ignore[operator]
    )


def prepare(cases: int) -> tuple[int, str]:
    """A migrated database with the shipped directory, a pinned key and ``cases`` cases."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from intake import create_app, crypto
    from intake.extensions import db
    from intake.models import OrgKey
    from intake.services import directory, key_pins

    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": BENCH_DATABASE_URL,
            "CELERY_BROKER_URL": "memory://",
        }
    )
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS alembic_version, {BARE_TABLE}")
        upgrade()
        directory.import_shipped()
        public, _secret = crypto.generate_keypair()
        key = OrgKey(public_key=public, fingerprint=crypto.fingerprint(public))
        db.session.add(key)
        key_pins.pin(key)
        db.session.commit()
        # Cases already received, in one statement (what they hold does not matter here).
        db.session.execute(
            sa.text(
                "INSERT INTO cases (ref, status, shared_status, shared_status_held, urgency, "
                "threats, profiles, country, languages, consent_given, locale, sealed_by, "
                "org_key_id, sealed_answers, receipt_lookup, triage, received_at, updated_at, "
                "urgency_rank, first_response_at, attention_at) "
                "SELECT 'RF-P' || lpad(n::text, 8, '0'), 'new', 'received', false, 'days', "
                "'[\"detention\"]', '[]', 'MX', '[\"es\"]', true, 'en', 'browser', :key, "
                "repeat('A', 1400), md5(n::text) || md5('r' || n::text), '[]', "
                "now() - interval '30 days', now(), 1, now(), now() "
                "FROM generate_series(1, :cases) AS n"
            ),
            {"key": key.id, "cases": cases},
        )
        db.session.execute(
            sa.text(
                f"CREATE TABLE {BARE_TABLE} (id serial PRIMARY KEY, sealed_answers text NOT NULL, "
                "urgency varchar(16) NOT NULL, threats json NOT NULL, country varchar(2), "
                "received_at timestamptz NOT NULL)"
            )
        )
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        key_id, public_key = key.id, key.public_key
        db.session.remove()
        db.engine.dispose()
    return key_id, public_key


def count_rows() -> tuple[int, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(BENCH_DATABASE_URL)
    with engine.connect() as connection:
        cases = connection.scalar(sa.text("SELECT count(*) FROM cases")) or 0
        bare = connection.scalar(sa.text(f"SELECT count(*) FROM {BARE_TABLE}")) or 0  # noqa: S608
    engine.dispose()
    return int(cases), int(bare)


def quick(cases: int = 100_000, requests: int = 1200) -> dict[str, Any]:
    from ratios import record

    from intake import crypto

    key_id, public_key = prepare(cases)
    sealed = crypto.seal_answers(answers(), public_key)
    browser_body = encode(
        {"sealed_answers": sealed, "org_key_id": key_id, "consent_given": "1", **ROUTING}
    )
    nojs_body = encode({**answers(), **ROUTING})
    bare_body = encode({"sealed_answers": sealed, **ROUTING})
    env = {
        **os.environ,
        "INTAKE_ENV": "production",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "MAIL_BACKEND": "file",  # production needs MAIL_SERVER or this; nothing is mailed here
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        # Production's shape (config: "10 per hour;30 per day"), raised: two windows, both checked.
        "REQUEST_RATE_LIMIT": "1000000 per hour;1000000 per day",
        "INTAKE_INSTANCE_PATH": str(ROOT / "bench" / "results" / "instance-intake"),
        "LOG_LEVEL": "WARNING",
    }
    refuge_port, bare_port = free_port(), free_port()
    refuge = gunicorn("intake:create_app()", refuge_port, env)
    bare = gunicorn("bench_intake:bare_app()", bare_port, env)
    try:
        wait_for(refuge_port, "/healthz")
        wait_for(bare_port, "/")
        # One warm-up round each (imports, connection pools, first plans), not timed.
        hammer(refuge_port, "/request", browser_body, CLIENTS * 10, 201)
        hammer(bare_port, "/bare", bare_body, CLIENTS * 10, 201)
        before = count_rows()
        per_round = (requests // ROUNDS // CLIENTS) * CLIENTS
        seconds = {"browser": 0.0, "nojs": 0.0, "bare": 0.0}
        # CPU seconds per path: (its server, PostgreSQL and Redis); None without /proc.
        cpu: dict[str, list[float] | None] = {path: [0.0, 0.0] for path in seconds}
        turns = [
            ("browser", refuge_port, refuge.pid, "/request", browser_body, 201),
            ("bare", bare_port, bare.pid, "/bare", bare_body, 201),
            ("nojs", refuge_port, refuge.pid, "/request", nojs_body, 303),
            ("bare", bare_port, bare.pid, "/bare", bare_body, 201),
        ]
        for _round in range(ROUNDS):
            for name, port, session, path, body, status in turns:
                took, used = timed(port, path, body, per_round, status, session)
                seconds[name] += took
                totals = cpu[name]
                if used is None or totals is None:
                    cpu[name] = None
                else:
                    totals[0] += used[0]
                    totals[1] += used[1]
        after = count_rows()
    finally:
        stop(refuge)
        stop(bare)
    sent = per_round * ROUNDS
    if after != (before[0] + 2 * sent, before[1] + 2 * sent):
        raise RuntimeError(f"rows written {before} -> {after}, expected {2 * sent} each")
    browser = sent / seconds["browser"]
    nojs = sent / seconds["nojs"]
    bare_rate = 2 * sent / seconds["bare"]
    detail = {
        "cases_before": cases,
        "submissions_per_path": sent,
        "clients": CLIENTS,
        "gunicorn_workers": 2,
        "sealed_answers_chars": len(sealed),
        "bare_per_s": round(bare_rate, 1),
        "rounds": ROUNDS,
        "csrf": "real flow: GET /request/key once per client, token and cookie on every POST",
        "submission_token": "a fresh one on every POST to /request (both paths)",
        "rate_limit": "on (Redis), limit raised out of the way",
        "note": "2-core machine shared with other work; clients run on the same cores",
    }
    detail.update(cpu_per_request(cpu, {"browser": sent, "nojs": sent, "bare": 2 * sent}))
    record("intake_browser_ratio", browser / bare_rate, refuge_per_s=round(browser, 1), **detail)
    record("intake_nojs_ratio", nojs / bare_rate, refuge_per_s=round(nojs, 1), **detail)
    return {"browser_per_s": browser, "nojs_per_s": nojs, "bare_per_s": bare_rate, **detail}


def cpu_per_request(cpu: dict[str, list[float] | None], requests: dict[str, int]) -> dict[str, Any]:
    """Milliseconds of CPU per request on each path, in its server and in PostgreSQL and Redis,
    and what the CPU alone would make of the ratios (the bare path's total ÷ the path's): on a
    machine shared with other work these vary less than the rates do."""
    if any(totals is None for totals in cpu.values()):
        return {}
    per_request = {
        name: [seconds * 1000 / requests[name] for seconds in totals]  # type: ignore[union-attr]
        for name, totals in cpu.items()
    }
    bare_total = sum(per_request["bare"])
    figures: dict[str, Any] = {}
    for name, (server, shared) in per_request.items():
        figures[f"{name}_server_cpu_ms"] = round(server, 3)
        figures[f"{name}_postgres_redis_cpu_ms"] = round(shared, 3)
    for name in ("browser", "nojs"):
        figures[f"{name}_cpu_ratio"] = round(bare_total / sum(per_request[name]), 3)
    return figures


def main() -> int:
    # One measurement, so ``make bench`` (no arguments) runs what ``make bench-quick`` does.
    if sys.argv[1:2] not in ([], ["quick"]):
        print(__doc__)
        return 2
    ensure_database(BENCH_DATABASE_URL)
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 1200
    figures = quick(cases, requests)
    print(json.dumps(figures, indent=2))
    write_results("intake_quick", {"database": "postgresql", "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
