"""Every script under bench/ still runs, at a tiny size, against the current schema.

`make bench` and `make bench-quick` are run by hand, not by CI, so a script could rot
unseen: bench_reports.py inserted cases without the queue's stored columns for a week
(NOT NULL urgency_rank), and bench_intake.py refused to run without "quick", which stopped
`make bench` at its second script. Here each script runs as `make bench` runs it, in its own
process, on databases of its own (named after the test database, dropped afterwards), with
its figures written to a temporary folder (BENCH_RESULTS), never to bench/results/. The
figures of so small a run mean nothing; that the script finishes and writes them does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import services

PROJECT = Path(__file__).resolve().parent.parent

# (arguments, the results file it writes, keys it must record in ratios.json)
RUNS: dict[str, tuple[list[str], str, set[str]]] = {
    "bench_import.py": ([], "import.json", set()),
    "bench_intake.py": (["quick", "300", "48"], "intake_quick.json", {"intake_browser_ratio"}),
    "bench_pow.py": (["6", "1"], "pow.json", set()),
    "bench_queue.py": (["quick", "300"], "queue.json", {"queue_p95_ratio"}),
    "bench_reminders.py": (["quick", "30"], "reminders_quick.json", {"delivery_2w_ratio"}),
    "bench_reports.py": (["300"], "reports.json", set()),
    "bench_scan.py": (["quick", "2000"], "scan_quick.json", {"scan_first_2k"}),
    "bench_triage.py": (["quick"], "ratios.json", {"triage_10k_ms"}),
}
# Full-size modes whose population differs from their quick mode's.
FULL_RUNS: dict[str, tuple[list[str], str]] = {
    "bench_scan.py": (["2000"], "scan.json"),
    "bench_reminders.py": (["20", "1"], "reminders.json"),
    "bench_triage.py": ([], "triage.json"),
}


def test_every_bench_script_has_a_smoke_run() -> None:
    scripts = {path.name for path in (PROJECT / "bench").glob("bench_*.py")}
    assert scripts == set(RUNS), "a new bench script needs its tiny run here"


@pytest.fixture
def bench_environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Databases and a results folder of this test's own; the databases dropped afterwards."""
    url = sa.make_url(services.require_postgres())
    redis_url = services.require_redis()
    names = {
        variable: f"{url.database}_{suffix}"
        for variable, suffix in (
            ("BENCH_DATABASE_URL", "bench"),
            ("BENCH_REPORTS_DATABASE_URL", "bench_reports"),
            ("BENCH_QUEUE_DATABASE_URL", "bench_queue"),
        )
    }
    environment = {
        **os.environ,
        **{
            variable: url.set(database=name).render_as_string(hide_password=False)
            for variable, name in names.items()
        },
        "BENCH_REDIS_URL": redis_url,
        "BENCH_RESULTS": str(tmp_path / "results"),
        "BENCH_QUEUE_REUSE": "",
    }
    try:
        yield environment
    finally:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run(script: str, arguments: list[str], environment: dict[str, str]) -> None:
    done = subprocess.run(  # noqa: S603 — our own script, in this venv
        [sys.executable, f"bench/{script}", *arguments],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (
        f"{script} {arguments}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )


@pytest.mark.postgres
@pytest.mark.parametrize("script", sorted(RUNS))
def test_a_bench_script_runs_at_a_tiny_size(script: str, bench_environment: dict[str, str]) -> None:
    if script == "bench_pow.py":
        services.require_chromium()  # it times the proof of work in real Chromium
    arguments, written, keys = RUNS[script]
    results = Path(bench_environment["BENCH_RESULTS"])
    _run(script, arguments, bench_environment)
    figures = json.loads((results / written).read_text())
    assert figures, f"{script} wrote an empty {written}"
    if keys:
        ratios = json.loads((results / "ratios.json").read_text())
        assert keys <= set(ratios), (script, sorted(ratios))
        assert all(ratios[key] > 0 for key in keys), ratios
    if script in FULL_RUNS:
        full_arguments, full_written = FULL_RUNS[script]
        _run(script, full_arguments, bench_environment)
        assert json.loads((results / full_written).read_text())


def test_make_bench_runs_the_intake_measurement_at_its_default_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make bench` calls each script without arguments; the intake one has one measurement,
    so that is it at its default size (100,000 cases, 1,200 submissions a path), not its
    usage text and exit status 2 (which ended `make bench` at its second script)."""
    monkeypatch.syspath_prepend(str(PROJECT / "bench"))
    import bench_intake

    called: list[tuple[int, int]] = []

    def quick(cases: int, requests: int) -> dict[str, int]:
        called.append((cases, requests))
        return {"cases": cases}

    monkeypatch.setattr(bench_intake, "quick", quick)
    monkeypatch.setattr(bench_intake, "ensure_database", lambda url: None)
    monkeypatch.setattr(bench_intake, "write_results", lambda name, payload: None)
    monkeypatch.setattr(sys, "argv", ["bench_intake.py"])
    assert bench_intake.main() == 0
    assert called == [(100_000, 1200)]
    monkeypatch.setattr(sys, "argv", ["bench_intake.py", "nonsense"])
    assert bench_intake.main() == 2
