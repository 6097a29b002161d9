"""A database outage mid-submission, on a private PostgreSQL stopped and started by the test
(issue #15, item 8): the form comes back with everything typed and a 503 in the person's
language, staff pages say the same, each failed request logs one line, and once the database
is back the app recovers by itself.

The shared PostgreSQL on 5432 is never touched: this one lives in a temporary folder, on a
free port, and is removed afterwards.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from intake import create_app
from intake.extensions import db
from intake.models import Role
from tests.builders import make_org_key, make_user, sign_in
from tests.conftest import _config, table_count
from tests.public.conftest import (
    CANARY,
    PHOTO_BYTES,
    PHOTO_NAME,
    asks_for_files_again,
    canary_for,
    csrf_token,
    full_answers,
    routing_form,
)

pytestmark = pytest.mark.postgres

UNAVAILABLE_EN = "briefly unavailable"
KEPT_EN = "We kept what you wrote"
KEPT_ZH_HANT = "我們保留了您寫的內容"
UNAVAILABLE_ZH_HANT = "服務暫時無法使用"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip("PostgreSQL server binaries are not installed (/usr/lib/postgresql)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivatePostgres:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="refuge-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(folder, _free_port())
    try:
        server._run(  # noqa: SLF001
            _pg_bin("initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        server.start()
        yield server
    finally:
        subprocess.run(  # noqa: S603 — stop it whatever state the test left it in
            [
                *(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []),
                _pg_bin("pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop",
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def outage_app(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        _config(
            tmp_path,
            private_postgres.url,
            REQUEST_RATE_LIMIT="1000 per hour",
            # Fail fast while the server is down rather than wait for the OS. No pool_pre_ping:
            # the app's own check of pooled connections (hardening.watch_connections) is what
            # must bring it back.
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 3}},
        )
    )
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def _no_js_form(token: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        **full_answers(),
        **routing_form(),
        "attachments": [(io.BytesIO(PHOTO_BYTES), PHOTO_NAME, "image/png")],
    }


def _one_line_each(caplog: pytest.LogCaptureFixture, failed_requests: int) -> None:
    """An outage logs one line per failed request, no stack trace and nothing typed."""
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == failed_requests, [record.getMessage() for record in errors]
    assert not [record for record in caplog.records if record.exc_info]
    assert "Traceback" not in caplog.text
    assert CANARY not in caplog.text


def test_a_database_outage_keeps_the_text_says_503_and_recovers(
    outage_app: Flask, private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    make_org_key()
    staff = make_user(Role.CASEWORKER)
    public, caseworker = outage_app.test_client(), outage_app.test_client()
    sign_in(caseworker, staff)
    assert caseworker.get("/cases/").status_code == 200
    token = csrf_token(public)
    db.session.remove()

    private_postgres.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        # JavaScript off, in English: the form again, filled in, and why.
        response = public.post(
            "/request", data=_no_js_form(token), content_type="multipart/form-data"
        )
        assert response.status_code == 503
        assert canary_for("what_happened") in response.text
        assert KEPT_EN in response.text
        assert "try again in a minute" in response.text
        assert asks_for_files_again(response.text)
        assert 'name="csrf_token"' in response.text  # ready to send again

        # The same in 繁體中文.
        response = public.post(
            "/request?lang=zh_Hant", data=_no_js_form(token), content_type="multipart/form-data"
        )
        assert response.status_code == 503
        assert canary_for("what_happened") in response.text
        assert KEPT_ZH_HANT in response.text

        # A change of language without JavaScript keeps it too (the form is posted to be
        # shown again in that language).
        response = public.post(
            "/request?lang=zh_Hant&change_language=1",
            data=_no_js_form(token),
            content_type="multipart/form-data",
        )
        assert response.status_code == 503
        assert canary_for("what_happened") in response.text
        assert KEPT_ZH_HANT in response.text
        assert 'lang="zh-Hant"' in response.text

        # JavaScript on: the browser keeps the text; it needs a 503 it can show.
        response = public.post(
            "/request?lang=en",
            data={"csrf_token": token, "sealed_answers": "AAAA", "org_key_id": "1"},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 503
        assert UNAVAILABLE_EN in response.get_json()["error"]

        # Staff pages: a 503 page in the reader's language, not a 500.
        response = caseworker.get("/cases/", headers={"Accept-Language": "zh-Hant"})
        assert response.status_code == 503
        assert UNAVAILABLE_ZH_HANT in response.text
        assert response.headers["Retry-After"] == "60"
        response = caseworker.get("/cases/")
        assert response.status_code == 503
        assert UNAVAILABLE_EN in response.text
    _one_line_each(caplog, failed_requests=6)

    private_postgres.start()
    # Recovered without a restart of the app: the pool replaces its dead connections.
    response = public.post(
        "/request",
        data=_no_js_form(token),
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200, response.text[:500]
    assert "receipt" in response.text.lower()
    assert table_count("cases") == 1
    assert caseworker.get("/cases/").status_code == 200
