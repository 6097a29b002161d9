"""One clock for people: a deadline reads the same on the case page, the referral page, the
referral list and in the reminder e-mail — the organisation's time, with city and offset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from intake.models import Role
from intake.services import reminders
from tests.builders import sign_in
from tests.mailserver import MailServer
from tests.referrals.conftest import sent_referral

SENT = datetime(2026, 12, 1, 19, 9, tzinfo=UTC)  # 2 Dec 03:09 in Taipei
WORDS = "31 Jan 2027, 03:09 (Taipei, UTC+8)"  # 60 days later on Taipei's calendar (issue 11)
UTC_INSTANT = 'datetime="2027-01-30T19:09:00Z" title="2027-01-30 19:09 UTC"'


@pytest.fixture
def taipei_app(make_app: Callable[..., Flask], smtp_server: MailServer) -> Iterator[Flask]:
    app = make_app("sqlite", DAILY_DIGEST=False, ORG_TIMEZONE="Asia/Taipei", **smtp_server.config())
    with app.app_context():
        yield app


def test_dates_on_case_page_referral_page_and_reminder_email_agree_for_taipei(
    taipei_app: Flask, smtp_server: MailServer
) -> None:
    referral = sent_referral(sent_at=SENT)
    assert referral.due_at == datetime(2027, 1, 30, 19, 9, tzinfo=UTC)
    queued: list[int] = []
    reminders.scan(referral.due_at - timedelta(days=7), enqueue=queued.append)
    assert [reminders.send(outbox_id) for outbox_id in queued] == ["sent"]
    (message,) = smtp_server.wait_for(1)
    assert f"Deadline: {WORDS}" in message.body

    client = taipei_app.test_client()
    sign_in(client, Role.CASEWORKER)
    case_page = client.get(f"/cases/{referral.case.ref}").get_data(as_text=True)
    referral_page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    listing = client.get("/referrals/?view=all").get_data(as_text=True)
    for html in (case_page, referral_page, listing):
        assert f"<time {UTC_INSTANT}>{WORDS}</time>" in html
        assert " CST" not in html
