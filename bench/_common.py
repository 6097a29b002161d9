"""Shared helpers for the benchmarks: where results go, and a fresh app on a real database."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Where every script writes its figures; BENCH_RESULTS elsewhere (the smoke test of the
# scripts, tests/test_bench_scripts.py, keeps its tiny runs out of the real results).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results")
sys.path.insert(0, str(ROOT))

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refuge_bench"
)
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# Production refuses a SECRET_KEY under 32 characters; the benchmarks that start it use this
# one, and so must whatever prepares their database (the organisation key's pin).
BENCH_SECRET_KEY = "bench-secret-key-for-benchmarks-only"  # noqa: S105 — benchmarks only


def ensure_database(url: str) -> None:
    import sqlalchemy as sa

    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def cpu_seconds(sessions: Collection[int] = (), names: Collection[str] = ()) -> float | None:
    """CPU seconds used so far by the processes of these sessions (a server started with
    ``start_new_session`` and its workers) or with these names (``postgres``: the server and
    its backends), children they have reaped included; None where there is no /proc (Linux).
    On a machine shared with other work, CPU per request varies less than the wall clock."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, _, rest = stat.read().rpartition(")")
        except OSError:
            continue  # gone meanwhile
        fields = rest.split()
        # After "(name)": state, ppid, pgrp, session, ..., utime, stime, cutime, cstime
        # (fields 14-17 of proc(5)): what the process used, and its children that it reaped
        # (a worker or a backend that exited; a live child counts on its own).
        if int(fields[3]) in sessions or head.partition("(")[2] in names:
            total += sum(int(value) for value in fields[11:15])
    return total / ticks


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"results written to {shown}")
    return path
