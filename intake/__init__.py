"""Refuge: the Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from config.settings import (
    instance_secret_key,
    private_instance_folder,
    settings_for,
    start_warnings,
)
from intake import extensions as ext
from intake.hardening import RefugeFlask

BLUEPRINTS = ("system", "public", "auth", "cases", "referrals", "directory", "reports", "admin")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    # The overrides go in before the request limits are derived from the attachment limits.
    settings = settings_for((config or {}).get("INTAKE_ENV"), config)
    instance_path = Path(settings["INSTANCE_PATH"])
    private_instance_folder(instance_path)

    app = RefugeFlask(
        __name__,
        instance_path=str(instance_path),
        template_folder="../templates",
        static_folder="static",
    )
    app.config.update(settings)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance_path)

    from intake import hardening, i18n, logs, web

    logs.configure(app)
    for warning in start_warnings(app.config):
        logging.getLogger(__name__).warning("%s", warning)
    ext.db.init_app(app)
    # render_as_batch: ALTERs on SQLite go through table copies (DESIGN §2, STYLE §4).
    ext.migrate.init_app(app, ext.db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    ext.mail.init_app(app)
    ext.babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=";".join(i18n.translation_directories()),
    )
    ext.login_manager.init_app(app)
    hardening.init_app(app)  # first: its request hooks run before web's
    web.init_app(app)

    import intake.models  # noqa: F401  (every table known to Alembic and create_all)

    for name in BLUEPRINTS:
        module = __import__(f"intake.{name}", fromlist=["bp"])
        app.register_blueprint(module.bp)

    from intake.cli import register_commands

    register_commands(app)

    from worker import celery_init_app

    celery_init_app(app)
    if app.config["CHECK_KEYS_AT_START"]:
        from intake import start_checks

        # The web processes and the worker and beat (worker/app.py) alike; may refuse.
        start_checks.check(app)
    logging.getLogger(__name__).debug("app created for %s", app.config["ENV_NAME"])
    return app
