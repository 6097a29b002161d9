"""Settings per INTAKE_ENV, generated secrets and refusal of unsafe production settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, normalise_database_url, settings_for
from intake import create_app


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MAIL_SERVER", "INTAKE_ENV"):
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
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app({"INTAKE_ENV": "production"})
    assert app.config["ENV_NAME"] == "production"
    assert app.config["SECRET_KEY"] == "s" * 40
    assert app.config["SESSION_COOKIE_SECURE"] is True


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
