"""Operational endpoints: /healthz for load balancers and `make run`'s readiness check, and
the vendored libraries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify

from intake import start_checks
from intake.extensions import csrf, db, limiter
from intake.services import delivery, heartbeats
from intake.system import assets, bp


def database_status() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means "not ok"; the type says why
        db.session.rollback()
        return f"error: {type(exc).__name__}"
    return "ok"


def broker_status() -> str:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:  # kombu raises many transport-specific errors
        return f"error: {type(exc).__name__}"
    return "ok"


@bp.get("/healthz")
@csrf.exempt
@limiter.exempt
def healthz() -> tuple[Response, int]:
    """Database, broker, worker and beat (from their heartbeats: "unknown" until the first one
    ever), and how many reminders could not be e-mailed (reported, not a reason for 503).
    ``schema`` says whether the database is migrated to this code's revision (503 if not)."""
    checks: dict[str, Any] = {"database": database_status(), "broker": broker_status()}
    checks["schema"] = "unknown"
    if checks["database"] == "ok":
        try:
            not_migrated = start_checks.schema_problem()
        except Exception as exc:  # the database stopped answering since SELECT 1
            db.session.rollback()
            checks["database"] = f"error: {type(exc).__name__}"
        else:
            checks["schema"] = not_migrated or "ok"
            if not_migrated:
                start_checks.report_schema_problem(not_migrated)
                checks["database"] = f"error: {not_migrated}"
    if checks["database"] == "ok":
        try:
            checks.update(heartbeats.status())
            checks["outbox"] = {"failed": delivery.failed_count()}
            # Being retried (reported, not a reason for 503): the hours before any shows failed.
            failing = delivery.mail_failing()
            checks["outbox"]["mail_failing"] = failing.as_dict() if failing is not None else None
        except Exception as exc:  # e.g. the schema is not migrated yet
            db.session.rollback()
            checks["database"] = f"error: {type(exc).__name__}"
    healthy = all(
        value in ("ok", "unknown")
        for name, value in checks.items()
        if name in ("database", "broker", *heartbeats.PROCESSES)
    )
    checks["status"] = "ok" if healthy else "unavailable"
    return jsonify(checks), 200 if healthy else 503


@bp.get("/static/vendor/<path:filename>")
@limiter.exempt
def vendor_asset(filename: str) -> Response:
    """Vendored libraries, as the app's own static files are sent (intake.system.assets)."""
    return assets.send_asset(str(Path(current_app.static_folder or "") / "vendor"), filename)
