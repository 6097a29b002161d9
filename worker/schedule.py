"""Beat schedule: exactly one beat process runs it (Procfile `beat`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "heartbeat": {"task": "system.heartbeat", "schedule": timedelta(minutes=1)},
        "deadline-scan": {
            "task": "deadlines.scan",
            "schedule": timedelta(minutes=int(config["DEADLINE_SCAN_MINUTES"])),
        },
    }
