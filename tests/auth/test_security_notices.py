"""Security events are e-mailed, not only audited: a sign-in with a recovery code, a new
authenticator app, a reset by the operator or an admin, the recovery kit used, a second factor
added or removed, someone made an admin. Each writes one outbox row per person to tell (the
account's holder and every active admin) in the transaction of the change, and the reminders'
delivery mails each once over real SMTP on loopback: what happened, to which account, when in
the organisation's time zone, and what to do — no case content, no code, no link token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from webauthn.helpers import bytes_to_base64url

from intake import clock
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, OutboxStatus, Passkey, ReminderOutbox, Role, User
from intake.services import passkeys, reminders, second_factor, settings
from intake.services.settings import org_zone
from intake.services.transactions import transaction
from tests.auth.helpers import csrf_token, post_code, post_password
from tests.builders import make_case, make_org_key, make_staff_with_keys, make_user, sign_in
from tests.conftest import Untranslated
from tests.mailserver import MailServer, Received

CANARY = "CANARY-taken-from-the-courthouse-4W"
BASE = "https://refuge.example.org"
FOOTER = "Refuge never puts case details, codes or passwords in an e-mail."
NOTICE = "security"  # ReminderOutbox.kind of a security notice


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mail_app(
    request: pytest.FixtureRequest, make_app: Any, smtp_server: MailServer
) -> Iterator[Flask]:
    app = make_app(
        request.param,
        DAILY_DIGEST=False,
        PUBLIC_BASE_URL=BASE,
        KEY_WRAP_OPS_LIMIT=1,
        KEY_WRAP_MEM_LIMIT=8192,
        **smtp_server.config(),
    )
    with app.app_context():
        yield app


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The send tasks queued (their outbox ids), instead of the memory broker's silence."""
    queued: list[list[int]] = []
    monkeypatch.setattr(reminders, "enqueue_send_many", lambda ids: queued.append(list(ids)))
    return queued


@dataclass
class Office:
    """A small organisation: who is told, and who is not."""

    holder: User  # a caseworker, the account things happen to
    admin: User
    other_admin: User
    gone_admin: User  # deactivated: never told
    viewer: User  # not an admin: told only of their own account
    case_ref: str

    def told(self, *extra: User) -> set[str]:
        return {self.holder.email, self.admin.email, self.other_admin.email} | {
            user.email for user in extra
        }


@pytest.fixture
def office(mail_app: Flask) -> Office:
    org = make_org_key()
    holder = make_user(Role.CASEWORKER, email="holder@example.org")
    admin = make_user(Role.ADMIN, email="admin@example.org")
    settings.set_timezone("Asia/Taipei", admin)
    other_admin = make_user(Role.ADMIN, email="other-admin@example.org")
    gone_admin = make_user(Role.ADMIN, email="gone-admin@example.org")
    gone_admin.is_active_account = False
    viewer = make_user(Role.VIEWER, email="viewer@example.org")
    case = make_case(org, answers={"what_happened": CANARY}, assignee_id=holder.id)
    db.session.commit()
    return Office(holder, admin, other_admin, gone_admin, viewer, case.ref)


def notices() -> list[ReminderOutbox]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(ReminderOutbox)
            .where(ReminderOutbox.kind == NOTICE)
            .order_by(ReminderOutbox.id)
        )
    )


def deliver(smtp_server: MailServer) -> dict[str, Received]:
    """Send every pending notice through the reminders' delivery (as the queued task does),
    once more to show that nothing goes twice, and return the e-mails by recipient."""
    pending = [row.id for row in notices() if row.status == OutboxStatus.PENDING]
    before = len(smtp_server.messages)
    outcomes = reminders.send_many(pending)
    assert set(outcomes.values()) <= {"sent"}, outcomes
    assert reminders.send_many(pending) == {}  # sent: claimed by nobody again
    mails = smtp_server.messages[before:]
    assert len(mails) == len(pending) == len(outcomes)
    by_recipient: dict[str, Received] = {}
    for mail in mails:
        (recipient,) = mail.recipients
        assert recipient not in by_recipient, f"two e-mails to {recipient}"
        by_recipient[recipient] = mail
    assert all(row.status == OutboxStatus.SENT for row in notices())
    return by_recipient


def subject(mail: Received) -> str:
    return str(make_header(decode_header(mail.message["Subject"])))


def event(action: str) -> AuditEvent:
    found = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()
    assert found is not None, action
    return found


def when(action: str) -> str:
    return clock.local_text(event(action).at, zone=org_zone(), locale="en")


def assert_tells_nothing_secret(office: Office, mails: dict[str, Received], *secrets: str) -> None:
    for mail in mails.values():
        text = mail.body + subject(mail)
        assert CANARY not in mail.text
        assert office.case_ref not in text  # not even a case's reference
        assert "detention" not in text
        assert "127.0.0.1" not in mail.text  # no address of whoever did it
        for secret in secrets:
            assert secret not in mail.text, secret
        assert FOOTER in mail.body
        assert "(Taipei, UTC+8)" in mail.body  # the organisation's time zone


# --- each event, through the path a person takes --------------------------------------------


def test_a_sign_in_with_a_recovery_code_mails_the_holder_and_every_active_admin_once(
    mail_app: Flask, office: Office, smtp_server: MailServer, sent_tasks: list[list[int]]
) -> None:
    codes = second_factor.regenerate_recovery_codes(office.holder)
    assert notices() == []  # new codes are not one of the events told
    client = mail_app.test_client()
    assert post_password(client, office.holder.email).status_code == 302
    assert post_code(client, codes[2]).status_code == 302

    rows = notices()
    assert {row.recipient_id for row in rows} == {
        office.holder.id,
        office.admin.id,
        office.other_admin.id,
    }
    assert sent_tasks == [[row.id for row in rows]]  # one send task, after the commit
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    mine = mails[office.holder.email]
    assert subject(mine) == "Refuge security notice: recovery code used"
    assert "A recovery code was used to sign in." in mine.body
    assert f"Account: {office.holder.email}" in mine.body
    assert f"When: {when('auth.recovery_code_used')}" in mine.body
    assert "By:" not in mine.body  # the holder's own sign-in
    assert "tell an admin of your organisation at once" in mine.body
    assert f"Your account: {BASE}/auth/account" in mine.body
    admins = mails[office.admin.email]
    assert (
        f"deactivate the account of {office.holder.email} at once: {BASE}/admin/users"
        in admins.body
    )
    assert "Your account" not in admins.body
    assert mails[office.other_admin.email].body == admins.body
    assert_tells_nothing_secret(office, mails, *codes, *(code.replace("-", "") for code in codes))


def test_an_admin_told_of_their_own_account_is_not_told_to_tell_an_admin(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    """A lone admin's notice of their own recovery code said "tell an admin of your
    organisation" (an admin's walkthrough): an admin has no admin above them."""
    office.admin.language = "zh_Hans"
    db.session.commit()
    codes = second_factor.regenerate_recovery_codes(office.admin)
    client = mail_app.test_client()
    assert post_password(client, office.admin.email).status_code == 302
    assert post_code(client, codes[0]).status_code == 302
    mails = deliver(smtp_server)
    own = mails[office.admin.email]  # in their language, zh_Hans
    assert "请立即更改密码" in own.body
    assert "如果你是唯一的管理员，请告诉负责运维 Refuge 服务器的人" in own.body
    assert "请立即告知你所属组织的管理员" not in own.body
    # Another admin is told as before: deactivate the account.
    assert "deactivate the account of admin@example.org" in mails[office.other_admin.email].body


def test_a_new_authenticator_app_mails_the_holder_and_the_admins(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    import pyotp

    from tests.builders import login_secrets

    holder = office.holder
    token = second_factor.begin_replacement(holder, login_secrets(holder).auth_secret)
    secret = second_factor.replacement_secret(holder, token)
    second_factor.replace_totp(holder, token, pyotp.TOTP(secret).now())

    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    mine = mails[holder.email]
    assert subject(mine) == "Refuge security notice: authenticator app replaced"
    assert "The authenticator app was replaced with a new one." in mine.body
    assert f"When: {when('auth.totp_replaced')}" in mine.body
    assert_tells_nothing_secret(office, mails, secret, token)


def test_the_operators_resets_on_the_command_line_are_mailed(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-password", office.holder.email])
    assert result.exit_code == 0, result.output
    link_token = re.search(r"/auth/enrol/(\S+)", result.output)
    assert link_token is not None
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    mine = mails[office.holder.email]
    assert subject(mine) == "Refuge security notice: password reset"
    assert "The password and keys were reset, and a new set-up link was made." in mine.body
    assert "By: whoever runs the Refuge server, on its command line" in mine.body
    assert "tell an admin" in mine.body
    assert f"deactivate the account of {office.holder.email}" in mails[office.admin.email].body
    assert_tells_nothing_secret(office, mails, link_token.group(1), "/auth/enrol")

    again = runner.invoke(args=["users", "reset-totp", office.admin.email])
    assert again.exit_code == 0, again.output
    mails = deliver(smtp_server)
    # The admin is the holder here: one e-mail to them, one to the other active admin.
    assert set(mails) == {office.admin.email, office.other_admin.email}
    assert subject(mails[office.admin.email]) == "Refuge security notice: second factor reset"
    # An admin has no admin above them: another admin, or whoever runs the server.
    assert (
        "tell another admin, or whoever runs your Refuge server" in mails[office.admin.email].body
    )
    assert f"deactivate the account of {office.admin.email}" in mails[office.other_admin.email].body


def _confirmed_post(client: FlaskClient, path: str, **fields: str) -> Any:
    token = csrf_token(client, "/admin/users")
    return client.post(path, data={"csrf_token": token, "confirmed": "yes", **fields})


def test_an_admins_resets_of_a_colleague_are_mailed_to_them_the_admin_and_the_others(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    client = mail_app.test_client()
    sign_in(client, office.admin)
    page = _confirmed_post(client, f"/admin/users/{office.holder.id}/reset-password")
    assert page.status_code == 200
    link = re.search(r"/auth/enrol/([^\"<\s]+)", page.get_data(as_text=True))
    assert link is not None
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    holder, actor, other = (
        mails[office.holder.email],
        mails[office.admin.email],
        mails[office.other_admin.email],
    )
    assert f"By: {office.admin.email}" in holder.body
    assert "tell an admin of your organisation" in holder.body
    # The admin who did it hears it too: a stolen admin session shows this way.
    assert "If you did not do this, someone else is using your account" in actor.body
    # The others are told whose accounts to stop: the admin who acted, and the account whose
    # set-up link that admin may now hold.
    assert (
        f"deactivate the accounts of {office.holder.email} and {office.admin.email} at once"
        in other.body
    )
    assert_tells_nothing_secret(office, mails, link.group(1))

    assert _confirmed_post(client, f"/admin/users/{office.holder.id}/reset-totp").status_code == 200
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    assert subject(mails[office.holder.email]) == "Refuge security notice: second factor reset"


def test_making_someone_an_admin_is_mailed_and_other_role_changes_are_not(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    client = mail_app.test_client()
    sign_in(client, office.admin)
    made = _confirmed_post(client, f"/admin/users/{office.viewer.id}/role", role="caseworker")
    assert made.status_code == 302
    assert notices() == []
    made = _confirmed_post(client, f"/admin/users/{office.holder.id}/role", role="admin")
    assert made.status_code == 302
    mails = deliver(smtp_server)
    assert set(mails) == office.told()  # the new admin once, not once more as an admin
    assert subject(mails[office.holder.email]) == "Refuge security notice: made an admin"
    assert (
        f"deactivate the accounts of {office.holder.email} and {office.admin.email} at once"
        in mails[office.other_admin.email].body
    )
    assert_tells_nothing_secret(office, mails)
    # From admin to admin, or away from admin: nothing new to notice.
    demoted = _confirmed_post(client, f"/admin/users/{office.holder.id}/role", role="caseworker")
    assert demoted.status_code == 302
    assert all(row.status == OutboxStatus.SENT for row in notices())


def _fake_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """A passkey's ceremony needs a browser (tests/auth/test_browser_passkeys.py); here the
    library's verdict on it is given, and what the service does with it is what is tested."""

    @dataclass
    class Verified:
        credential_id: bytes = b"credential-of-a-new-key"
        credential_public_key: bytes = b"public-key-bytes"
        sign_count: int = 0

    monkeypatch.setattr(passkeys, "verify_registration_response", lambda **_: Verified())
    monkeypatch.setattr(passkeys, "rp_id", lambda: "refuge.example.org")
    monkeypatch.setattr(passkeys, "expected_origin", lambda: BASE)


def test_second_factors_added_or_removed_are_mailed(
    mail_app: Flask,
    office: Office,
    smtp_server: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = office.holder
    _fake_registration(monkeypatch)
    challenge = bytes_to_base64url(b"a-challenge-of-sixteen-bytes")
    passkey = passkeys.register(holder, "Office key", json.dumps({"id": "x"}), challenge)
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    assert subject(mails[holder.email]) == "Refuge security notice: passkey added"
    assert "A passkey was added." in mails[holder.email].body
    assert_tells_nothing_secret(office, mails, "Office key", passkey.credential_id)

    client = mail_app.test_client()
    sign_in(client, holder)
    token = csrf_token(client, "/auth/account")
    assert client.post("/auth/totp/remove", data={"csrf_token": token}).status_code == 303
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    assert subject(mails[holder.email]) == "Refuge security notice: authenticator app removed"

    spare = Passkey(user_id=holder.id, name="Spare", credential_id="c3BhcmU", public_key="x")
    db.session.add(spare)
    db.session.commit()
    removed = client.post(f"/auth/passkeys/{passkey.id}/remove", data={"csrf_token": token})
    assert removed.status_code in (302, 303)
    mails = deliver(smtp_server)
    assert set(mails) == office.told()
    assert subject(mails[holder.email]) == "Refuge security notice: passkey removed"
    assert f"When: {when('auth.passkey_removed')}" in mails[holder.email].body


@pytest.mark.postgres
def test_the_recovery_kit_used_is_mailed_with_what_to_rotate(
    make_app: Any, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.auth.test_recovery_kit import make_confirmed_kit, recover_body

    app = make_app("postgres", DAILY_DIGEST=False, PUBLIC_BASE_URL=BASE, **smtp_server.config())
    with app.app_context():
        from intake.models import KeyGrant

        org = make_org_key()
        keeper, _secret = make_staff_with_keys(Role.ADMIN, org, email="keeper@example.org")
        kit, kit_secret = make_confirmed_kit(keeper, org)
        db.session.execute(sa.update(KeyGrant).values(revoked_at=sa.func.now()))
        db.session.commit()
        user, _ = make_staff_with_keys(Role.ADMIN, email="recovering@example.org")
        holder = make_user(Role.CASEWORKER, email="holder@example.org")
        client = app.test_client()
        sign_in(client, user)
        body = recover_body(kit, kit_secret, user, client)
        response = client.post(
            "/recover", data={"csrf_token": csrf_token(client, "/recover"), **body}
        )
        assert response.status_code == 201, response.data

        mails = deliver(smtp_server)
        assert set(mails) == {user.email, keeper.email}  # not the caseworker
        assert holder.email not in mails
        mine = mails[user.email]
        assert subject(mine) == "Refuge security notice: recovery kit used"
        assert "The organisation's recovery kit was used" in mine.body
        assert f"Account: {user.email}" in mine.body
        assert "tell another admin, or whoever runs your Refuge server" in mine.body  # an admin
        keepers = mails[keeper.email].body
        assert f"deactivate the account of {user.email} at once: {BASE}/admin/users" in keepers
        assert (
            f"Then rotate the organisation key and make a new recovery kit: {BASE}/admin/keys"
            in keepers
        )
        for mail in mails.values():
            for secret in (body["proof"], body["grants"], kit.public_key, body["sealed_to"]):
                assert secret not in mail.text
            assert "127.0.0.1" not in mail.text
            assert FOOTER in mail.body


# --- the transaction ------------------------------------------------------------------------


def test_a_change_that_rolls_back_queues_and_sends_nothing(
    mail_app: Flask, office: Office, smtp_server: MailServer, sent_tasks: list[list[int]]
) -> None:
    holder = office.holder
    db.session.add(Passkey(user_id=holder.id, name="key", credential_id="a2V5", public_key="x"))
    db.session.commit()
    written: list[int] = []

    def change_then_fail() -> None:
        with transaction():
            second_factor.remove_totp(holder)  # audited and noticed in this transaction …
            written.extend(notices_in_this_transaction())
            raise RuntimeError("… which a later step then fails")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert len(written) == 3
    assert notices() == []
    assert sent_tasks == []
    db.session.refresh(holder)
    assert holder.totp_secret  # the change itself did not happen either
    # The next commit, of something else, queues nothing left over from it.
    settings.set_timezone("Europe/Paris", office.admin)
    assert sent_tasks == []
    assert reminders.scan().queued == 0
    assert smtp_server.messages == []


def notices_in_this_transaction() -> list[int]:
    return list(
        db.session.scalars(sa.select(ReminderOutbox.id).where(ReminderOutbox.kind == NOTICE))
    )


def test_the_send_task_is_queued_only_once_the_change_is_committed(
    mail_app: Flask, office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def committed_when_queued(ids: list[int]) -> None:
        # Another connection, as a worker's: the rows must be there when the task arrives.
        with db.engine.connect() as worker:
            seen.append(
                worker.scalar(
                    sa.select(sa.func.count())
                    .select_from(ReminderOutbox)
                    .where(ReminderOutbox.id.in_(ids))
                )
                or 0
            )

    monkeypatch.setattr(reminders, "enqueue_send_many", committed_when_queued)
    client = mail_app.test_client()
    sign_in(client, office.admin)
    assert _confirmed_post(client, f"/admin/users/{office.holder.id}/reset-totp").status_code == 200
    assert seen == [3]


def test_with_the_broker_down_the_change_stands_and_the_scan_sends_the_notices(
    mail_app: Flask, office: Office, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(_ids: list[int]) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(reminders, "enqueue_send_many", refused)
    client = mail_app.test_client()
    sign_in(client, office.admin)
    assert _confirmed_post(client, f"/admin/users/{office.holder.id}/reset-totp").status_code == 200
    assert [row.status for row in notices()] == [OutboxStatus.PENDING] * 3
    queued: list[int] = []
    later = utcnow() + timedelta(seconds=mail_app.config["REMINDER_REQUEUE_SECONDS"] + 1)
    assert reminders.scan(later, enqueue=queued.append).queued == 3
    for outbox_id in queued:
        assert reminders.send(outbox_id) == "sent"
    assert {mail.recipients[0] for mail in smtp_server.wait_for(3)} == office.told()


def test_a_notice_to_someone_deactivated_before_it_went_is_not_sent(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    mail_app.test_cli_runner().invoke(args=["users", "reset-totp", office.holder.email])
    office.other_admin.is_active_account = False
    db.session.commit()
    pending = [row.id for row in notices()]
    outcomes = reminders.send_many(pending)
    assert sorted(outcomes.values()) == ["cancelled", "sent", "sent"]
    assert {mail.recipients[0] for mail in smtp_server.messages} == {
        office.holder.email,
        office.admin.email,
    }


# --- language, and the admin's list of e-mails ------------------------------------------------


def test_each_notice_comes_in_its_recipients_staff_language(
    mail_app: Flask, office: Office, smtp_server: MailServer, untranslated: Untranslated
) -> None:
    office.holder.language = "zh_Hant"
    office.admin.language = "zh_Hans"
    office.other_admin.language = "zh_Hant"
    db.session.commit()
    client = mail_app.test_client()
    sign_in(client, office.admin)
    untranslated.clear()
    assert _confirmed_post(client, f"/admin/users/{office.holder.id}/reset-totp").status_code == 200
    untranslated.clear()
    mails = deliver(smtp_server)
    assert not untranslated.messages, sorted(untranslated.messages)
    holder = mails[office.holder.email]
    assert subject(holder) == "Refuge 安全通知：第二驗證因素已重設"
    assert f"帳號：{office.holder.email}" in holder.body
    assert f"操作者：{office.admin.email}" in holder.body
    assert "請立即告知你所屬組織的管理員" in holder.body
    assert "時間：" in holder.body
    assert "台北" in holder.body
    actor = mails[office.admin.email]
    assert subject(actor) == "Refuge 安全通知：第二验证因素已重设"
    assert "有其他人正在使用你的账号" in actor.body
    assert "Refuge 绝不会在电子邮件中放入案件内容" in actor.body
    other = mails[office.other_admin.email]
    assert (
        f"請立即停用 {office.holder.email} 與 {office.admin.email} 的帳號：{BASE}/admin/users"
        in other.body
    )
    for mail in mails.values():
        assert "您" not in mail.body  # staff Chinese says 你


def test_the_admins_list_of_sent_e_mails_names_a_security_notice(
    mail_app: Flask, office: Office, smtp_server: MailServer
) -> None:
    mail_app.test_cli_runner().invoke(args=["users", "reset-totp", office.holder.email])
    deliver(smtp_server)
    client = mail_app.test_client()
    sign_in(client, office.admin)
    page = client.get("/admin/reminders").get_data(as_text=True)
    sent = page[page.index("data-sent-reminders") :]
    assert sent.count("Security notice") == 3
    assert "Daily digest" not in sent
    chinese = client.get("/admin/reminders?lang=zh_Hant").get_data(as_text=True)
    assert "安全通知" in chinese
