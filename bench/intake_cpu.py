"""CPU per intake submission of two versions of the code, in turns, on a busy machine.

Usage: python bench/intake_cpu.py CHECKOUT [CHECKOUT ...] [--batches N] [--per-batch M]

Each CHECKOUT (a worktree with its .venv) runs one process that posts submissions straight
through the WSGI app (no HTTP, no gunicorn: the app's own work only) to the database that
``bench_intake.py quick`` prepared (``BENCH_DATABASE_URL``; run that first), with the Redis
rate limit on (``BENCH_REDIS_URL``). The processes take turns batch by batch and path by path
(browser, no-JS), so that other work on the machine falls on every version alike; each batch
reports its process's CPU per request and its PostgreSQL backend's (/proc). The medians and
minima per version and path are printed. On a machine where the rates of ``bench_intake.py``
swing by a third between runs, this tells apart changes of a tenth. Do not run it while
``bench_intake.py`` runs: that one counts the rows it wrote.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PATHS = ("browser", "nojs")


def child() -> None:
    """One version: read "path count" lines, post that many, answer "app_ms pg_ms"."""
    sys.path.insert(0, str(Path.cwd()))
    sys.path.insert(0, str(Path.cwd() / "bench"))
    import sqlalchemy as sa
    from _common import BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SECRET_KEY
    from werkzeug.test import Client, EnvironBuilder

    os.environ.update(
        {
            "INTAKE_ENV": "production",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "MAIL_BACKEND": "file",
            "DATABASE_URL": BENCH_DATABASE_URL,
            "REDIS_URL": BENCH_REDIS_URL,
            "REQUEST_RATE_LIMIT": "1000000 per hour;1000000 per day",
            "INTAKE_INSTANCE_PATH": str(Path.cwd() / "bench" / "results" / "instance-intake"),
            "LOG_LEVEL": "WARNING",
        }
    )
    import bench_intake

    from intake import create_app, crypto
    from intake.extensions import db

    app = create_app()
    with app.app_context():
        key_id, public = db.session.execute(
            sa.text("SELECT id, public_key FROM org_keys ORDER BY id DESC LIMIT 1")
        ).one()
        db.session.remove()
    client = Client(app)
    key = client.get("/request/key", base_url="https://localhost")
    csrf = key.get_json()["csrf_token"]
    cookie = "; ".join(value.split(";", 1)[0] for value in key.headers.getlist("Set-Cookie"))
    routing = {**bench_intake.ROUTING, "csrf_token": csrf}
    sealed = crypto.seal_answers(bench_intake.answers(), public)
    bodies = {
        "browser": (
            bench_intake.encode(
                {"sealed_answers": sealed, "org_key_id": key_id, "consent_given": "1", **routing}
            ),
            201,
        ),
        "nojs": (bench_intake.encode({**bench_intake.answers(), **routing}), 303),
    }
    environ = EnvironBuilder(
        path="/request",
        method="POST",
        base_url="https://localhost",
        content_type="application/x-www-form-urlencoded",
        headers={"Cookie": cookie},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    statuses: list[int] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(int(status.split()[0]))

    def post(body: bytes) -> None:
        sent = body + b"&submission_token=" + bench_intake.new_submission_token()
        request = {**environ, "wsgi.input": io.BytesIO(sent), "CONTENT_LENGTH": str(len(sent))}
        answer = app(request, start_response)
        for _chunk in answer:
            pass
        getattr(answer, "close", lambda: None)()

    def checked(wanted: int) -> None:
        if set(statuses) != {wanted}:
            raise RuntimeError(f"expected only {wanted}, got {sorted(set(statuses))}")
        statuses.clear()

    for body, wanted in bodies.values():  # warm: plans, the trusted key, the triage cache
        for _ in range(30):
            post(body)
        checked(wanted)
    with app.app_context():  # one request at a time: the pool's one connection serves them
        backend = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.remove()

    def backend_cpu() -> float:
        with open(f"/proc/{backend}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")

    print("ready", flush=True)
    for line in sys.stdin:
        path, count = line.split()
        body, wanted = bodies[path]
        cpu, database = time.process_time(), backend_cpu()
        for _ in range(int(count)):
            post(body)
        cpu, database = time.process_time() - cpu, backend_cpu() - database
        checked(wanted)
        print(f"{1000 * cpu / int(count)} {1000 * database / int(count)}", flush=True)


def compare(checkouts: list[str], batches: int, per_batch: int) -> None:
    script = str(Path(__file__).resolve())
    children = {
        checkout: subprocess.Popen(  # noqa: S603 — our own script, in the checkout's venv
            [str(Path(checkout) / ".venv" / "bin" / "python"), script, "--child"],
            cwd=checkout,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for checkout in checkouts
    }
    for checkout, process in children.items():
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{checkout} did not start")
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {
        (checkout, path): [] for checkout in checkouts for path in PATHS
    }
    for batch in range(batches):
        order = checkouts if batch % 2 == 0 else checkouts[::-1]
        for path in PATHS:
            for checkout in order:
                process = children[checkout]
                if process.stdin is None or process.stdout is None:  # pragma: no cover
                    raise RuntimeError("pipes")
                process.stdin.write(f"{path} {per_batch}\n")
                process.stdin.flush()
                app_ms, pg_ms = map(float, process.stdout.readline().split())
                figures[(checkout, path)].append((app_ms, pg_ms))
    for process in children.values():
        if process.stdin is not None:
            process.stdin.close()
        process.wait()
    for (checkout, path), values in figures.items():
        app_ms = [value[0] for value in values]
        pg_ms = [value[1] for value in values]
        print(
            f"{checkout} {path}: app CPU/request median {statistics.median(app_ms):.3f} ms "
            f"(min {min(app_ms):.3f}), PostgreSQL backend median {statistics.median(pg_ms):.3f} "
            f"ms (min {min(pg_ms):.3f}); {batches} batches of {per_batch}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="*")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--per-batch", type=int, default=60)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child()
        return 0
    if not arguments.checkouts:
        parser.print_help()
        return 2
    compare(arguments.checkouts, arguments.batches, arguments.per_batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
