"""A security notice that could not be e-mailed is named as one, not counted as a deadline
reminder: on /admin/reminders (its count, its row, why it failed), the /admin/ page, the admin's
daily digest and the resend's message; the /referrals banner counts reminders only, and the
report's "Reminder e-mails sent" does not count security notices (a review: "1 reminder could
not be e-mailed" when no reminder had failed, in English and Chinese)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox, Role, User
from intake.services import accounts, reminders, reports
from intake.services.settings import org_zone
from tests.admin.test_failed_reminder_reasons import failed_row, flat, refuse_mailbox
from tests.admin.test_reminders_page import reminder_email
from tests.auth.helpers import csrf_token
from tests.builders import make_user, sign_in
from tests.mailserver import MailServer
from tests.referrals.conftest import sent_referral


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_server: MailServer) -> Iterator[Flask]:
    app = make_app("sqlite", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        yield app


def failed_security_notice(
    smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[User, ReminderOutbox]:
    """`flask users reset-totp` for a caseworker whose mailbox the server refuses: the notice
    to them fails (as the worker's send task marks it), the admin's is sent."""
    admin = make_user(Role.ADMIN, email="admin@example.org")
    make_user(Role.CASEWORKER, email="gone@example.org")
    refuse_mailbox(smtp_server, monkeypatch, "gone@example.org")
    accounts.operator_reset_totp("gone@example.org")
    ids = list(db.session.scalars(sa.select(ReminderOutbox.id).order_by(ReminderOutbox.id)))
    assert sorted(reminders.send_many(ids).values()) == ["failed", "sent"]
    failed = db.session.scalars(
        sa.select(ReminderOutbox).where(ReminderOutbox.status == OutboxStatus.FAILED)
    ).one()
    assert failed.kind == "security"
    return admin, failed


def status_line(html: str, attribute: str) -> str:
    start = html.index(attribute)
    return flat(html[start : html.index("</", start)])


def test_a_failed_security_notice_is_named_as_one_where_failures_are_counted(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails on the code before: each page said "1 reminder could not be e-mailed"."""
    admin, notice = failed_security_notice(smtp_server, monkeypatch)
    client = mail_app.test_client()
    sign_in(client, admin)

    html = client.get("/admin/reminders").get_data(as_text=True)
    assert "1 security notice could not be e-mailed." in flat(html)
    assert "reminder could not be e-mailed" not in flat(html)
    assert "Reminders that could not be e-mailed" not in html
    assert "E-mails that could not be sent" in html
    row = flat(failed_row(html, notice.id))
    assert "Security notice" in row
    assert "The mail server says gone@example.org does not exist" in row
    assert "new reminders" not in row  # a deadline reminder's advice, not a notice's
    assert 'data-failed-reminders="0"' in html
    assert 'data-failed-security-notices="1"' in html

    index = flat(client.get("/admin/").get_data(as_text=True))
    assert "1 security notice could not be e-mailed" in index
    assert "reminder could not be e-mailed" not in index

    # The referrals list is about deadlines: no reminder failed, so no banner.
    listing = client.get("/referrals/?view=all").get_data(as_text=True)
    assert "data-failed-reminders" not in listing

    # Sent again: said as what it is.
    token = csrf_token(client, "/admin/reminders")
    again = client.post(
        "/admin/reminders/resend",
        data={"csrf_token": token, "outbox_id": str(notice.id)},
        follow_redirects=True,
    )
    assert "1 security notice is queued to be sent again." in flat(again.get_data(as_text=True))
    # The audit log names what was sent again: an e-mail, not "Reminder sent again".
    log = flat(client.get("/admin/audit").get_data(as_text=True))
    assert "Failed e-mail sent again" in log
    assert "Reminder sent again" not in log


@pytest.mark.parametrize(
    ("lang", "notice_line", "reminder_line"),
    [
        ("zh_Hant", "1 則安全通知無法以電子郵件寄出。", "1 則提醒無法以電子郵件寄出。"),
        ("zh_Hans", "1 则安全通知无法以电子邮件发出。", "1 则提醒无法以电子邮件发出。"),
    ],
    ids=["zh_Hant", "zh_Hans"],
)
def test_reminders_and_security_notices_are_counted_apart_in_chinese(
    mail_app: Flask,
    smtp_server: MailServer,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    notice_line: str,
    reminder_line: str,
) -> None:
    admin, _notice = failed_security_notice(smtp_server, monkeypatch)
    owner = make_user(Role.CASEWORKER, email="owner@example.org")
    reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.FAILED)
    client = mail_app.test_client()
    sign_in(client, admin)
    html = flat(client.get(f"/admin/reminders?lang={lang}").get_data(as_text=True))
    assert notice_line in html
    assert reminder_line in html
    index = flat(client.get(f"/admin/?lang={lang}").get_data(as_text=True))
    assert notice_line.rstrip("。") in index
    assert 'data-failed-reminders="1"' in index
    listing = client.get(f"/referrals/?view=all&lang={lang}").get_data(as_text=True)
    assert 'data-failed-reminders="1"' in listing  # the reminder, not the notice


def test_the_admins_digest_counts_failed_security_notices_apart(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, _notice = failed_security_notice(smtp_server, monkeypatch)
    mail_app.config["DAILY_DIGEST"] = True
    smtp_server.handler.received.clear()
    noon = datetime.now(UTC).astimezone(org_zone()).replace(hour=12) + timedelta(days=1)
    queued: list[int] = []
    reminders.scan(noon.astimezone(UTC), enqueue=queued.append)
    assert queued
    for outbox_id in queued:
        reminders.send(outbox_id)
    digests = [m for m in smtp_server.messages if m.recipients == [admin.email]]
    assert len(digests) == 1
    body = digests[0].text
    assert "Security notices that could not be e-mailed: 1" in body
    assert "Reminders that could not be e-mailed: 0" in body  # (said always, as before)


def test_the_report_does_not_count_security_notices_as_reminders(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(Role.ADMIN, email="admin@example.org")
    make_user(Role.CASEWORKER, email="holder@example.org")
    accounts.operator_reset_totp("holder@example.org")
    ids = list(db.session.scalars(sa.select(ReminderOutbox.id)))
    assert set(reminders.send_many(ids).values()) == {"sent"}
    today = datetime.now(UTC).astimezone(org_zone()).date()
    period = reports.year_period(today.year, org_zone())
    assert reports.reminders_sent(period) == {}


def test_stored_text_of_a_failed_notice_is_escaped(app: Flask, client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    row = ReminderOutbox(
        dedupe_key="security:1:1",
        kind="security",
        recipient_id=admin.id,
        offset_key="<script>x</script>",
        status=OutboxStatus.FAILED,
        attempts=1,
        last_error="<script>alert(1)</script>",
        counts={"account": admin.id},
    )
    db.session.add(row)
    db.session.commit()
    sign_in(client, admin)
    html = client.get("/admin/reminders").get_data(as_text=True)
    assert "<script>alert" not in html
    assert re.search(r"1 security notice could not be e-mailed", flat(html))
