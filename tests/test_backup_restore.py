"""`make backup` on PostgreSQL, restored into a new database: cases open with the organisation
key, the audit chain verifies; with other keys the failure is named, not silent."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import create_app, crypto
from intake.extensions import db
from intake.models import Case
from intake.services import audit, audit_anchor
from tests import services
from tests.builders import make_case, make_org_key
from tests.conftest import TEST_SECRET, _config

pytestmark = pytest.mark.postgres
PROJECT = Path(__file__).resolve().parent.parent
SECRET_TEXT = "restored-text-only-the-org-key-opens"


@pytest.fixture
def restored_database() -> Iterator[str]:
    """A new, empty database of our own (refuge_custody_restore_…), dropped afterwards."""
    url = sa.make_url(services.require_postgres())
    name = f"refuge_custody_restore_{secrets.token_hex(4)}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _verify(app: Flask) -> tuple[int, dict[str, object]]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_a_backup_restores_into_a_new_database_and_wrong_keys_are_named(
    pg_app: Flask, tmp_path: Path, restored_database: str
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        services.unavailable("pg_dump / pg_restore are not installed")
    org = make_org_key()
    case = make_case(org, {"what_happened": SECRET_TEXT})
    for number in range(3):
        audit.record("case.view", "case", case.id, detail={"n": number})
    db.session.commit()
    assert audit_anchor.verify().ok  # the anchor the backup copies

    backups = tmp_path / "backups"
    env = {
        **os.environ,
        "DATABASE_URL": pg_app.config["SQLALCHEMY_DATABASE_URI"],
        "BACKUP_DIR": str(backups),
        "INTAKE_INSTANCE_PATH": pg_app.instance_path,
    }
    done = subprocess.run(  # noqa: S603
        ["bash", "scripts/backup.sh"],  # noqa: S607
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (dump,) = backups.glob("refuge-*.pgdump")
    (anchor_copy,) = backups.glob("audit_anchor-*.json")
    assert "SECRET_KEY" in done.stdout
    restore = subprocess.run(  # noqa: S603
        ["pg_restore", "--no-owner", "-d", _libpq(restored_database), str(dump)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr

    def restored_app(name: str, **keys: object) -> Flask:
        return create_app(
            _config(
                tmp_path / name,
                restored_database,
                AUDIT_ANCHOR_PATH=str(anchor_copy),
                **keys,
            )
        )

    same_keys = restored_app("same")
    with same_keys.app_context():
        restored = db.session.scalars(sa.select(Case)).one()
        answers = crypto.open_answers(restored.sealed_answers, org.secret)
        assert answers["what_happened"] == SECRET_TEXT
        code, result = _verify(same_keys)
        assert (code, result["status"], result["checked"]) == (0, "intact", 3)
        assert "data-org-key-unverified" not in same_keys.test_client().get("/").text
        db.session.remove()
        db.engine.dispose()

    other_keys = restored_app("other", SECRET_KEY="another-secret-key", AUDIT_KEY="another")
    with other_keys.app_context():
        code, result = _verify(other_keys)
        assert (code, result["status"]) == (1, "key_differs")
        assert "AUDIT_KEY" in str(result["message"])
        # The landing page says so too, and the form seals nothing.
        client = other_keys.test_client()
        assert "data-org-key-unverified" in client.get("/").text
        assert client.get("/request").status_code == 503
        db.session.remove()
        db.engine.dispose()
    assert TEST_SECRET != "another-secret-key"
