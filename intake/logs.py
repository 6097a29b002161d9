"""Logging that never carries request bodies, submitter addresses or user agents (DESIGN §1.7)."""

from __future__ import annotations

import logging

from flask import Flask


def configure(app: Flask) -> None:
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.logger.setLevel(level)
    # Werkzeug's access log prints each client's address: keep only its warnings and errors.
    # Gunicorn writes no access log unless asked to (the Procfile does not ask).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
