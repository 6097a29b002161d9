"""The one Celery integration (Flask's examples/celery): tasks run inside the app context."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from celery import Celery, Task, signals
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    from worker.schedule import beat_schedule

    broker_url = app.config["CELERY_BROKER_URL"]
    # Redis redelivers unacknowledged messages after this; deadlines never ride on it (§8).
    # kombu's SQLAlchemy transport passes options to create_engine, so it gets none.
    transport_options = {"visibility_timeout": 3600} if broker_url.startswith("redis") else {}
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(
        {
            "broker_url": broker_url,
            "task_ignore_result": True,
            # Tasks take ids and re-read the database; a message is only a nudge (DESIGN §6).
            "task_serializer": "json",
            "accept_content": ["json"],
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "broker_transport_options": transport_options,
            "beat_schedule": beat_schedule(app.config),
            "timezone": "UTC",
            "imports": ("worker.tasks",),
            "task_always_eager": app.config.get("CELERY_TASK_ALWAYS_EAGER", False),
            # Beat records its own heartbeat; so does every worker (worker/heartbeat.py).
            "beat_scheduler": "worker.heartbeat:HeartbeatScheduler",
            # Beat's own state beside the instance's other state, so that a second instance
            # (its own INTAKE_INSTANCE_PATH) never shares or misses it.
            "beat_schedule_filename": str(Path(app.instance_path) / "celerybeat-schedule"),
        }
    )
    from worker.heartbeat import WorkerHeartbeat

    celery.flask_app = app
    celery.steps["worker"].add(WorkerHeartbeat)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


@signals.worker_init.connect(dispatch_uid="refuge.configure_mappers", weak=False)
def _configure_mappers(**_kwargs: Any) -> None:
    """Configure the ORM's mappers once, before the pool forks its processes: otherwise each
    process does it in its first task (30-100 ms here, a tenth of a 50-e-mail task; issue 14)."""
    sa.orm.configure_mappers()


@signals.worker_process_init.connect(dispatch_uid="refuge.keep_smtp_session", weak=False)
@signals.worker_init.connect(dispatch_uid="refuge.keep_smtp_session_solo", weak=False)
def _keep_smtp_session(**_kwargs: Any) -> None:
    """A worker process keeps one SMTP session across its send tasks (issue 14)."""
    from intake.services import delivery

    delivery.keep_sessions()


@signals.worker_process_init.connect(dispatch_uid="refuge.warm_up_sending", weak=False)
def _warm_up_sending(**_kwargs: Any) -> None:
    """Each pool process readies itself to send reminders before its first task (issue 14),
    in a thread of its own: Celery gives a starting pool process a few seconds to report, and
    a database slow to answer or a table locked by a migration must not make it kill the
    process and start another. Only a speed-up: a failure here is the first task's to meet."""
    from celery import current_app as celery

    app = getattr(celery, "flask_app", None)
    if app is not None:
        threading.Thread(target=_warm_up, args=(app,), name="warm-up", daemon=True).start()


def _warm_up(app: Flask) -> None:
    from intake.extensions import db
    from intake.services import reminders

    with app.app_context():
        try:
            reminders.warm_up()
        except Exception:  # whatever it is, the first task meets it again and retries
            db.session.rollback()
            logging.getLogger(__name__).info("could not ready this process for sending")
        finally:
            db.session.remove()


@signals.worker_process_shutdown.connect(dispatch_uid="refuge.end_smtp_session", weak=False)
@signals.worker_shutdown.connect(dispatch_uid="refuge.end_smtp_session_solo", weak=False)
def _end_smtp_session(**_kwargs: Any) -> None:
    """QUIT the kept SMTP session when the worker stops."""
    from intake.services import delivery

    delivery.end_kept_session()
