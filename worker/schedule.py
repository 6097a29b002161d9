"""Beat schedule: exactly one beat process runs it (Procfile `beat`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from celery.schedules import crontab


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        # Executed by a worker: proves beat → broker → worker → database end to end.
        "heartbeat": {
            "task": "system.heartbeat",
            "schedule": timedelta(seconds=int(config["HEARTBEAT_SECONDS"])),
        },
        "session-purge": {"task": "sessions.purge", "schedule": timedelta(minutes=5)},
        "housekeeping": {"task": "housekeeping.nightly", "schedule": crontab(hour=3, minute=17)},
        "deadline-scan": {
            "task": "deadlines.scan",
            "schedule": timedelta(minutes=int(config["DEADLINE_SCAN_MINUTES"])),
        },
    }
