"""The organisation time zone: set by admins, audited, used by every deadline."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent, OrgSetting, ReferralKind, Role
from intake.services import settings as org_settings
from tests.builders import make_user, sign_in
from tests.referrals.conftest import sent_referral


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False, ORG_TIMEZONE="UTC")
    with app.app_context():
        yield app


def test_admin_sets_the_time_zone_and_deadlines_follow_it(web: Flask) -> None:
    admin = make_user(Role.ADMIN)
    client = web.test_client()
    sign_in(client, admin)
    page = client.get("/admin/settings")
    assert page.status_code == 200
    assert b'<option selected value="UTC">' in page.data or b'value="UTC" selected' in page.data
    response = client.post("/admin/settings", data={"timezone": "Europe/Berlin"})
    assert response.status_code == 302
    # Said as the dates say it, not as its id (an admin's walkthrough read "Asia/Hong_Kong").
    said = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Time zone set to Berlin, UTC\+[12]\.", said)
    assert org_settings.timezone_name() == "Europe/Berlin"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "settings.timezone")
    ).one()
    assert event.detail == {"from": "UTC", "to": "Europe/Berlin"}
    # A 60-day deadline now ends at the same Berlin wall-clock time, across the spring change:
    # sent 10:00 CET (09:00 UTC), due 10:00 CEST (08:00 UTC), one hour less than 60 × 24 h.
    sent = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    referral = sent_referral(ReferralKind.SP_URGENT_APPEAL, sent_at=sent)
    assert referral.due_at == sent + timedelta(days=60, hours=-1)
    listing = client.get("/referrals/").get_data(as_text=True)
    assert re.search(r"time zone: Berlin, UTC\+[12]\.</p>", listing)
    assert "Europe/Berlin" not in listing
    reports = client.get("/reports/").get_data(as_text=True)
    assert re.search(r"time zone: Berlin, UTC\+[12]\.", reports)


def test_the_time_zone_list_offers_the_worlds_zones_with_their_offsets(web: Flask) -> None:
    """About 600 raw names, "Factory", "localtime", "ROC" and "US/Pacific" among them, with no
    offsets (a review): the regions' zones and UTC, each with its offset now."""
    admin = make_user(Role.ADMIN)
    client = web.test_client()
    sign_in(client, admin)
    page = client.get("/admin/settings").get_data(as_text=True)
    options = dict(re.findall(r'<option (?:selected )?value="([^"]+)"[^>]*>([^<]+)</option>', page))
    assert options["Asia/Taipei"] == "Asia/Taipei (UTC+08:00)"
    assert options["America/New_York"] in (
        "America/New York (UTC-05:00)",
        "America/New York (UTC-04:00)",
    )
    assert options["UTC"] == "UTC (UTC+00:00)"
    for odd in ("Factory", "localtime", "ROC", "PRC", "US/Pacific", "Etc/GMT+5"):
        assert odd not in options, odd
    assert 300 < len(options) < 500


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "", "../../etc/passwd", "A" * 5000])
def test_unknown_time_zones_are_refused_and_nothing_changes(web: Flask, value: str) -> None:
    admin = make_user(Role.ADMIN)
    client = web.test_client()
    sign_in(client, admin)
    response = client.post("/admin/settings", data={"timezone": value})
    assert response.status_code == 422
    assert db.session.get(OrgSetting, "timezone") is None
    assert org_settings.timezone_name() == "UTC"


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.VIEWER])
def test_only_admins_change_settings(web: Flask, role: Role) -> None:
    client = web.test_client()
    sign_in(client, role)
    assert client.get("/admin/settings").status_code == 403
    assert client.post("/admin/settings", data={"timezone": "Asia/Taipei"}).status_code == 403
    assert org_settings.timezone_name() == "UTC"


def test_settings_page_speaks_traditional_chinese(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, Role.ADMIN)
    assert "組織時區" in client.get("/admin/settings?lang=zh_Hant").get_data(as_text=True)
