"""The flat ratio file of ``make bench-quick``: ``bench/results/ratios.json``.

Every bench script records its figures here with :func:`record`; keys are the scale issue's
(#14): ``scan_steady_100k``, ``scan_first_100k``, ``scan_after_stale_plan_100k``,
``queue_p95_100k_ms``, ``queue_p95_ratio``, ``intake_browser_ratio``, ``intake_nojs_ratio``,
``delivery_2w_ratio``, ``triage_10k_ms``. What each figure was measured on (sizes, the two
times it divides, the date) goes to ``ratios-detail.json`` under the same key.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import RESULTS

RATIOS = RESULTS / "ratios.json"
DETAIL = RESULTS / "ratios-detail.json"


def _merge(path: Path, key: str, value: Any) -> None:
    current = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    current[key] = value
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def record(key: str, value: float, **detail: Any) -> None:
    """Merge ``key: value`` into ratios.json and ``key: detail`` into ratios-detail.json;
    safe when two bench scripts record at once."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / ".ratios.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _merge(RATIOS, key, round(float(value), 3))
        _merge(
            DETAIL,
            key,
            {
                "value": round(float(value), 3),
                "measured_at": datetime.now(UTC).isoformat(),
                **detail,
            },
        )
    print(f"ratio {key} = {value:.3f}")
