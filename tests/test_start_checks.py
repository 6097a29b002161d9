"""At start, AUDIT_KEY and TOTP_KEY are checked against what the database was written under:
another value (changed, set for the first time, or unset) is named in one log line, and
production refuses to start on an AUDIT_KEY that does not verify the organisation key's pin.
A fresh database starts; the ``flask`` command always runs (it holds the cures)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from config.settings import ConfigError
from intake import create_app, crypto, start_checks
from intake.extensions import db
from intake.models import OrgKey
from intake.services import audit
from tests import services
from tests.builders import make_org_key, make_user
from tests.conftest import TEST_SECRET

PROJECT = Path(__file__).resolve().parent.parent
OLD_AUDIT_KEY = "old-audit-key-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_AUDIT_KEY = "new-audit-key-0123456789abcdefghijklmnopqrstuvwxyz"
OLD_TOTP_KEY = "old-totp-key-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_TOTP_KEY = "new-totp-key-0123456789abcdefghijklmnopqrstuvwxyz"
# What the operator did to AUDIT_KEY between two starts: (the old value, the new one).
AUDIT_KEY_CHANGES = {
    "changed": (OLD_AUDIT_KEY, NEW_AUDIT_KEY),
    "set_for_the_first_time": (None, NEW_AUDIT_KEY),
    "unset": (OLD_AUDIT_KEY, None),
}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SECRETS = (OLD_AUDIT_KEY, NEW_AUDIT_KEY, OLD_TOTP_KEY, NEW_TOTP_KEY, TEST_SECRET)


def _database_url(backend: str, tmp_path: Path) -> str:
    if backend == "postgres":
        return services.require_postgres()
    return f"sqlite:///{tmp_path / 'refuge.sqlite'}"


@pytest.fixture
def set_up(make_app: Callable[..., Flask], tmp_path: Path) -> Callable[..., str]:
    """An instance in use under the given keys: a pinned organisation key, the audit events of
    its setting up, a colleague with a confirmed authenticator app. Returns the database URL."""

    def build(backend: str, audit_key: str | None, totp_key: str | None = OLD_TOTP_KEY) -> str:
        app = make_app(backend, AUDIT_KEY=audit_key, TOTP_KEY=totp_key)
        with app.app_context():
            org = make_org_key()
            audit.record("keys.org_key_created", "org_key", org.key.id, actor_label="system:test")
            db.session.commit()
            make_user()
        return _database_url(backend, tmp_path)

    return build


@pytest.fixture
def production_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What production requires of the environment; the database is given to create_app."""
    for name in ("AUDIT_KEY", "TOTP_KEY", "MAIL_BACKEND", "RETENTION_DAYS", "INTAKE_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    monkeypatch.setenv("REDIS_URL", services.REDIS_URL)
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("MAIL_DEFAULT_SENDER", "refuge@example.org")


def _start(url: str, tmp_path: Path, environment: str = "production", **keys: Any) -> Flask:
    """Start an app on ``url`` as a web process or the worker would (the check on)."""
    app = create_app(
        {
            "INTAKE_ENV": environment,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": tmp_path / "restarted",
            "CELERY_BROKER_URL": "memory://",
            "RATELIMIT_STORAGE_URI": "memory://",
            "MAIL_BACKEND": "locmem",
            "CHECK_KEYS_AT_START": True,
            "AUDIT_KEY": None,
            "TOTP_KEY": None,
            **keys,
        }
    )
    with app.app_context():
        db.engine.dispose()
    return app


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.usefixtures("production_environment")
@pytest.mark.parametrize("change", list(AUDIT_KEY_CHANGES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_production_refuses_to_start_under_another_audit_key_and_names_it(
    set_up: Callable[..., str], tmp_path: Path, backend: str, change: str
) -> None:
    old, new = AUDIT_KEY_CHANGES[change]
    url = set_up(backend, old)
    with pytest.raises(ConfigError) as refused:
        _start(url, tmp_path, AUDIT_KEY=new, TOTP_KEY=OLD_TOTP_KEY)
    message = str(refused.value)
    assert message.startswith(
        "AUDIT_KEY (or SECRET_KEY, from which it is derived when AUDIT_KEY is unset) is not the "
        "one this instance was set up with: set it back to the old value"
    )
    _no_secret_in(message)
    # The old value back: it starts.
    _start(url, tmp_path, AUDIT_KEY=old, TOTP_KEY=OLD_TOTP_KEY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_outside_production_another_audit_key_is_one_error_and_each_refusal_names_it(
    set_up: Callable[..., str], tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = set_up(backend, OLD_AUDIT_KEY)
    caplog.set_level(logging.INFO)
    app = _start(url, tmp_path, "development", AUDIT_KEY=NEW_AUDIT_KEY, TOTP_KEY=OLD_TOTP_KEY)
    assert _errors(caplog) == [start_checks.AUDIT_KEY_DIFFERS]
    caplog.clear()
    client = app.test_client()
    assert client.get("/request/key").status_code == 503
    (pin_error,) = _errors(caplog)
    assert "AUDIT_KEY (or SECRET_KEY" in pin_error
    assert "set it back to the old value" in pin_error
    _no_secret_in(caplog.text)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.usefixtures("production_environment")
@pytest.mark.parametrize("backend", BACKENDS)
def test_another_totp_key_is_named_at_start_but_production_starts(
    set_up: Callable[..., str], tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Passkeys still sign in, and a lost TOTP_KEY is put right by resetting the apps."""
    url = set_up(backend, OLD_AUDIT_KEY, totp_key=None)
    caplog.set_level(logging.INFO)
    _start(url, tmp_path, AUDIT_KEY=OLD_AUDIT_KEY, TOTP_KEY=NEW_TOTP_KEY)
    assert _errors(caplog) == [start_checks.TOTP_KEY_DIFFERS]
    assert start_checks.TOTP_KEY_DIFFERS.startswith(
        "TOTP_KEY (or SECRET_KEY, from which it is derived when TOTP_KEY is unset) is not the "
        "one this instance was set up with: set it back to the old value"
    )
    _no_secret_in(caplog.text)
    caplog.clear()
    _start(url, tmp_path, AUDIT_KEY=OLD_AUDIT_KEY, TOTP_KEY=None)
    assert _errors(caplog) == []


@pytest.mark.usefixtures("production_environment")
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_database_starts_under_any_keys(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_app(backend, AUDIT_KEY=OLD_AUDIT_KEY)  # the schema, no rows
    caplog.set_level(logging.INFO)
    app = _start(_database_url(backend, tmp_path), tmp_path, AUDIT_KEY=NEW_AUDIT_KEY)
    assert app.config["ENV_NAME"] == "production"
    assert _errors(caplog) == []


@pytest.mark.usefixtures("production_environment")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_never_migrated_starts_and_says_so(
    unmigrated_app: Callable[[str], Flask],
    tmp_path: Path,
    backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty = unmigrated_app(backend)
    with empty.app_context():
        services.empty_database()
        url = str(db.engine.url.render_as_string(hide_password=False))
        db.engine.dispose()
    caplog.set_level(logging.INFO)
    start_checks._reported.clear()  # noqa: SLF001 — logged once per process
    _start(url, tmp_path, AUDIT_KEY=NEW_AUDIT_KEY)
    assert _errors(caplog) == [start_checks.NOT_MIGRATED]
    assert start_checks.NOT_MIGRATED == "schema not migrated: run `flask --app intake db upgrade`"


@pytest.mark.usefixtures("production_environment")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_key_replaced_in_the_database_is_told_apart_from_another_audit_key(
    set_up: Callable[..., str],
    make_app: Callable[..., Flask],
    tmp_path: Path,
    backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The audit log still verifies under AUDIT_KEY: the setting is right, the key is not.
    The process starts (the form stays closed, as before) so that admins can look into it."""
    url = set_up(backend, OLD_AUDIT_KEY)
    engine = sa.create_engine(url)
    public, _secret = crypto.generate_keypair()
    with engine.begin() as connection:
        connection.execute(
            sa.update(OrgKey.__table__).values(
                public_key=public, fingerprint=crypto.fingerprint(public)
            )
        )
    engine.dispose()
    caplog.set_level(logging.INFO)
    _start(url, tmp_path, AUDIT_KEY=OLD_AUDIT_KEY, TOTP_KEY=OLD_TOTP_KEY)
    (error,) = _errors(caplog)
    assert "may have been replaced" in error
    assert "AUDIT_KEY verifies the audit log" in error


def _production_process(url: str, tmp_path: Path, audit_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "INTAKE_ENV": "production",
        "SECRET_KEY": TEST_SECRET,
        "AUDIT_KEY": audit_key,
        "TOTP_KEY": OLD_TOTP_KEY,
        "DATABASE_URL": url,
        "REDIS_URL": services.REDIS_URL,
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_DEFAULT_SENDER": "refuge@example.org",
        "INTAKE_INSTANCE_PATH": str(tmp_path / "process"),
    }


@pytest.mark.postgres
def test_the_worker_refuses_but_the_flask_command_runs_under_another_audit_key(
    set_up: Callable[..., str], tmp_path: Path
) -> None:
    """The worker and beat build their app in worker/app.py; `flask keys pin` (the cure when
    the old value is lost) and the other commands run, saying what is wrong."""
    url = set_up("postgres", OLD_AUDIT_KEY)
    environment = _production_process(url, tmp_path, NEW_AUDIT_KEY)
    worker = subprocess.run(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-c", "import worker.app"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode != 0
    assert "ConfigError: AUDIT_KEY (or SECRET_KEY" in worker.stderr
    command = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "flask"), "--app", "intake", "keys", "pin"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    assert '"pinned": false' in command.stdout
    assert start_checks.AUDIT_KEY_DIFFERS in command.stderr
    for output in (worker.stdout, worker.stderr, command.stdout, command.stderr):
        _no_secret_in(output)


def test_audit_verify_and_a_totp_read_under_another_key_say_to_set_it_back(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusals after start name the setting too: `audit verify` and each TOTP secret
    that does not open (read as no second factor, the sign-in's "never confirmed")."""
    import json

    from intake.models import User

    user = make_user()
    for number in range(3):
        audit.record("case.view", "case", number)
    db.session.commit()
    app.config["AUDIT_KEY"] = NEW_AUDIT_KEY
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    verdict = json.loads(result.output.strip().splitlines()[-1])
    assert (result.exit_code, verdict["status"]) == (1, "key_differs")
    assert "AUDIT_KEY (or SECRET_KEY, from which it is derived when AUDIT_KEY is unset)" in str(
        verdict["message"]
    )
    assert "Set it back to the old value." in str(verdict["message"])

    app.config["TOTP_KEY"] = NEW_TOTP_KEY
    db.session.expire_all()
    caplog.set_level(logging.INFO)
    assert db.session.get(User, user.id).totp_secret is None  # type: ignore[union-attr]
    assert (
        "TOTP_KEY (or SECRET_KEY, from which it is derived when TOTP_KEY is unset) is not the "
        "one it was sealed under: set it back to the old value"
    ) in caplog.text
    _no_secret_in(caplog.text + result.output)
