"""Import time of the zh-Hant seed: parse only, and parse + write to SQLite (first and repeat).

Plain script: `.venv/bin/python bench/bench_import.py`. Prints the figures and writes
bench/results/import.json. Uses a throw-away SQLite database in a temporary directory.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import RESULTS as RESULTS_DIRECTORY  # noqa: E402

from intake import create_app  # noqa: E402
from intake.extensions import db  # noqa: E402
from intake.services import directory as service  # noqa: E402
from intake.umbrella import parser as umbrella  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "intake" / "directory" / "data" / "umbrella_zh_hant.md"
RESULTS = RESULTS_DIRECTORY / "import.json"
ROUNDS = 20


def main() -> None:
    text = SEED.read_text(encoding="utf-8")
    umbrella.parse(text)  # warm the vocabulary caches (CLDR look-ups)
    parse_times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = umbrella.parse(text)
        parse_times.append(time.perf_counter() - start)
    assert len(result.entries) == 28

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INTAKE_ENV": "testing",
                "TESTING": True,
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                "INSTANCE_PATH": Path(tmp),
                "CELERY_BROKER_URL": "memory://",
                "RATELIMIT_STORAGE_URI": "memory://",
                "MAIL_BACKEND": "locmem",
            }
        )
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            first = service.import_markdown(text, source="seed")
            first_time = time.perf_counter() - start
            repeat_times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                again = service.import_markdown(text, source="seed")
                repeat_times.append(time.perf_counter() - start)
            assert len(first.created) == 28
            assert len(again.unchanged) == 28
            start = time.perf_counter()
            shipped = service.import_shipped(force=True)
            shipped_time = time.perf_counter() - start
            db.session.remove()
            db.engine.dispose()

    figures = {
        "seed_bytes": len(text.encode()),
        "entries": 28,
        "parse_median_ms": round(statistics.median(parse_times) * 1000, 3),
        "first_import_ms": round(first_time * 1000, 3),
        "reimport_median_ms": round(statistics.median(repeat_times) * 1000, 3),
        "shipped_import_ms": round(shipped_time * 1000, 3),
        "shipped_entries": shipped.total,
    }
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "import",
                "python": platform.python_version(),
                "machine": platform.machine(),
                "results": figures,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
