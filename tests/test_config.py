"""Settings per INTAKE_ENV, generated secrets and refusal of unsafe production settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ConfigError, normalise_database_url, settings_for
from intake import create_app

BOOLEAN_SETTINGS = ("MAIL_USE_TLS", "MAIL_USE_SSL", "DAILY_DIGEST", "TRUST_PROXY")
# What production needs, each explicit (the SECRET_KEY long enough).
PRODUCTION = {
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://u@h/d",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "MAIL_SERVER": "smtp.example.org",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        *("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MAIL_SERVER", "INTAKE_ENV", "MAIL_BACKEND"),
        *("MAIL_DEFAULT_SENDER", "RETENTION_DAYS", *BOOLEAN_SETTINGS),
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTAKE_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


def test_development_defaults_to_embedded_sqlite_and_broker(clean_env: Path) -> None:
    settings = settings_for("development")
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{clean_env / 'refuge.sqlite'}"
    assert settings["CELERY_BROKER_URL"] == f"sqla+sqlite:///{clean_env / 'broker.sqlite'}"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["MAIL_BACKEND"] == "file"
    assert settings["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_environment_variables_choose_postgres_redis_and_smtp(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.internal/refuge")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    monkeypatch.setenv("MAIL_SERVER", "smtp.internal")
    monkeypatch.setenv("MAIL_PORT", "587")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    settings = settings_for("development")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/refuge"
    assert settings["CELERY_BROKER_URL"] == "redis://cache.internal:6379/0"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/0"
    assert (settings["MAIL_BACKEND"], settings["MAIL_PORT"], settings["MAIL_USE_TLS"]) == (
        "smtp",
        587,
        True,
    )


def test_testing_settings_lower_argon2_cost(clean_env: Path) -> None:
    assert (
        settings_for("testing")["ARGON2_MEMORY_KIB"]
        < settings_for("development")["ARGON2_MEMORY_KIB"]
    )


def test_unknown_environment_is_refused(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="INTAKE_ENV"):
        settings_for("staging")


def test_bad_integer_setting_is_named(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_PORT", "twenty-five")
    with pytest.raises(ConfigError, match="MAIL_PORT"):
        settings_for("development")


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://u@h/d"}, "REDIS_URL"),
        ({**PRODUCTION, "MAIL_SERVER": ""}, "production needs MAIL_SERVER"),
        ({**PRODUCTION, "SECRET_KEY": "x" * 31}, "SECRET_KEY of at least 32 characters"),
    ],
)
def test_production_refuses_to_start_without_explicit_secrets_and_servers(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], missing: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=missing):
        create_app({"INTAKE_ENV": "production"})


def test_production_starts_with_everything_explicit(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    app = create_app({"INTAKE_ENV": "production"})
    assert app.config["ENV_NAME"] == "production"
    assert app.config["SECRET_KEY"] == "s" * 40
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["MAIL_BACKEND"] == "smtp"


def test_secret_key_is_generated_once_into_instance(clean_env: Path) -> None:
    first = create_app({"INTAKE_ENV": "development"})
    second = create_app({"INTAKE_ENV": "development"})
    key_file = clean_env / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) == 64


def test_the_instance_folder_is_closed_to_other_users(clean_env: Path) -> None:
    """With SQLite, instance/ holds the database, the broker and the e-mails written to files,
    which SQLite and the mail writer create world-readable (0644) under the usual umask (a
    review). The folder is the owner's; an existing one others could open is closed."""
    create_app({"INTAKE_ENV": "development"})
    assert clean_env.stat().st_mode & 0o777 == 0o700
    clean_env.chmod(0o755)
    create_app({"INTAKE_ENV": "development"})
    assert clean_env.stat().st_mode & 0o777 == 0o750  # its group is the operator's choice


def test_factory_overrides_win(clean_env: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    app = create_app({"INTAKE_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert app.testing is True


def test_heroku_style_postgres_url_uses_psycopg3() -> None:
    assert normalise_database_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_weak_secret_key_message_says_how_to_make_one(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**PRODUCTION, "SECRET_KEY": "hunter2"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        create_app({"INTAKE_ENV": "production"})
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_production_writes_mail_to_files_only_when_told_to(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in {**PRODUCTION, "MAIL_SERVER": "", "MAIL_BACKEND": "file"}.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.WARNING)
    app = create_app({"INTAKE_ENV": "production"})
    assert app.config["MAIL_BACKEND"] == "file"
    assert "MAIL_BACKEND=file: e-mails are written to files in instance/outbox/" in caplog.text


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"MAIL_BACKEND": "sendmail"}, "MAIL_BACKEND must be smtp or file"),
        ({"MAIL_BACKEND": "smtp"}, "MAIL_BACKEND=smtp needs MAIL_SERVER"),
        ({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, "not both"),
    ],
)
def test_mail_settings_that_cannot_work_are_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        settings_for("development")


def test_worker_refuses_production_without_mail_server(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker (and beat) build their app in worker/app.py: the same settings, the same
    refusal, in one line."""
    environment = {**os.environ, **PRODUCTION, "MAIL_SERVER": "", "INTAKE_ENV": "production"}
    worker = subprocess.run(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-c", "import worker.app"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode != 0
    assert (
        "ConfigError: production needs MAIL_SERVER (the SMTP relay that sends reminders and "
        "security notices); to write e-mails to files in instance/outbox/ instead, set "
        "MAIL_BACKEND=file\n"
    ) in worker.stderr


@pytest.mark.parametrize(
    ("sender", "warned"),
    [(None, True), ("refuge@localhost", True), ("Refuge <desk@example.org>", False)],
)
def test_production_warns_of_a_sender_relays_refuse(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    sender: str | None,
    warned: bool,
) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    if sender is not None:
        monkeypatch.setenv("MAIL_DEFAULT_SENDER", sender)
    caplog.set_level(logging.WARNING)
    create_app({"INTAKE_ENV": "production"})
    assert ("MAIL_DEFAULT_SENDER is" in caplog.text) is warned


@pytest.mark.parametrize("days", ["0", "-1", "36501"])
def test_retention_days_that_would_delete_every_closed_case_are_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, days: str
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", days)
    with pytest.raises(ConfigError) as refused:
        settings_for("development")
    message = str(refused.value)
    assert message.startswith("RETENTION_DAYS is how many days closed cases are kept")
    assert "36500 keeps them a hundred years" in message


def test_retention_days_keep_closed_cases_up_to_a_hundred_years(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "36500")
    assert settings_for("development")["RETENTION_DAYS"] == 36500
    monkeypatch.setenv("RETENTION_DAYS", "1")
    assert settings_for("development")["RETENTION_DAYS"] == 1


@pytest.mark.parametrize("name", BOOLEAN_SETTINGS)
def test_a_boolean_setting_misspelt_is_refused_not_read_as_false(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "ture")
    with pytest.raises(ConfigError) as refused:
        settings_for("development")
    assert (
        str(refused.value) == f"{name} must be true or false (or 1/0, yes/no, on/off), got 'ture'"
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), (" Yes ", True), ("ON", True), ("true", True)]
    + [("0", False), ("no", False), ("Off", False), ("FALSE", False), ("", None)],
)
def test_boolean_settings_accept_the_usual_spellings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, raw: str, value: bool | None
) -> None:
    monkeypatch.setenv("TRUST_PROXY", raw)
    expected = False if value is None else value  # empty: the default
    assert settings_for("development")["TRUST_PROXY"] is expected
