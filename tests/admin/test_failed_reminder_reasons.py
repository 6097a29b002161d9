"""A reminder that could not be e-mailed says why, in words, from what is stored of it: a
mailbox the mail server says does not exist is not a wrong mail setting, and "send again"
cannot help it. What failed comes first on /admin/reminders, and the banners on the referral
pages do not claim the settings are wrong."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import OutboxStatus, Referral, ReminderOutbox, Role
from intake.services import delivery, reminders
from intake.services.delivery import Failure
from tests.admin.test_reminders_page import reminder_email
from tests.builders import make_org_key, make_user, sign_in
from tests.mailserver import MailServer
from tests.referrals.conftest import sent_referral

SENT = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SCAN_AT = SENT + timedelta(days=53)  # seven days before the 60-day reply is due
SETTINGS_ADVICE = "check the mail settings"


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_server: MailServer) -> Iterator[Flask]:
    app = make_app("sqlite", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        yield app


def refuse_mailbox(smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    """The mail server answers RCPT TO:<address> with 550 5.1.1 (unknown user)."""

    async def handle_rcpt(
        server: Any, session: Any, envelope: Any, rcpt: str, options: list[str]
    ) -> str:
        if rcpt == address:
            return "550 5.1.1 <mei@example.org>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(rcpt)
        return "250 OK"

    monkeypatch.setattr(smtp_server.handler, "handle_RCPT", handle_rcpt, raising=False)


def flat(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def failed_row(html: str, outbox_id: int) -> str:
    start = html.index(f'<tr data-outbox-id="{outbox_id}"')
    return html[start : html.index("</tr>", start)]


def test_a_refused_mailbox_is_named_first_and_the_banners_do_not_blame_the_settings(
    mail_app: Flask, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org_key()
    admin = make_user(Role.ADMIN, email="admin@example.org")
    mei = make_user(Role.CASEWORKER, email="mei@example.org")
    ana = make_user(Role.CASEWORKER, email="ana@example.org")
    refused = sent_referral(sent_at=SENT, owner=mei, org=org)
    for _ in range(25):  # a long "Sent recently" list, as on the reviewer's page
        sent_referral(sent_at=SENT, owner=ana, org=org)
    refuse_mailbox(smtp_server, monkeypatch, "mei@example.org")
    queued: list[int] = []
    reminders.scan(SCAN_AT, enqueue=queued.append)
    outcomes = [reminders.send(outbox_id) for outbox_id in queued]
    assert sorted(outcomes) == ["failed", "sent"]
    batch = db.session.scalar(
        sa.select(ReminderOutbox).where(
            ReminderOutbox.status == OutboxStatus.FAILED, ReminderOutbox.kind == "batch"
        )
    )
    assert batch is not None
    assert batch.last_error == "SMTPRecipientsRefused"  # all that is stored of why
    assert delivery.failure_of(batch.last_error) is Failure.MAILBOX_REFUSED

    client = mail_app.test_client()
    sign_in(client, admin)
    html = client.get("/admin/reminders").get_data(as_text=True)
    # What failed comes before what was sent.
    assert html.index("Reminders that could not be e-mailed") < html.index("Sent recently")
    row = flat(failed_row(html, batch.id))
    assert 'data-failure="mailbox_refused"' in row
    assert "The mail server says mei@example.org does not exist" in row
    assert "sending again fails too" in row
    assert 'href="/admin/users"' in row
    assert SETTINGS_ADVICE not in row
    assert "(SMTPRecipientsRefused)" in row  # the stored detail, after the words
    assert "Fix the settings, then send again" not in html
    chinese = client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True)
    assert "郵件伺服器表示 mei@example.org 不存在" in flat(failed_row(chinese, batch.id))

    # The referral pages: neutral, with the way to the reason for an admin.
    listing = flat(client.get("/referrals/?view=all&lang=en").get_data(as_text=True))
    start = listing.index("data-failed-reminders")
    banner = listing[start : listing.index("</p>", start)]
    assert "1 reminder could not be e-mailed." in banner
    assert SETTINGS_ADVICE not in banner
    assert 'href="/admin/reminders">See why on the reminders page</a>' in banner
    detail = flat(client.get(f"/referrals/{refused.id}").get_data(as_text=True))
    assert "data-reminder-failed" in detail
    assert SETTINGS_ADVICE not in detail
    assert "See why on the reminders page" in detail

    # A caseworker is told an admin knows, and gets no link to an admin page.
    caseworker = mail_app.test_client()
    sign_in(caseworker, mei)
    for path in ("/referrals/?view=all", f"/referrals/{refused.id}"):
        page = flat(caseworker.get(path).get_data(as_text=True))
        assert "An admin has been told and can send it again." in page
        assert SETTINGS_ADVICE not in page
        assert 'href="/admin/reminders"' not in page
    chinese = caseworker.get("/referrals/?view=all&lang=zh_Hant").get_data(as_text=True)
    assert "已通知管理員，管理員可以重新寄送。" in chinese
    assert "請檢查郵件設定" not in chinese


@pytest.mark.parametrize(
    ("last_error", "failure", "words"),
    [
        ("SMTPRecipientsRefused", Failure.MAILBOX_REFUSED, "does not exist"),
        ("SMTPDataError", Failure.MAILBOX_REFUSED, "does not exist"),  # 5.1.1 at DATA
        ("550 5.1.1 No such user", Failure.MAILBOX_REFUSED, "does not exist"),
        ("552 5.2.2 Mailbox full", Failure.MAILBOX_REFUSED, "does not exist"),
        (
            "SMTPSenderRefused; retry window over",
            Failure.SETTINGS_OR_SERVER,
            "The mail server refused our settings or could not be reached",
        ),
        (
            "SMTPServerDisconnected; retry window over",
            Failure.SETTINGS_OR_SERVER,
            "check the mail settings, then send again",
        ),
        (
            "550 5.7.1 relay denied",
            Failure.SETTINGS_OR_SERVER,
            "check the mail settings, then send again",
        ),
        (
            "SMTPServerDisconnected; NoAcknowledgement",
            Failure.NOT_ACKNOWLEDGED,
            "Not acknowledged twice; may have arrived.",
        ),
        # As a send task stores it for a row that two dead workers' claims left unanswered
        # (reminders._prepare): no class name before it. It read as a refused mailbox.
        (
            "NoAcknowledgement",
            Failure.NOT_ACKNOWLEDGED,
            "Not acknowledged twice; may have arrived.",
        ),
        (None, Failure.SETTINGS_OR_SERVER, "check the mail settings"),
        ("", Failure.SETTINGS_OR_SERVER, "check the mail settings"),
        ("<b>5.1.1</b>; x", Failure.MAILBOX_REFUSED, "does not exist"),
        ("<script>alert(1)</script>", Failure.SETTINGS_OR_SERVER, "check the mail settings"),
    ],
)
def test_each_kind_of_failure_is_told_in_words_from_what_is_stored(
    app: Flask, client: FlaskClient, last_error: str | None, failure: Failure, words: str
) -> None:
    assert delivery.failure_of(last_error) is failure
    owner = make_user(Role.CASEWORKER, email="owner@example.org")
    batch = reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.FAILED)
    batch.last_error = last_error
    db.session.commit()
    sign_in(client, make_user(Role.ADMIN))
    row = flat(failed_row(client.get("/admin/reminders").get_data(as_text=True), batch.id))
    assert f'data-failure="{failure.value}"' in row
    assert words in row
    # Stored text is shown escaped.
    assert "<script>" not in row
    assert "<b>" not in row


def test_the_failed_section_shows_only_when_something_failed(
    app: Flask, client: FlaskClient
) -> None:
    owner = make_user(Role.CASEWORKER)
    reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.SENT)
    sign_in(client, make_user(Role.ADMIN))
    html = client.get("/admin/reminders").get_data(as_text=True)
    assert "Sent recently" in html
    assert "could not be e-mailed" not in html
    assert "data-failed-section" not in html
    reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.FAILED, offset="1d")
    html = client.get("/admin/reminders").get_data(as_text=True)
    assert html.index("data-failed-section") < html.index("Sent recently")
    assert 'data-failed-reminders="1"' in html


def test_a_caseworker_is_told_an_admin_knows_in_simplified_chinese(
    app: Flask, client: FlaskClient
) -> None:
    owner = make_user(Role.CASEWORKER)
    referral: Referral = sent_referral(owner=owner)
    reminder_email(owner, [referral], OutboxStatus.FAILED)
    sign_in(client, owner)
    page = flat(client.get("/referrals/?view=all&lang=zh_Hans").get_data(as_text=True))
    assert "1 则提醒无法以电子邮件发出。" in page
    assert "已通知管理员，管理员可以重新发送。" in page


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_at_390_px_the_failed_reminder_is_on_the_first_screen_with_its_reason(
    app: Flask, live_server: Any, browser: Any, locale: str, tmp_path: Path
) -> None:
    from tests.builders import signed_in_context
    from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

    admin = make_user(Role.ADMIN, email="admin@example.org")
    ana = make_user(Role.CASEWORKER, email="ana@example.org")
    mei = make_user(Role.CASEWORKER, email="mei@example.org")
    for number in range(25):  # the reviewer's long "Sent recently" list
        reminder_email(ana, [sent_referral(owner=ana)], OutboxStatus.SENT, offset=f"{number}d")
    failed = reminder_email(mei, [sent_referral(owner=mei)], OutboxStatus.FAILED)
    failed.last_error = "SMTPRecipientsRefused"
    db.session.commit()
    context = signed_in_context(
        browser,
        app,
        live_server.url,
        admin,
        viewport={"width": 390, "height": 800},
        bypass_csp=True,  # for axe only
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/reminders?lang={locale}")
        assert no_horizontal_scroll(page)
        row = page.locator(f'tr[data-outbox-id="{failed.id}"]')
        assert row.evaluate("r => getComputedStyle(r).display") == "block"  # a card
        heading = page.locator("#failed-heading").bounding_box()
        assert heading is not None
        assert heading["y"] < 800, heading  # it began at y=6157, after every e-mail sent
        for part in (row.locator(".cell-why"), row.locator("button")):
            box = part.bounding_box()
            assert box is not None
            assert box["x"] >= 0, box
            assert box["x"] + box["width"] <= 390, box
        assert "mei@example.org" in row.locator(".cell-why").inner_text()
        assert_accessible(page, "main")
        # For a person to look at (pytest --basetemp=DIR keeps them).
        page.screenshot(path=str(tmp_path / f"reminders-390-{locale}-top.png"))
        row.evaluate("element => element.scrollIntoView()")
        page.screenshot(path=str(tmp_path / f"reminders-390-{locale}.png"))
    finally:
        context.close()
