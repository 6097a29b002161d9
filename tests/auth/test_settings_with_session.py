"""The settings every staff page reads come with the staff session, and are never stale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import OrgSetting, Role
from intake.services import settings as org_settings
from tests.builders import make_case, make_org_key, make_user, sign_in


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def set_elsewhere(key: str, value: str) -> None:
    """What another process (another gunicorn worker) does: its own connection, committed."""
    table = OrgSetting.__table__
    with db.engine.begin() as connection:
        connection.execute(table.delete().where(table.c.key == key))
        connection.execute(table.insert().values(key=key, value=value, updated_at=utcnow()))


def test_a_staff_page_reads_the_zone_and_profile_with_its_session_and_sees_other_edits(
    any_app: Flask,
) -> None:
    client = any_app.test_client()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    make_case(org, ref="RF-ZONE1", received_at=utcnow() - timedelta(hours=1))
    set_elsewhere(org_settings.ORG_NAME, "First name")
    set_elsewhere(org_settings.TIMEZONE, "Asia/Taipei")
    with statements() as seen:
        page = client.get("/cases/?view=all").get_data(as_text=True)
    assert "First name" in page
    assert "(Taipei, UTC+8)" in page
    settings_reads = [sql for sql in seen if "org_settings" in sql]
    assert len(settings_reads) == 1, settings_reads
    assert "staff_sessions" in settings_reads[0]

    set_elsewhere(org_settings.ORG_NAME, "Second name")
    set_elsewhere(org_settings.TIMEZONE, "America/Mexico_City")
    page = client.get("/cases/?view=all").get_data(as_text=True)
    assert "Second name" in page
    assert "First name" not in page
    assert "(Mexico City, UTC-6)" in page
    assert "Taipei" not in page


def test_a_settings_change_is_read_back_in_the_same_request(any_app: Flask) -> None:
    admin = make_user(Role.ADMIN)
    with any_app.test_request_context("/admin/settings"):
        org_settings.remember_snapshot(
            {column.name: None for column in org_settings.snapshot_columns()}
        )
        assert org_settings.timezone_name() == "UTC"
        org_settings.set_timezone("Europe/Berlin", admin)
        assert org_settings.timezone_name() == "Europe/Berlin"
        profile = org_settings.set_org_profile({"org_name": "Renamed"}, admin)
        assert profile.name == "Renamed"
        assert org_settings.org_profile().name == "Renamed"
