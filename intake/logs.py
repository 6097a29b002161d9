"""Logging that never carries request bodies, submitter addresses or user agents (DESIGN §1.7)."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from flask import Flask, request

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def configure(app: Flask) -> None:
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.logger.setLevel(level)
    # Werkzeug's access log prints each client's address: keep only its warnings and errors.
    # Gunicorn's logs go through config/gunicorn.py, which keeps addresses out of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _ours(frame: traceback.FrameSummary) -> bool:
    return frame.filename.startswith(str(PROJECT_ROOT)) and "site-packages" not in frame.filename


def summary(error: BaseException) -> str:
    """One line naming an exception and where our code met it, never its message (which may
    quote what was submitted): ``OperationalError at intake/services/cases.py:103 in f``."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if _ours(frame)]
    name = type(error).__name__
    if not (ours or frames):
        return name
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    shown = path.relative_to(PROJECT_ROOT) if _ours(frame) else path.name
    return f"{name} at {shown}:{frame.lineno} in {frame.name}"


def route() -> str:
    """The request's route as written (``/auth/enrol/<token>``), not its path: a path can carry
    a one-time secret (an invitation or reset link), which then sat in every error log line."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"
