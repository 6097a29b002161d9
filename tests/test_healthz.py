"""/healthz answers 200 when the database and the broker answer, 503 when either does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from tests.builders import json_of


def test_healthz_ok_on_embedded_database_and_broker(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    app = make_app("sqlite", CELERY_BROKER_URL=broker)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    checks = {key: json_of(response)[key] for key in ("database", "broker", "status")}
    assert checks == {"database": "ok", "broker": "ok", "status": "ok"}
    # No worker or beat has ever run here: unknown, not a failure (a fresh install).
    assert (json_of(response)["worker"], json_of(response)["beat"]) == ("unknown", "unknown")
    assert json_of(response)["outbox"] == {"failed": 0, "mail_failing": None}


@pytest.mark.postgres
@pytest.mark.redis
def test_healthz_ok_on_postgres_and_redis(make_app: Callable[..., Flask], redis_url: str) -> None:
    app = make_app("postgres", CELERY_BROKER_URL=redis_url)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["database"] == "ok"
    assert body["broker"] == "ok"


def test_healthz_503_when_broker_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body is not None
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")
    assert body["status"] == "unavailable"


def test_healthz_503_when_database_is_down(tmp_path: Path) -> None:
    from intake import create_app
    from tests.conftest import TEST_SECRET

    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": TEST_SECRET,
            "INSTANCE_PATH": tmp_path / "instance",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body is not None
    assert body["database"].startswith("error")
    assert body["broker"] == "ok"


def test_healthz_names_a_stale_worker_or_beat_and_counts_failed_reminders(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from datetime import timedelta

    import sqlalchemy as sa

    from intake.db import utcnow
    from intake.extensions import db
    from intake.models import Heartbeat
    from intake.services import heartbeats

    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    app = make_app("sqlite", CELERY_BROKER_URL=broker, HEARTBEAT_STALE_SECONDS=300)
    client = app.test_client()
    with app.app_context(), db.engine.begin() as connection:
        heartbeats.record(connection, "worker")
        heartbeats.record(connection, "beat", utcnow() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json_of(response)["worker"] == "ok"
    assert json_of(response)["beat"].startswith("stale")
    assert json_of(response)["status"] == "unavailable"
    with app.app_context():
        db.session.execute(sa.update(Heartbeat).values(seen_at=utcnow()))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert (json_of(response)["worker"], json_of(response)["beat"]) == ("ok", "ok")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_healthz_says_how_to_migrate_a_database_never_migrated_or_behind(
    unmigrated_app: Callable[[str], Flask], backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not "error: ProgrammingError": what to run. Also when migrated to an older revision."""
    from flask_migrate import upgrade

    from intake import start_checks
    from intake.extensions import db
    from tests import services

    app = unmigrated_app(backend)
    client = app.test_client()
    start_checks._reported.clear()  # noqa: SLF001 — logged once per process
    with app.app_context():
        services.empty_database()
    response = client.get("/healthz")
    assert response.status_code == 503
    wanted = "schema not migrated: run `flask --app intake db upgrade`"
    assert (json_of(response)["database"], json_of(response)["schema"]) == (
        f"error: {wanted}",
        wanted,
    )
    assert json_of(response)["status"] == "unavailable"
    assert caplog.text.count(wanted) == 1
    client.get("/healthz")
    assert caplog.text.count(wanted) == 1  # once per process, not per load-balancer probe

    with app.app_context():
        upgrade(revision="0036")
        head = start_checks._revisions(str(app.extensions["migrate"].directory))[0]  # noqa: SLF001
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json_of(response)["schema"] == (
        f"schema not migrated: the database is at 0036, this code needs {head}: "
        "run `flask --app intake db upgrade`"
    )

    with app.app_context():
        upgrade()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert (json_of(response)["database"], json_of(response)["schema"]) == ("ok", "ok")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
