"""What a process checks in the database when it starts (create_app): the schema is migrated,
and AUDIT_KEY and TOTP_KEY are the keys this instance's data was written under.

Both keys default to keys derived from SECRET_KEY, so changing any of the three (or setting
AUDIT_KEY or TOTP_KEY for the first time, or unsetting it) fails nowhere by itself: the
organisation key's pin stops verifying (the public form refuses to seal), the audit log reads
as written under another key, and no TOTP secret opens (each colleague is told their second
factor was never confirmed). One row each, read once at start, lets the log name the setting.

Production refuses to start when AUDIT_KEY differs: the public form cannot seal, and every
event audited meanwhile would be chained under the wrong key, so the log would not verify even
after the old value is set back. A TOTP_KEY that differs is logged, not refused: passkeys still
sign in, and an admin or ``users reset-totp`` sets up new apps if the old value is lost. The
``flask`` command never refuses: it holds the tools to put things right (``db upgrade``,
``keys pin``, ``users reset-totp``, ``audit verify``).

Never logged: the keys, or anything derived from them.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import ScriptInfo

from config.settings import ConfigError
from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, User
from intake.models.second_factor import totp_at_rest_key
from intake.services import audit, key_pins, keys

log = logging.getLogger(__name__)

UPGRADE = "run `flask --app intake db upgrade`"
NOT_MIGRATED = f"schema not migrated: {UPGRADE}"
AUDIT_KEY_DIFFERS = (
    "AUDIT_KEY (or SECRET_KEY, from which it is derived when AUDIT_KEY is unset) is not the one "
    "this instance was set up with: set it back to the old value. Under another key the "
    "organisation key's pin and the audit log do not verify, so the public form cannot seal. "
    "If the old value is lost: compare the organisation key's fingerprint with the one you "
    "published, then run `flask --app intake keys pin --fingerprint ...` (the audit events "
    "written before stay unverifiable)"
)
TOTP_KEY_DIFFERS = (
    "TOTP_KEY (or SECRET_KEY, from which it is derived when TOTP_KEY is unset) is not the one "
    "this instance was set up with: set it back to the old value. Under another key no "
    "authenticator app code or recovery code works. If the old value is lost, set up each "
    "account's app again (`flask --app intake users reset-totp EMAIL`, or an admin signed in "
    "with a passkey)"
)
ORG_KEY_REPLACED = (
    "organisation key {id} does not match its pin, though AUDIT_KEY verifies the audit log: the "
    "key in the database may have been replaced, and the public form refuses to seal. Compare "
    "its fingerprint (`flask --app intake keys pin` lists it) with the one you published"
)


@dataclass(frozen=True)
class Mismatch:
    message: str
    refuses_production: bool


# --- the schema ---------------------------------------------------------------------------------


@functools.cache
def _revisions(directory: str) -> tuple[str | None, frozenset[str]]:
    """The code's head revision and every revision it knows: read once per process."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(directory)
    return script.get_current_head(), frozenset(rev.revision for rev in script.walk_revisions())


def schema_problem() -> str | None:
    """What is wrong with the schema (never migrated, or behind this code), else None: one
    statement when it is current. A database newer than the code, or made without Alembic
    (the tests' ``create_all``), is not this check's concern. Database errors other than a
    missing table are raised."""
    head, known = _revisions(str(current_app.extensions["migrate"].directory))
    try:
        current = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except sa.exc.DBAPIError:
        db.session.rollback()
        if sa.inspect(db.engine).has_table("users"):
            return None
        return NOT_MIGRATED
    if not current:
        return NOT_MIGRATED
    if head in current or not current <= known:
        return None
    return (
        f"schema not migrated: the database is at {', '.join(sorted(current))}, this code "
        f"needs {head}: {UPGRADE}"
    )


_reported: set[str] = set()


def report_schema_problem(problem: str) -> None:
    """Log a schema problem once per process (/healthz is asked every few seconds)."""
    if problem not in _reported:
        _reported.add(problem)
        log.error("%s", problem)


# --- the keys -----------------------------------------------------------------------------------


def _audit_log_verifies() -> bool:
    """Whether the first audit event, written when this instance was set up, verifies under the
    configured AUDIT_KEY (one row)."""
    first = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id).limit(1))
    return first is not None and audit.event_hash(first) == first.hash


def _newest_totp_secret_opens() -> bool:
    """Whether the TOTP secret confirmed last (sealed under the key in use most recently) opens
    under the configured TOTP_KEY. Read as stored, not through the column type, which would
    log and read it as no secret."""
    stored = db.session.scalar(
        sa.select(sa.type_coerce(User.totp_secret, sa.String))
        .where(User.totp_confirmed_at.is_not(None), User.totp_secret.is_not(None))
        .order_by(User.totp_confirmed_at.desc())
        .limit(1)
    )
    if stored is None or not crypto.is_sealed_at_rest(stored):
        return True
    try:
        crypto.open_at_rest(stored, totp_at_rest_key())
    except crypto.InvalidCiphertext:
        return False
    return True


def key_mismatches() -> list[Mismatch]:
    """The keys configured that are not the ones the data was written under (a few rows)."""
    found = []
    org_key = keys.current_org_key()
    # A key without a pin predates pinning: README's "keys pin" covers it, not this check.
    if org_key is not None and key_pins.pin_verifies(org_key) is False:
        if _audit_log_verifies():
            found.append(Mismatch(ORG_KEY_REPLACED.format(id=org_key.id), False))
        else:
            found.append(Mismatch(AUDIT_KEY_DIFFERS, True))
    if not _newest_totp_secret_opens():
        found.append(Mismatch(TOTP_KEY_DIFFERS, False))
    return found


# --- at start -----------------------------------------------------------------------------------


def run_by_flask_command() -> bool:
    """Whether the ``flask`` command built this app (its click context holds a ScriptInfo);
    gunicorn and Celery build theirs otherwise."""
    context = click.get_current_context(silent=True)
    return context is not None and context.find_object(ScriptInfo) is not None


def check(app: Flask) -> None:
    """Log what :func:`schema_problem` and :func:`key_mismatches` find; in production, raise
    ConfigError for a mismatch that refuses it, unless run by the ``flask`` command. A database
    that does not answer is /healthz's to report: the process starts."""
    flask_command = run_by_flask_command()
    with app.app_context():
        try:
            problem = schema_problem()
            mismatches = [] if problem else key_mismatches()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not check the schema and keys at start: %s", type(exc).__name__)
            return
        finally:
            db.session.remove()
            # Celery forks its pool after this: no child may inherit this connection.
            db.engine.dispose()
    if problem and not flask_command:  # `flask db upgrade` is the cure, not the patient
        report_schema_problem(problem)
    refuse = app.config.get("ENV_NAME") == "production" and not flask_command
    for mismatch in sorted(mismatches, key=lambda found: found.refuses_production):
        if refuse and mismatch.refuses_production:
            raise ConfigError(mismatch.message)
        log.error("%s", mismatch.message)
