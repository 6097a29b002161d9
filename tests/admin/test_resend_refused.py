"""/admin/reminders offers "Send all again" only for what a retry could deliver: a reminder to a
mailbox its server refused fails again until the address is corrected. With only those, the
page says so instead; with some, the button says how many go, and the retry leaves the refused
ones (each can still be sent again on its own row)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, OutboxStatus, ReminderOutbox, Role, User
from intake.services import delivery, heartbeats
from intake.services import reminders as reminders_service
from tests.admin.test_reminders_page import reminder_email
from tests.auth.helpers import csrf_token
from tests.builders import make_user, sign_in
from tests.referrals.conftest import sent_referral

REFUSED = "SMTPRecipientsRefused"  # as the send task stores a refused mailbox
RELAY_DENIED = "550 5.7.1 relay denied"  # our settings: worth sending again once fixed
NONE_TO_RESEND = "Each address here was refused by its mail server"


def failed_email(owner: User, last_error: str, offset: str) -> ReminderOutbox:
    batch = reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.FAILED, offset)
    batch.last_error = last_error
    db.session.commit()
    return batch


def flat(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def resend_all_form(html: str) -> str | None:
    found = re.search(r"<form[^>]*data-resend-all=.*?</form>", html, re.S)
    return flat(found.group(0)) if found else None


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(reminders_service, "enqueue_send", sent.append)
    return sent


@pytest.fixture
def admin(client: FlaskClient) -> User:
    return sign_in(client, make_user(Role.ADMIN, email="admin@example.org"))


def test_when_every_failure_is_a_refused_mailbox_the_page_asks_for_the_addresses_first(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    mei = make_user(Role.CASEWORKER, email="mei@example.org")
    first = failed_email(mei, REFUSED, "7d")
    second = failed_email(mei, "550 5.1.1 No such user", "1d")
    assert delivery.retryable_failed_ids() == []
    html = client.get("/admin/reminders").get_data(as_text=True)
    assert 'data-failed-reminders="2"' in html
    assert resend_all_form(html) is None
    assert "Send all again" not in html
    assert NONE_TO_RESEND in html
    assert "it must be corrected before sending again." in html
    # Each row keeps its own "Send again" (the address may work again meanwhile).
    for row in (first, second):
        assert f'name="outbox_id" value="{row.id}"' in html
    hant = client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True)
    assert "此處每個地址都遭其郵件伺服器拒收：必須先更正地址，才能重新寄送。" in hant
    hans = client.get("/admin/reminders?lang=zh_Hans").get_data(as_text=True)
    assert "此处每个地址都遭其邮件服务器拒收：必须先更正地址，才能重新发送。" in hans


def test_a_long_batch_is_folded_after_three_and_stopped_processes_come_first(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    """A review's failed batch listed 31 referrals inline: the page was 4,600 px tall, and
    the warning that deadlines are not being checked came after all of them."""
    mei = make_user(Role.CASEWORKER, email="mei@example.org")
    carried = [sent_referral(owner=mei) for _ in range(5)]
    batch = reminder_email(mei, carried, OutboxStatus.FAILED, "7d")
    html = client.get("/admin/reminders").get_data(as_text=True)
    row = html[html.index(f'data-outbox-id="{batch.id}"') :]
    row = row[: row.index("</tr>")]
    shown, _sep, folded = row.partition('<details class="reminded-more">')
    assert shown.count("data-reminded-referral=") == 3
    assert folded.count("data-reminded-referral=") == 2
    assert "<summary>2 more referrals</summary>" in folded
    # A worker never seen (a new installation) waits below the failures; one seen and gone
    # comes before them: no deadline is checked meanwhile.
    assert html.index("data-failed-section") < html.index('data-process="worker"')
    with db.engine.begin() as connection:
        heartbeats.record(connection, "worker", utcnow() - timedelta(hours=2))
    html = client.get("/admin/reminders").get_data(as_text=True)
    assert html.index('data-process="worker"') < html.index("data-failed-section")
    assert html.count('data-process="worker"') == 1
    hant = client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True)
    assert "<summary>還有 2 項轉介</summary>" in hant
    hans = client.get("/admin/reminders?lang=zh_Hans").get_data(as_text=True)
    assert "1 则提醒无法以电子邮件发出。" in hans  # as the flash counts them (则, not 条)


def test_with_some_refused_the_button_counts_what_goes_and_the_retry_leaves_the_refused(
    app: Flask, client: FlaskClient, admin: User, queued: list[int]
) -> None:
    mei = make_user(Role.CASEWORKER, email="mei@example.org")
    ana = make_user(Role.CASEWORKER, email="ana@example.org")
    refused = failed_email(mei, REFUSED, "7d")
    settings = failed_email(ana, RELAY_DENIED, "7d")
    unacknowledged = failed_email(ana, "SMTPServerDisconnected; NoAcknowledgement", "1d")
    html = client.get("/admin/reminders").get_data(as_text=True)
    form = resend_all_form(html)
    assert form is not None
    assert 'data-resend-all="2"' in form
    assert "Send 2 again" in form
    assert "Reminders to a refused address are not sent again until it is corrected." in form
    assert "Send all again" not in html
    assert NONE_TO_RESEND not in html
    hant = resend_all_form(client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True))
    assert hant is not None
    assert "重新寄送 2 則" in hant
    assert "寄往遭拒收地址的提醒，在地址更正之前不會重新寄送。" in hant
    hans = resend_all_form(client.get("/admin/reminders?lang=zh_Hans").get_data(as_text=True))
    assert hans is not None
    assert "重新发送 2 条" in hans

    token = csrf_token(client, "/admin/reminders")
    response = client.post("/admin/reminders/resend?lang=en", data={"csrf_token": token})
    assert response.status_code == 303
    assert queued == [settings.id, unacknowledged.id]
    db.session.expire_all()

    def status(row: ReminderOutbox) -> OutboxStatus:
        return db.session.get_one(ReminderOutbox, row.id).status

    assert status(refused) is OutboxStatus.FAILED
    assert status(settings) is OutboxStatus.PENDING
    assert status(unacknowledged) is OutboxStatus.PENDING
    # The items a batch carried go with it; the refused batch's stay failed.
    items = db.session.execute(
        sa.select(ReminderOutbox.batch_id, ReminderOutbox.status).where(
            ReminderOutbox.batch_id.is_not(None)
        )
    ).all()
    assert {batch: state for batch, state in items} == {
        refused.id: OutboxStatus.FAILED,
        settings.id: OutboxStatus.PENDING,
        unacknowledged.id: OutboxStatus.PENDING,
    }
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "outbox.resend")
    ).one()
    assert event.detail == {"rows": [settings.id, unacknowledged.id]}
    page = client.get("/admin/reminders").get_data(as_text=True)
    assert "2 reminders are queued to be sent again." in page
    # What is left is the refused one: the page now asks for its address.
    assert resend_all_form(page) is None
    assert NONE_TO_RESEND in page

    # Its own row still sends it again, when the admin asks for that one.
    response = client.post(
        "/admin/reminders/resend", data={"csrf_token": token, "outbox_id": str(refused.id)}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert status(refused) is OutboxStatus.PENDING


def test_when_nothing_failed_for_a_refused_mailbox_the_button_sends_all(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    ana = make_user(Role.CASEWORKER, email="ana@example.org")
    failed_email(ana, RELAY_DENIED, "7d")
    failed_email(ana, "SMTPSenderRefused; retry window over", "1d")
    html = client.get("/admin/reminders").get_data(as_text=True)
    form = resend_all_form(html)
    assert form is not None
    assert 'data-resend-all="2"' in form
    assert "Send all again" in form
    assert "refused address" not in form
    assert NONE_TO_RESEND not in html
