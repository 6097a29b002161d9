"""Shared fixtures: apps on SQLite and real PostgreSQL, a live server, real Chromium, SMTP."""

from __future__ import annotations

import gettext
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from intake import create_app
from intake.extensions import db
from tests import services
from tests.builders import compile_translations

TEST_SECRET = "test-secret-key-not-for-production"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test in real Chromium that fails is run once more (pytest-rerunfailures): on this
    shared 2-core machine a browser's timing varies from run to run, and each race found so far
    was in how a test waited, not in what it checked. It shows as "R" and "N rerun" in the
    summary; failing twice fails the run. Every other test runs once."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=1))


@pytest.fixture(scope="session", autouse=True)
def _translations_compiled() -> None:
    compile_translations()


@pytest.fixture(autouse=True)
def _limiter_storage_alive() -> None:
    """Flask-Limiter's one Limiter serves every app the tests build, and once a test made its
    storage unreachable it stays on the in-memory fallback (``_storage_dead``) for every later
    app until a back-off re-check. Each test starts with the storage it configured."""
    from intake.extensions import limiter

    limiter._storage_dead = False  # noqa: SLF001 — test isolation of a process-wide object


def _config(tmp_path: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    instance = tmp_path / "instance"
    return {
        "INTAKE_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": instance,
        "CELERY_BROKER_URL": "memory://",
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_BACKEND": "locmem",
        **extra,
    }


def _reset_schema() -> None:
    services.empty_database()
    db.create_all()


@pytest.fixture
def unmigrated_app(tmp_path: Path) -> Callable[[str], Flask]:
    """An app on an empty database, "sqlite" or "postgres", for a test that migrates it."""

    def build(backend: str) -> Flask:
        if backend == "postgres":
            url = services.require_postgres()
        else:
            url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return create_app(_config(tmp_path, url))

    return build


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app with a fresh schema; ``backend`` is "sqlite" or "postgres"."""
    made: list[Flask] = []

    def build(backend: str = "sqlite", **extra: Any) -> Flask:
        if backend == "postgres":
            url = services.require_postgres()
        else:
            url = f"sqlite:///{tmp_path / 'refuge.sqlite'}"
        app = create_app(_config(tmp_path, url, **extra))
        with app.app_context():
            _reset_schema()
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite")
    with app.app_context():
        yield app


@pytest.fixture
def pg_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("postgres")
    with app.app_context():
        yield app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The same test on the embedded database and on real PostgreSQL."""
    app = make_app(request.param)
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The ``app`` fixture served over real HTTP on loopback, for the browser."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    services.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright: Any) -> Iterator[Any]:
    chromium = _playwright.chromium.launch(
        executable_path=services.require_chromium(),
        headless=True,
        # As root in a container, without the network: no sandbox, no background requests.
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def redis_url() -> str:
    import redis

    url = services.require_redis()
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def pg_url() -> str:
    return services.require_postgres()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'refuge.sqlite'}"


def table_count(table: str) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) or 0)


@pytest.fixture
def one_message_commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many events each ``audit._append_and_commit`` (events, head and COMMIT in one
    message) carried, in order; the real function still runs."""
    from intake.services import audit

    sent: list[int] = []
    original = audit._append_and_commit  # noqa: SLF001

    def counting(count: int, values: dict[str, Any]) -> None:
        sent.append(count)
        original(count, values)

    monkeypatch.setattr(audit, "_append_and_commit", counting)
    return sent


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real SMTP server on loopback (aiosmtpd) recording every message it accepts."""
    from tests.mailserver import MailServer

    server = MailServer().start()
    yield server
    server.stop()


class Untranslated:
    """Records every message looked up in one of our catalogues (the ``messages`` domain;
    WTForms' own domain is its business) that has no translation for it."""

    def __init__(self) -> None:
        self.messages: set[str] = set()

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture
def untranslated(monkeypatch: pytest.MonkeyPatch) -> Untranslated:
    record = Untranslated()
    lookup = gettext.GNUTranslations.gettext
    plural_lookup = gettext.GNUTranslations.ngettext
    context_lookup = Translations.upgettext

    def ugettext(self: Translations, message: str) -> str:
        if self.domain == "messages" and message and message not in self._catalog:
            record.messages.add(message)
        return lookup(self, message)

    def ungettext(self: Translations, singular: str, plural: str, n: int) -> str:
        if self.domain == "messages" and (singular, 0) not in self._catalog:
            record.messages.add(singular)
        return plural_lookup(self, singular, plural, n)

    def upgettext(self: Translations, context: str, message: str) -> str:
        if self.domain == "messages" and f"{context}\x04{message}" not in self._catalog:
            record.messages.add(f"{context}|{message}")
        return context_lookup(self, context, message)

    monkeypatch.setattr(Translations, "ugettext", ugettext)
    monkeypatch.setattr(Translations, "ungettext", ungettext)
    monkeypatch.setattr(Translations, "upgettext", upgettext)
    return record
