"""While the mail server refuses e-mail or cannot be reached, the admin pages say so at once —
since when, how many e-mails wait, why (in words, with the configured host and port) and until
when Refuge keeps trying — not only after REMINDER_RETRY_HOURS, when the rows fail (a review:
with MAIL_PORT on a closed port, /admin/reminders said "4 e-mails are waiting to be sent" for a
day). Nothing is said while mail goes out, and the banner goes once mail is delivered again,
each e-mail exactly once. Through the in-process send path and a real port."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import OutboxStatus, ReminderOutbox, Role
from intake.services import delivery, reminders
from tests.admin.test_failed_reminder_reasons import flat
from tests.admin.test_reminders_page import statements_for
from tests.builders import make_org_key, make_user, sign_in
from tests.conftest import Untranslated
from tests.mailserver import MailServer, RecordingHandler
from tests.referrals.conftest import sent_referral

SENT = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SCAN_AT = SENT + timedelta(days=53)  # seven days before the 60-day reply is due
FAILED_AT = SCAN_AT + timedelta(minutes=2)  # 09:02 UTC, 17:02 in Taipei
USERNAME, PASSWORD = "relay-account-canary", "relay-password-canary-7f3a"  # noqa: S105
PAGES = ("/admin/", "/admin/reminders", "/referrals/")
WITH_ACCOUNT = pytest.mark.parametrize("mail_app", ["account"], indirect=True)


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return closed_port()


@pytest.fixture
def mail_app(
    make_app: Callable[..., Flask], port: int, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    """Mail through 127.0.0.1:<port>, the organisation in Taipei, retries for the default 24
    hours; the relay's account too (never to be shown) when parametrized with WITH_ACCOUNT."""
    account = (
        {"MAIL_USERNAME": USERNAME, "MAIL_PASSWORD": PASSWORD}
        if getattr(request, "param", None) == "account"
        else {}
    )
    app = make_app(
        "sqlite",
        DAILY_DIGEST=False,
        ORG_TIMEZONE="Asia/Taipei",
        REMINDER_RETRY_HOURS=24,
        **MailServer(port).config(),
        **account,
    )
    with app.app_context():
        yield app


@pytest.fixture
def client(mail_app: Flask) -> FlaskClient:
    """The mail app's own client (conftest's ``client`` is another app's)."""
    return mail_app.test_client()


def due_emails(count: int) -> list[int]:
    """``count`` caseworkers, each with a referral whose reminder is due: one e-mail each."""
    org = make_org_key()
    for _ in range(count):
        sent_referral(sent_at=SENT, owner=make_user(Role.CASEWORKER), org=org)
    queued: list[int] = []
    reminders.scan(SCAN_AT, enqueue=queued.append)
    assert delivery.waiting_count() == len(queued) == count
    return queued


def fail_once(outbox_id: int, at: datetime = FAILED_AT) -> None:
    with pytest.raises(reminders.TransientMailError):
        reminders.send(outbox_id, at)


def banner(html: str) -> str:
    found = re.search(
        r'<div class="notice[^"]*" role="alert" data-mail-failing="[a-z_]+">.*?</div>', html, re.S
    )
    return flat(found.group(0)) if found else ""


def pages(client: FlaskClient, lang: str = "en") -> dict[str, str]:
    return {path: client.get(f"{path}?lang={lang}").get_data(as_text=True) for path in PAGES}


@WITH_ACCOUNT
def test_a_closed_port_is_said_at_once_with_its_reason_until_when_and_what_to_check(
    mail_app: Flask, client: FlaskClient, port: int
) -> None:
    queued = due_emails(4)
    fail_once(queued[0])  # one e-mail tried; the three others wait, untried
    row = db.session.get_one(ReminderOutbox, queued[0])
    assert (row.status, row.last_error) == (OutboxStatus.PENDING, "ConnectionRefusedError")
    sign_in(client, make_user(Role.ADMIN))

    for path, html in pages(client).items():
        shown = banner(html)
        assert 'data-mail-failing="connection_refused"' in shown, path
        assert "The mail server has not accepted e-mail since" in shown, path
        assert "; 4 e-mails are waiting." in shown, path
        # Since 09:02 UTC, in the organisation's zone; tried until a day later.
        since = '<time datetime="2026-10-24T09:02:00Z"'
        assert since in shown, path
        assert "17:02 (Taipei" in shown.split(since)[1][:200], path
        assert '<time datetime="2026-10-25T09:02:00Z"' in shown, path
        assert f"The connection was refused by 127.0.0.1:{port}." in shown, path
        assert "Check MAIL_SERVER and MAIL_PORT, and that the mail server is running." in shown
        assert USERNAME not in html, path
        assert PASSWORD not in html, path
    reminders_page = banner(pages(client)["/admin/reminders"])
    assert "e-mails not sent by then show below as failed." in reminders_page
    assert "listed as failed on the reminders page" in banner(pages(client)["/admin/"])
    assert 'href="/admin/reminders"' in banner(pages(client)["/referrals/"])

    # /healthz reports it too (not a reason for 503), for monitoring; anyone may ask it, so
    # it names neither the mail server nor the account.
    failing = client.get("/healthz").get_json()["outbox"]["mail_failing"]
    assert (failing["reason"], failing["waiting"]) == ("connection_refused", 4)
    assert failing["since"].startswith("2026-10-24T09:02")
    for never in (str(port), USERNAME, PASSWORD, "ConnectionRefusedError"):
        assert never not in str(failing)

    # A caseworker's referrals list says nothing of the mail settings (an admin's to fix).
    client.get("/logout")
    sign_in(client, make_user(Role.CASEWORKER))
    assert "data-mail-failing" not in client.get("/referrals/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "lead", "reason", "action"),
    [
        ("zh_Hant", "郵件伺服器自", "拒絕了連線。", "請檢查 MAIL_SERVER 和 MAIL_PORT"),
        ("zh_Hans", "邮件服务器自", "拒绝了连接。", "请检查 MAIL_SERVER 和 MAIL_PORT"),
    ],
)
def test_the_banner_is_said_in_the_staff_pages_chinese(
    mail_app: Flask,
    client: FlaskClient,
    port: int,
    untranslated: Untranslated,
    lang: str,
    lead: str,
    reason: str,
    action: str,
) -> None:
    fail_once(due_emails(2)[0])
    sign_in(client, make_user(Role.ADMIN))
    for path, html in pages(client, lang).items():
        shown = banner(html)
        assert lead in shown, (path, shown)
        assert "，2 封等待" in shown, (path, shown)
        assert f"127.0.0.1:{port} {reason}" in shown, (path, shown)
        assert action in shown, (path, shown)
        assert "The mail server" not in shown, (path, shown)
    missing = {message for message in untranslated.messages if "mail server" in message.lower()}
    missing |= {message for message in untranslated.messages if "MAIL_" in message}
    assert not missing, missing


def test_nothing_is_said_while_mail_goes_out_or_merely_waits(
    make_app: Callable[..., Flask], smtp_server: MailServer
) -> None:
    app = make_app("sqlite", DAILY_DIGEST=False, **smtp_server.config())
    with app.app_context():
        queued = due_emails(2)
        client = app.test_client()
        sign_in(client, make_user(Role.ADMIN))
        # Written by a scan, not tried yet: waiting is not failing.
        for path, html in pages(client).items():
            assert "data-mail-failing" not in html, path
        assert delivery.mail_failing() is None
        assert [reminders.send(outbox_id) for outbox_id in queued] == ["sent", "sent"]
        for path, html in pages(client).items():
            assert "data-mail-failing" not in html, path


def test_the_banner_goes_once_mail_is_delivered_again_each_email_exactly_once(
    mail_app: Flask, client: FlaskClient, port: int
) -> None:
    queued = due_emails(2)
    fail_once(queued[0])
    fail_once(queued[0], FAILED_AT + timedelta(minutes=1))  # (a retry: still since 09:02)
    failing = delivery.mail_failing()
    assert failing is not None
    assert (failing.since, failing.waiting) == (FAILED_AT, 2)
    assert (failing.error, failing.server) == ("ConnectionRefusedError", f"127.0.0.1:{port}")
    assert failing.as_dict() == {  # /healthz's: neither the server nor the error
        "since": "2026-10-24T09:02:00+00:00",
        "waiting": 2,
        "reason": "connection_refused",
        "retry_until": "2026-10-25T09:02:00+00:00",
    }
    sign_in(client, make_user(Role.ADMIN))
    assert banner(pages(client)["/admin/"])

    waiting = list(
        db.session.scalars(
            sa.select(ReminderOutbox.id)
            .where(ReminderOutbox.status == OutboxStatus.PENDING, ReminderOutbox.is_email())
            .order_by(ReminderOutbox.id)
        )
    )
    assert waiting == queued
    server = MailServer(port).start()  # the mail server is back, on the same port
    try:
        later = FAILED_AT + timedelta(minutes=5)
        assert [reminders.send(outbox_id, later) for outbox_id in waiting] == ["sent"] * 2
        assert [reminders.send(outbox_id, later) for outbox_id in waiting] == ["skipped"] * 2
        messages = server.wait_for(2)
    finally:
        server.stop()
    assert len(messages) == 2
    assert len({message.message["Message-ID"] for message in messages}) == 2
    assert delivery.mail_failing() is None
    for path, html in pages(client).items():
        assert "data-mail-failing" not in html, path
    assert 'data-waiting-reminders="0"' in pages(client)["/admin/reminders"]


def _refuse_relay(handler: RecordingHandler) -> None:
    async def handle_rcpt(
        server: Any, session: Any, envelope: Any, rcpt: str, options: list[str]
    ) -> str:
        return "550 5.7.1 Relaying denied"

    handler.handle_RCPT = handle_rcpt  # type: ignore[attr-defined]


def _refuse_sign_in(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    return AuthResult(success=False, handled=False)


@pytest.mark.parametrize(
    ("mail_app", "refusal", "fault", "lead", "reason", "action"),
    [
        (
            None,
            "relay",
            "recipient_refused",
            "The mail server has refused e-mail since",
            "refused the recipients (for example “relay not permitted”).",
            "Check MAIL_SERVER, MAIL_PORT and the relay's sign-in",
        ),
        (
            "account",  # (a sign-in is tried only with an account)
            "sign-in",
            "sign_in_refused",
            "The mail server has not accepted e-mail since",
            "refused the sign-in.",
            "Check the relay's sign-in: MAIL_USERNAME and MAIL_PASSWORD.",
        ),
    ],
    indirect=["mail_app"],
)
def test_a_relay_or_sign_in_refusal_is_named_as_such_without_the_account(
    mail_app: Flask,
    client: FlaskClient,
    port: int,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
    fault: str,
    lead: str,
    reason: str,
    action: str,
) -> None:
    queued = due_emails(1)
    handler = RecordingHandler()
    if refusal == "relay":
        _refuse_relay(handler)
    options: dict[str, Any] = (
        {"authenticator": _refuse_sign_in, "auth_require_tls": False}
        if refusal == "sign-in"
        else {}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        with caplog.at_level(logging.INFO):
            fail_once(queued[0])
    finally:
        controller.stop()
    assert handler.received == []
    sign_in(client, make_user(Role.ADMIN))
    shown = banner(pages(client)["/admin/reminders"])
    assert f'data-mail-failing="{fault}"' in shown
    assert lead in shown
    assert f"127.0.0.1:{port} {reason}" in shown
    assert action in shown
    assert PASSWORD not in caplog.text
    assert USERNAME not in caplog.text
    assert PASSWORD not in shown
    assert USERNAME not in shown


@WITH_ACCOUNT
def test_a_transient_failure_is_logged_on_one_line_naming_the_server_and_the_error(
    mail_app: Flask, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    queued = due_emails(1)
    with caplog.at_level(logging.INFO):
        fail_once(queued[0])
    lines = [r for r in caplog.records if r.name == mail_app.logger.name]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    line = lines[0]
    assert line.levelno == logging.WARNING
    assert line.exc_info is None
    message = line.getMessage()
    assert "\n" not in message
    assert f"mail server 127.0.0.1:{port} did not take the e-mail (ConnectionRefusedError)" in (
        message
    )
    assert f"reminder {queued[0]} is retried until 2026-10-25 09:02 UTC" in message
    assert USERNAME not in caplog.text
    assert PASSWORD not in caplog.text


def test_an_unexpected_error_keeps_its_traceback(
    mail_app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = due_emails(1)

    def broken(backend: Any, mail: Any) -> None:
        raise KeyError("not a mail error")

    monkeypatch.setattr(delivery, "transmit", broken)
    monkeypatch.setattr(delivery, "open_session", lambda backend: None)
    with caplog.at_level(logging.INFO):
        fail_once(queued[0])
    (line,) = [r for r in caplog.records if r.name == mail_app.logger.name]
    assert line.levelno == logging.ERROR
    assert line.exc_info is not None
    assert "failed unexpectedly (KeyError)" in line.getMessage()


def test_the_state_is_one_statement_and_the_pages_cost_the_same_failing_or_not(
    mail_app: Flask, client: FlaskClient
) -> None:
    queued = due_emails(5)
    sign_in(client, make_user(Role.ADMIN))
    for path in PAGES:  # (a page's first request reads what later ones have cached)
        client.get(path)
    working = {path: statements_for(client, path)[0] for path in PAGES}
    for outbox_id in queued:
        fail_once(outbox_id)
    failing = {}
    for path in PAGES:
        statements, html = statements_for(client, path)
        assert banner(html), path
        failing[path] = statements
    assert failing == working

    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        state = delivery.mail_failing()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert state is not None
    assert state.waiting == 5
    assert len(seen) == 1, seen


@pytest.mark.postgres
def test_the_state_is_read_by_the_status_index_over_a_years_outbox(
    make_app: Callable[..., Flask],
) -> None:
    from tests.referrals.test_outbox_indexes import (
        STATUS_INDEX,
        a_years_outbox,
        plans_of,
        reads_the_whole_outbox,
    )

    with make_app("postgres", DAILY_DIGEST=False).app_context():
        a_years_outbox()
        db.session.execute(
            sa.update(ReminderOutbox)
            .where(ReminderOutbox.status == OutboxStatus.PENDING, ReminderOutbox.kind == "batch")
            .values(failing_since=FAILED_AT, last_error="ConnectionRefusedError")
        )
        db.session.commit()
        failing = delivery.mail_failing()
        assert failing is not None
        assert failing.waiting == 5
        (statement, plan), *_ = plans_of(delivery.mail_failing)
        assert STATUS_INDEX in plan, f"{statement}\n{plan}"
        assert not reads_the_whole_outbox(plan), f"{statement}\n{plan}"
