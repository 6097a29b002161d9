"""/admin/reminders names what each e-mail reminded of as the referrals list does (the case's
reference, the referral's kind and entry, linked to the referral), read at once for every row
shown, and its columns say "recipient" and "sent" in Chinese, not "referral target"."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import OutboxStatus, Referral, ReferralKind, ReminderOutbox, Role, User
from tests.builders import make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import sent_referral


def reminder_email(
    recipient: User, referrals: list[Referral], status: OutboxStatus, offset: str = "7d"
) -> ReminderOutbox:
    """One batch e-mail to ``recipient`` carrying a reminder item for each referral."""
    batch = ReminderOutbox(
        dedupe_key=f"batch:{recipient.id}:{referrals[0].id}:{offset}",
        kind="batch",
        recipient_id=recipient.id,
        offset_key=offset,
        status=status,
        sent_at=utcnow() if status == OutboxStatus.SENT else None,
        attempts=1,
        last_error="550 5.7.1 relay denied" if status == OutboxStatus.FAILED else None,
    )
    db.session.add(batch)
    db.session.flush()
    for referral in referrals:
        db.session.add(
            ReminderOutbox(
                dedupe_key=f"reminder:{referral.id}:{offset}",
                kind="reminder",
                referral_id=referral.id,
                recipient_id=recipient.id,
                offset_key=offset,
                status=status,
                batch_id=batch.id,
                due_at=utcnow() + timedelta(days=7),
            )
        )
    db.session.commit()
    return batch


def statements_for(client: FlaskClient, path: str) -> tuple[int, str]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        html = client.get(path).get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen), html


def test_each_reminder_names_its_cases_kinds_and_entries_read_at_once(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    owner = make_user(Role.CASEWORKER, email="owner@example.org")
    make_entry("cpj", name="Committee to Protect Journalists", name_zh="保護記者委員會")
    appeal = sent_referral(ReferralKind.SP_URGENT_APPEAL, owner=owner, org=org, entry_id="cpj")
    ngo = sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id="cpj")
    failing = sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id="cpj")
    reminder_email(owner, [appeal, ngo], OutboxStatus.SENT)
    reminder_email(owner, [failing], OutboxStatus.FAILED, offset="1d")
    sign_in(client, make_user(Role.ADMIN))

    one_page, html = statements_for(client, "/admin/reminders")
    for referral in (appeal, ngo, failing):
        link = f'<a class="case-ref" href="/referrals/{referral.id}">{referral.case.ref}</a>'
        assert link in html
    assert re.search(r"Referral \d+", html) is None  # no internal ids
    shown = re.sub(r"\s+", " ", html)
    entry = '<bdi dir="auto">Committee to Protect Journalists</bdi>'
    appeal_kind = "UN Special Procedures: urgent appeal (government reply: 60 days)"
    assert f"{appeal.case.ref}</a> · {appeal_kind} · {entry}" in shown
    assert f"{ngo.case.ref}</a> · Referral to an organisation · {entry}" in shown
    chinese = client.get("/admin/reminders?lang=zh_Hans").get_data(as_text=True)
    assert "保护记者委员会" in chinese  # the entry in the reader's language, as /referrals has it

    # More e-mails, more referrals: the same number of statements (one read for all rows).
    for _ in range(3):
        more = [
            sent_referral(ReferralKind.NGO_REFERRAL, owner=owner, org=org, entry_id="cpj")
            for _ in range(2)
        ]
        reminder_email(owner, more, OutboxStatus.SENT)
        reminder_email(owner, [more[0]], OutboxStatus.FAILED, offset="3d")
    more_rows, html = statements_for(client, "/admin/reminders")
    assert html.count('class="case-ref"') == 3 + 3 * 3
    assert more_rows == one_page


def test_reminder_columns_say_recipient_and_sent_in_chinese(
    app: Flask, client: FlaskClient
) -> None:
    owner = make_user(Role.CASEWORKER)
    referral = sent_referral(owner=owner)
    reminder_email(owner, [referral], OutboxStatus.SENT)
    reminder_email(owner, [sent_referral(owner=owner)], OutboxStatus.FAILED, offset="1d")
    sign_in(client, make_user(Role.ADMIN))
    expected = {"zh_Hans": ("收件人", "已发送"), "zh_Hant": ("收件人", "已寄出")}
    for locale, (recipient, sent) in expected.items():
        html = client.get(f"/admin/reminders?lang={locale}").get_data(as_text=True)
        headers = re.findall(r'<th scope="col">([^<]*)</th>', html)
        assert headers.count(recipient) == 2, (locale, headers)
        assert sent in headers, (locale, headers)
        for wrong in ("转介对象", "轉介對象", "已提交"):
            assert wrong not in headers, (locale, headers)
        # "To" is still the referral's target on /referrals.
        listing = client.get(f"/referrals/?view=all&lang={locale}").get_data(as_text=True)
        target = "转介对象" if locale == "zh_Hans" else "轉介對象"
        assert f'<th scope="col">{target}</th>' in listing
    html = client.get("/admin/reminders?lang=en").get_data(as_text=True)
    assert '<th scope="col">To</th>' in html
    assert '<th scope="col">Sent</th>' in html


def _halted(page: str) -> str:
    found = re.search(r"<div class=\"notice[^\"]*\" data-reminders-halted>(.*?)</div>", page, re.S)
    return re.sub(r"\s+", " ", found.group(1)) if found else ""


def test_reminders_not_going_out_is_said_where_deadlines_are_watched(
    app: Flask, client: FlaskClient
) -> None:
    """/admin listed "Worker: not seen yet" as a plain bullet beside "0 e-mails are waiting"
    while referrals went overdue: nothing said reminders were not being sent."""
    from intake.services import heartbeats

    make_org_key()
    admin = make_user(Role.ADMIN)
    sign_in(client, admin)
    # The queue too, where an admin lands after signing in (it was said only on /admin,
    # below its checklist, out of sight: an admin's walkthrough).
    for path in ("/admin/", "/admin/reminders", "/referrals/", "/cases/"):
        said = _halted(client.get(path).get_data(as_text=True))
        assert "Reminder e-mails are not being sent." in said, path
        assert "Deadlines are not being checked." in said, path
        # In words for an admin who does not run the server.
        assert "Tell whoever runs your Refuge server to start its worker" in said, path

    with db.engine.begin() as connection:  # the worker runs; beat stopped ten minutes ago
        heartbeats.record(connection, "worker")
        heartbeats.record(connection, "beat", utcnow() - timedelta(minutes=10))
    said = _halted(client.get("/referrals/").get_data(as_text=True))
    assert "Reminder e-mails are not being sent." not in said
    assert "Deadlines are not being checked." in said

    caseworker = make_user(Role.CASEWORKER)
    client.post("/auth/logout")
    sign_in(client, caseworker)
    said = _halted(client.get("/referrals/?lang=zh_Hant").get_data(as_text=True))
    assert "目前沒有檢查期限。" in said
    assert "請告訴管理員。" in said
    assert "README" not in said
    # The queue says it to admins only: a caseworker has the due dates of /referrals.
    assert "data-reminders-halted" not in client.get("/cases/").get_data(as_text=True)

    with db.engine.begin() as connection:  # both run: nothing is said
        heartbeats.record(connection, "beat")
    assert "data-reminders-halted" not in client.get("/referrals/").get_data(as_text=True)
