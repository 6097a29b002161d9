"""The reminder e-mail written as bytes (intake.services.delivery.PlainMail) reads, in a mail
client, exactly as the message Flask-Mailman writes for the same parts."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message

import pytest
from flask import Flask

from intake.services.delivery import PlainMail, header_address

SUBJECTS = [
    "Refuge reminders: 3 referrals, first due 2026-12-09",
    "Refuge 提醒：3 個轉介，最早到期 2026-12-09",
    "Напоминания Refuge: 3 направления, первое к сроку 2026-12-09, и ещё немного текста",
    "تذكيرات Refuge: 3 إحالات",
]
BODIES = [
    "Referrals that need you: 3\n\nReference: case RF-1, referral 2\nOpen: https://x/r/2\n",
    "需要你處理的轉介：3\n\n參考：案件 RF-1\n此郵件不含任何案件內容。",
    "long line " * 150 + "é",  # longer than RFC 5322's 998 octets: quoted-printable
]
ADDRESSES = ["cw1@example.org", "Zoë Caseworker <zoe@exämple.org>", "Refuge <refuge@localhost>"]


def _headers(message: Message) -> dict[str, str]:
    return {
        name: str(make_header(decode_header(str(message[name]))))
        for name in ("Subject", "From", "To", "Message-ID", "Content-Type", "MIME-Version")
    }


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("address", ADDRESSES)
def test_plain_mail_reads_as_flask_mailman_writes_it(
    make_app: Callable[..., Flask], subject: str, body: str, address: str
) -> None:
    with make_app("sqlite").app_context():
        mail = PlainMail(
            sender=header_address(ADDRESSES[2]),
            recipient=header_address(address),
            subject=subject,
            body=body,
            message_id="<outbox-7.batch.3.7@refuge>",
        )
        ours = message_from_bytes(mail.as_bytes())
        theirs = message_from_bytes(mail.as_email_message(None).message().as_bytes(linesep="\r\n"))
    assert _headers(ours) == _headers(theirs)
    assert ours["Content-Transfer-Encoding"] == theirs["Content-Transfer-Encoding"]
    assert ours.get_payload(decode=True) == theirs.get_payload(decode=True)
    raw = mail.as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, as on the wire
    assert all(len(word) <= 75 for word in raw.split() if word.startswith(b"=?"))
    assert str(ours["Date"]).endswith(" +0000")  # UTC, not "-0000": zone unknown


@pytest.mark.parametrize("field", ["subject", "recipient", "sender", "message_id"])
def test_plain_mail_refuses_a_line_break_in_any_header(field: str) -> None:
    parts = {
        "sender": "refuge@localhost",
        "recipient": "cw@example.org",
        "subject": "Refuge reminders",
        "body": "text",
        "message_id": "<a@b>",
    }
    parts[field] += "\r\nBcc: someone@example.org"
    with pytest.raises(ValueError, match="line break"):
        PlainMail(**parts)
