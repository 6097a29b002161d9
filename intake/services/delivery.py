"""How a reminder e-mail's delivery went, and what happens to rows that could not be delivered.

A mail server's refusal is final only when it is about the recipient's own mailbox (5.1.x
"no such user", 5.2.x "mailbox disabled"): sending again cannot help. Everything else — 4xx,
5.7.x policy ("relay not permitted"), authentication, a refused sender, a dead or silent server
— is usually our own configuration or a passing fault, so it is retried for
``REMINDER_RETRY_HOURS`` and only then fails the row. A failed row is never silent: it is
counted in /healthz and the admin's digest, shown on the referral pages, and an admin can send
it again once the settings are fixed (:func:`resend_failed`). Nor are the retries before it:
:func:`mail_failing` says since when, how many wait and why, for the admin pages at once.

A server that takes the whole message but never answers the final "250" may have delivered
it. Such an attempt is *unacknowledged*; the row is tried once more (same ``Message-ID``) and,
if that is unacknowledged too, fails instead of risking a third copy: at most one duplicate.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import quopri
import re
import smtplib
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app
from flask_mailman import EmailMessage
from flask_mailman.backends.smtp import EmailBackend as SMTPBackend
from flask_mailman.message import sanitize_address

from intake.db import utcnow
from intake.extensions import db, mail
from intake.models import OutboxStatus, ReminderOutbox, User
from intake.services import audit, security_notices

# Attempts that may each have delivered the message; the row stops after this many.
MAX_UNACKNOWLEDGED = 2
# Why :func:`gives_up` ends a row's retries. A failed row's ``last_error`` is the exception's
# class name alone for a refused mailbox, else "<class name>; <reason>" (the send task writes
# it so; :func:`failure_of` reads it back).
MAILBOX_REFUSED = "refused"
NO_ACKNOWLEDGEMENT = "NoAcknowledgement"
RETRY_WINDOW_OVER = "retry window over"

_ENHANCED_STATUS = re.compile(rb"\s*([245])\.(\d{1,3})\.(\d{1,3})")


class Outcome(enum.Enum):
    RETRY = "retry"  # nothing reached the recipient; try again later
    UNACKNOWLEDGED = "unacknowledged"  # the message went over, the "250" never came
    PERMANENT = "permanent"  # the recipient's mailbox was refused


class _TrackingMixin:
    """Remembers whether the message itself went over the wire (``data`` sends it as one
    bytes payload ending in CRLF . CRLF; commands are text)."""

    message_transmitted = False

    def send(self, s: Any) -> None:
        super().send(s)  # type: ignore[misc]
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_transmitted = True


class TrackingSMTP(_TrackingMixin, smtplib.SMTP):
    pass


class TrackingSMTPSSL(_TrackingMixin, smtplib.SMTP_SSL):
    pass


class TrackingSMTPBackend(SMTPBackend):
    """Flask-Mailman's SMTP backend over :class:`TrackingSMTP`."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return TrackingSMTPSSL if self.use_ssl else TrackingSMTP


# A Celery worker process keeps its SMTP session between send tasks, as a bare sender keeps
# one for all its messages (issue 14): a task then costs one NOOP instead of a connection,
# EHLO and QUIT. Only while idle for less than this; the worker's shutdown ends it (QUIT).
KEEP_SESSION_SECONDS = 60.0


class _Kept:
    """This process's kept SMTP session: off until a worker process turns it on."""

    enabled = False
    backend: Any = None
    key: tuple[Any, ...] | None = None
    used_at = 0.0


def keep_sessions() -> None:
    """Keep one SMTP session per process across send tasks (called in each worker process)."""
    _Kept.enabled = True


def end_kept_session() -> None:
    """Close the kept session politely (worker shutdown); safe to call at any time."""
    backend, _Kept.backend, _Kept.key = _Kept.backend, None, None
    if backend is not None:
        _close(backend)


def _session_key() -> tuple[Any, ...]:
    config = current_app.config
    return tuple(
        config.get(name)
        for name in (
            "MAIL_SERVER",
            "MAIL_PORT",
            "MAIL_USERNAME",
            "MAIL_PASSWORD",
            "MAIL_USE_TLS",
            "MAIL_USE_SSL",
            "MAIL_TIMEOUT",
        )
    )


def _alive(backend: Any) -> bool:
    """One NOOP round trip: is the kept session still answered? (The server may have dropped
    it while idle, or been restarted; a reply other than 250 also means: start afresh.)"""
    smtp = getattr(backend, "connection", None)
    if smtp is None:
        return False
    try:
        code, _text = smtp.noop()
    except (OSError, smtplib.SMTPException, ssl.SSLError):
        return False
    return bool(code == 250)


def connection() -> Any:
    """A mail connection for one send task: the tracking SMTP backend when mail goes over SMTP,
    else the configured backend (files in instance/outbox, memory in tests). In a worker process
    (:func:`keep_sessions`) it is the session kept from the previous task, if the server still
    answers it; hand it back with :func:`close_session`."""
    if current_app.config.get("MAIL_BACKEND") != "smtp":
        return mail.get_connection(fail_silently=False)
    if _Kept.enabled:
        backend, _Kept.backend = _Kept.backend, None
        if backend is not None:
            fresh = time.monotonic() - _Kept.used_at < KEEP_SESSION_SECONDS
            if fresh and _Kept.key == _session_key() and _alive(backend):
                return backend
            _close(backend)
    return mail.get_connection(backend=TrackingSMTPBackend, fail_silently=False)


def close_quietly(backend: Any) -> None:
    """Drop a connection left open by a failed send (the server may be gone already)."""
    smtp = getattr(backend, "connection", None)
    if smtp is None:
        return
    with contextlib.suppress(OSError, smtplib.SMTPException, ssl.SSLError):
        smtp.close()
    backend.connection = None


def _mailbox_refused(code: int, text: bytes | str) -> bool:
    """A 5xx whose enhanced status code (RFC 3463) is about the recipient's mailbox."""
    if not 500 <= code < 600:
        return False
    raw = text.encode() if isinstance(text, str) else text
    status = _ENHANCED_STATUS.match(raw)
    return status is not None and status.group(1) == b"5" and status.group(2) in (b"1", b"2")


def outcome_of(error: BaseException, backend: Any = None) -> Outcome:
    """Sort a failed send: final only for a refused mailbox; otherwise worth another try."""
    smtp = getattr(backend, "connection", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
        if replies and all(_mailbox_refused(code, text) for code, text in replies):
            return Outcome.PERMANENT
        return Outcome.RETRY
    if isinstance(
        error,
        smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError | smtplib.SMTPHeloError,
    ):
        return Outcome.RETRY  # our own configuration: an admin fixes it, the retry delivers
    if isinstance(error, smtplib.SMTPResponseException):
        if _mailbox_refused(error.smtp_code, error.smtp_error):
            return Outcome.PERMANENT
        return Outcome.RETRY
    if getattr(smtp, "message_transmitted", False):
        # The whole message went over and no answer came back: it may have been delivered.
        return Outcome.UNACKNOWLEDGED
    return Outcome.RETRY


def is_configuration_error(error: BaseException) -> bool:
    return isinstance(
        error,
        smtplib.SMTPAuthenticationError
        | smtplib.SMTPSenderRefused
        | smtplib.SMTPNotSupportedError
        | smtplib.SMTPHeloError,
    ) or (isinstance(error, smtplib.SMTPResponseException) and b"5.7." in _raw(error))


def _raw(error: smtplib.SMTPResponseException) -> bytes:
    text = error.smtp_error
    return text.encode() if isinstance(text, str) else text


class Failure(enum.Enum):
    """Why a failed row could not be e-mailed, as an admin needs to know it to act."""

    MAILBOX_REFUSED = "mailbox_refused"  # the address does not exist: correct it
    NOT_ACKNOWLEDGED = "not_acknowledged"  # went over twice, no "250": may have arrived
    SETTINGS_OR_SERVER = "settings_or_server"  # our settings, or the server was unreachable


_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAILBOX_STATUS = re.compile(r"\b5\.[12]\.\d{1,3}\b")


def failure_of(last_error: str | None) -> Failure:
    """Sort a failed row by what is stored of it (nothing else is kept): an exception's class
    name alone means :func:`gives_up` found the mailbox refused; "; NoAcknowledgement" that
    two copies went unanswered; anything else (the retry window over, or a server's reply
    stored by an older version) is about our settings or a server we could not reach, unless
    that reply's enhanced status code is about the mailbox (5.1.x, 5.2.x)."""
    text = (last_error or "").strip()
    # Alone when a send task found the row's two unanswered attempts before trying a third.
    if text == NO_ACKNOWLEDGEMENT or text.endswith("; " + NO_ACKNOWLEDGEMENT):
        return Failure.NOT_ACKNOWLEDGED
    if text.endswith("; " + RETRY_WINDOW_OVER):
        return Failure.SETTINGS_OR_SERVER
    if _CLASS_NAME.fullmatch(text) or _MAILBOX_STATUS.search(text):
        return Failure.MAILBOX_REFUSED
    return Failure.SETTINGS_OR_SERVER


def retry_window() -> timedelta:
    return timedelta(hours=int(current_app.config["REMINDER_RETRY_HOURS"]))


class Attempted(Protocol):
    """What :func:`gives_up` reads of a row: an outbox row, or a send task's claimed copy."""

    @property
    def unacknowledged(self) -> int: ...
    @property
    def failing_since(self) -> datetime | None: ...


def gives_up(row: Attempted, outcome: Outcome, now: datetime) -> str | None:
    """Why this failed attempt ends the row's retries, or None to try again later."""
    if outcome is Outcome.PERMANENT:
        return MAILBOX_REFUSED
    if outcome is Outcome.UNACKNOWLEDGED and row.unacknowledged + 1 >= MAX_UNACKNOWLEDGED:
        return NO_ACKNOWLEDGEMENT
    if now - (row.failing_since or now) >= retry_window():
        return RETRY_WINDOW_OVER
    return None


# --- the message itself ---------------------------------------------------------------------------

# An address that needs no encoding or parsing: local@domain in ASCII, no display name.
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"\\@]+@[^\s<>()\[\],;:\"\\@]+")
# RFC 2047: an encoded word is at most 75 characters; 45 bytes are 60 in base64, 72 with the
# "=?utf-8?b?" … "?=" around them.
_ENCODED_WORD_BYTES = 45
# RFC 5322: no line of a message may be longer than 998 octets (then quoted-printable).
_LINE_LIMIT = 998


def header_address(address: str) -> str:
    """``address`` as a header and envelope may carry it: a plain ASCII address as it is,
    anything else (a display name, an internationalised domain) through Flask-Mailman."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return str(sanitize_address(address, "utf-8"))


def _encoded_words(text: str) -> str:
    """A header value in ASCII: as it is, or as RFC 2047 base64 words of whole characters."""
    if text.isascii():
        return text
    words: list[bytes] = []
    word = b""
    for character in text:
        encoded = character.encode()
        if len(word) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(word)
            word = b""
        word += encoded
    words.append(word)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


@dataclass(frozen=True)
class PlainMail:
    """One plain-text e-mail, written out as bytes by :meth:`as_bytes` (issue 14: building it
    with the ``email`` package's policies and Flask-Mailman's address parsing took a third of
    a send task's time). The same headers as Flask-Mailman writes; ``sender`` and
    ``recipient`` as :func:`header_address` gives them."""

    sender: str
    recipient: str
    subject: str
    body: str
    message_id: str

    def __post_init__(self) -> None:
        for value in (self.sender, self.recipient, self.subject, self.message_id):
            if "\n" in value or "\r" in value:
                raise ValueError("a header value cannot contain a line break")

    def as_bytes(self) -> bytes:
        payload = self.body.encode()
        if max(map(len, payload.split(b"\n"))) > _LINE_LIMIT:
            encoding, payload = "quoted-printable", quopri.encodestring(payload)
        else:
            encoding = "7bit" if payload.isascii() else "8bit"
        head = (
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            f"Content-Transfer-Encoding: {encoding}",
            f"Subject: {_encoded_words(self.subject)}",
            f"From: {self.sender}",
            f"To: {self.recipient}",
            # "+0000": RFC 5322 reads formatdate()'s "-0000" as "local time zone unknown".
            f"Date: {format_datetime(utcnow())}",
            f"Message-ID: {self.message_id}",
        )
        return "\r\n".join(head).encode() + b"\r\n\r\n" + payload.replace(b"\n", b"\r\n")

    def as_email_message(self, backend: Any) -> EmailMessage:
        """The same e-mail for Flask-Mailman's other backends (files, memory)."""
        return EmailMessage(
            subject=self.subject,
            body=self.body,
            from_email=self.sender,
            to=[self.recipient],
            headers={"Message-ID": self.message_id},
            connection=backend,
        )


def transmit(backend: Any, mail: PlainMail) -> None:
    """Send ``mail``: its bytes over the open SMTP session (:func:`open_session`), else through
    the configured Flask-Mailman backend."""
    smtp = getattr(backend, "connection", None)
    if isinstance(backend, TrackingSMTPBackend) and smtp is not None:
        options = current_app.config.get("MAIL_SEND_OPTIONS") or []
        smtp.sendmail(mail.sender, [mail.recipient], mail.as_bytes(), mail_options=options)
    else:
        mail.as_email_message(backend).send(fail_silently=False)


# --- failed rows: counted, listed, sent again ----------------------------------------------------


# An e-mail is a batch or a digest; a batch's items fail with it and are not counted again.
_AN_EMAIL = ReminderOutbox.is_email()


def failed_count() -> int:
    """E-mails that could not be delivered (security notices included: :func:`failed_emails`
    counts them apart)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ReminderOutbox)
            .where(ReminderOutbox.status == OutboxStatus.FAILED, _AN_EMAIL)
        )
        or 0
    )


@dataclass(frozen=True)
class FailedEmails:
    """E-mails that could not be delivered, as people name them: security notices (to do with
    accounts: intake.services.security_notices) apart from the reminders (deadline reminders,
    with the digests and follow-up notices that go the same way)."""

    reminders: int
    security_notices: int

    @property
    def total(self) -> int:
        return self.reminders + self.security_notices


def failed_emails() -> FailedEmails:
    """:func:`failed_count`, told apart by kind (one statement)."""
    notice = sa.case((ReminderOutbox.kind == security_notices.KIND, 1), else_=0)
    total, notices = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(notice), 0)).where(
            ReminderOutbox.status == OutboxStatus.FAILED, _AN_EMAIL
        )
    ).one()
    return FailedEmails(reminders=int(total) - int(notices), security_notices=int(notices))


def failed_rows(limit: int = 200) -> list[ReminderOutbox]:
    return list(
        db.session.scalars(
            sa.select(ReminderOutbox)
            .where(ReminderOutbox.status == OutboxStatus.FAILED, _AN_EMAIL)
            .order_by(ReminderOutbox.id)
            .limit(limit)
        )
    )


def recently_sent(limit: int = 20) -> list[ReminderOutbox]:
    """The e-mails sent last (batches and digests), newest first: what the admin page shows
    as proof that reminders do go out."""
    return list(
        db.session.scalars(
            sa.select(ReminderOutbox)
            .where(ReminderOutbox.status == OutboxStatus.SENT, _AN_EMAIL)
            .order_by(ReminderOutbox.sent_at.desc(), ReminderOutbox.id.desc())
            .limit(limit)
        )
    )


def waiting_count() -> int:
    """E-mails written by a scan and not sent yet (being sent included)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ReminderOutbox)
            .where(
                ReminderOutbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                _AN_EMAIL,
            )
        )
        or 0
    )


# --- the mail server not taking e-mail now: said at once, not after REMINDER_RETRY_HOURS ------


def mail_server() -> str:
    """The configured mail server as ``host:port`` (``[::1]:25`` for an IPv6 address): what
    the admin pages and the worker's log name. Never the account (MAIL_USERNAME/PASSWORD)."""
    config = current_app.config
    host = str(config.get("MAIL_SERVER") or "")
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{config.get('MAIL_PORT')}"


class MailFault(enum.Enum):
    """Why e-mails are being retried, from the error their last attempt stored (the
    exception's class name: ``reminders._transmit``), as an admin acts on it."""

    CONNECTION_REFUSED = "connection_refused"  # nothing listens there: server or port
    NO_ANSWER = "no_answer"  # MAIL_TIMEOUT passed without a reply
    UNREACHABLE = "unreachable"  # no route to the host
    HOST_NOT_FOUND = "host_not_found"  # MAIL_SERVER is not a name the DNS knows
    CONNECTION_LOST = "connection_lost"  # the server hung up
    SECURE_CONNECTION = "secure_connection"  # TLS failed: MAIL_USE_TLS / MAIL_USE_SSL / port
    NOT_OFFERED = "not_offered"  # the server offers no STARTTLS or sign-in as configured
    SIGN_IN_REFUSED = "sign_in_refused"  # MAIL_USERNAME / MAIL_PASSWORD
    SENDER_REFUSED = "sender_refused"  # MAIL_DEFAULT_SENDER
    RECIPIENT_REFUSED = "recipient_refused"  # e.g. "relay not permitted", or 4xx for a mailbox
    MESSAGE_REFUSED = "message_refused"  # a 4xx/5.7.x answer to the message itself
    OTHER = "other"

    @property
    def about_the_server(self) -> bool:
        """True when no e-mail at all can get through (connection, TLS, sign-in, sender);
        False when the server answered and refused these e-mails (others may go)."""
        return self not in (MailFault.RECIPIENT_REFUSED, MailFault.MESSAGE_REFUSED)


_FAULTS = {
    "ConnectionRefusedError": MailFault.CONNECTION_REFUSED,
    "SMTPConnectError": MailFault.CONNECTION_REFUSED,
    "TimeoutError": MailFault.NO_ANSWER,
    "timeout": MailFault.NO_ANSWER,
    "OSError": MailFault.UNREACHABLE,
    "ConnectionError": MailFault.UNREACHABLE,
    "gaierror": MailFault.HOST_NOT_FOUND,
    "herror": MailFault.HOST_NOT_FOUND,
    "SMTPServerDisconnected": MailFault.CONNECTION_LOST,
    "ConnectionResetError": MailFault.CONNECTION_LOST,
    "ConnectionAbortedError": MailFault.CONNECTION_LOST,
    "BrokenPipeError": MailFault.CONNECTION_LOST,
    "SSLError": MailFault.SECURE_CONNECTION,
    "SSLCertVerificationError": MailFault.SECURE_CONNECTION,
    "SSLEOFError": MailFault.SECURE_CONNECTION,
    "SSLZeroReturnError": MailFault.SECURE_CONNECTION,
    "SMTPNotSupportedError": MailFault.NOT_OFFERED,
    "SMTPAuthenticationError": MailFault.SIGN_IN_REFUSED,
    "SMTPSenderRefused": MailFault.SENDER_REFUSED,
    "SMTPRecipientsRefused": MailFault.RECIPIENT_REFUSED,
    "SMTPDataError": MailFault.MESSAGE_REFUSED,
    "SMTPResponseException": MailFault.MESSAGE_REFUSED,
}


def fault_of(last_error: str | None) -> MailFault:
    """The fault a retried row's stored error names (its class name, maybe followed by more:
    "SMTPDataError 451", "ConnectionRefusedError; retry window over")."""
    words = (last_error or "").split(";", 1)[0].split()
    return _FAULTS.get(words[0], MailFault.OTHER) if words else MailFault.OTHER


@dataclass(frozen=True)
class MailFailing:
    """E-mails are being retried because the mail server refused them or could not be reached
    (the retries of :func:`gives_up`, before any shows as failed)."""

    since: datetime  # the first failed attempt of an e-mail still being retried
    waiting: int  # e-mails not sent yet, the retried ones and those behind them
    fault: MailFault  # what the last failed attempt met
    error: str  # what it stored: an exception's class name (no address, no secret)
    retry_until: datetime  # ``since`` + REMINDER_RETRY_HOURS: the first of them fails then
    server: str  # :func:`mail_server`, as configured now

    def as_dict(self) -> dict[str, Any]:
        """For /healthz, which anyone may ask: ISO 8601 times in UTC and the reason's word,
        not the mail server's host and port nor the stored error (the admin pages and the
        worker's log name those)."""
        return {
            "since": self.since.isoformat(),
            "waiting": self.waiting,
            "reason": self.fault.value,
            "retry_until": self.retry_until.isoformat(),
        }


@dataclass(frozen=True)
class Waiting:
    """The outbox's unsent e-mails, and whether the mail server is failing them."""

    emails: int
    failing: MailFailing | None


_WAITING = sa.and_(
    ReminderOutbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]), _AN_EMAIL
)


def waiting() -> Waiting:
    """:func:`waiting_count` and :func:`mail_failing` in ONE statement (by the status index).
    A row that failed and will be tried again has ``failing_since`` set (a sent row and one
    sent again by an admin have it cleared); the reason is the most recently retried one's."""
    latest_error = (
        sa.select(ReminderOutbox.last_error)
        .where(_WAITING, ReminderOutbox.failing_since.is_not(None))
        .order_by(ReminderOutbox.queued_at.desc().nulls_last(), ReminderOutbox.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    count, since, error = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(ReminderOutbox.failing_since), latest_error).where(
            _WAITING
        )
    ).one()
    if since is None:
        return Waiting(int(count), None)
    failing = MailFailing(
        since=since,
        waiting=int(count),
        fault=fault_of(error),
        error=(error or "").split(";", 1)[0],
        retry_until=since + retry_window(),
        server=mail_server(),
    )
    return Waiting(int(count), failing)


def mail_failing() -> MailFailing | None:
    """Since when the mail server has not taken e-mails that are being retried, how many wait,
    and why; None while mail goes out (one statement: for /healthz and the admin pages)."""
    return waiting().failing


def retryable_failed_ids() -> list[int]:
    """The failed e-mails that sending again could deliver: every one but those whose mailbox
    was refused (:attr:`Failure.MAILBOX_REFUSED`: that address fails again until it is
    corrected). Sorted in Python by :func:`failure_of`, as the page sorts them: a row's reason
    is a pattern over its stored error, not a column."""
    failed = db.session.execute(
        sa.select(ReminderOutbox.id, ReminderOutbox.last_error)
        .where(ReminderOutbox.status == OutboxStatus.FAILED, _AN_EMAIL)
        .order_by(ReminderOutbox.id)
    )
    return [
        outbox_id
        for outbox_id, last_error in failed
        if failure_of(last_error) is not Failure.MAILBOX_REFUSED
    ]


def failed_referral_ids(referral_ids: Iterable[int]) -> set[int]:
    """Which of these referrals have a reminder that could not be e-mailed."""
    wanted = list(referral_ids)
    if not wanted:
        return set()
    return {
        referral_id
        for referral_id in db.session.scalars(
            sa.select(ReminderOutbox.referral_id).where(
                ReminderOutbox.status == OutboxStatus.FAILED,
                ReminderOutbox.referral_id.in_(wanted),
            )
        )
        if referral_id is not None
    }


def resend_failed(actor: User, outbox_ids: Iterable[int] | None = None) -> list[int]:
    """Put failed rows back in the outbox with a fresh retry window (an admin fixed the mail
    settings), audited, then queue them after the commit. ``None`` means every failed row that
    could be delivered (:func:`retryable_failed_ids`); rows named in ``outbox_ids`` go again
    whatever their reason (the admin asked for that one)."""
    if outbox_ids is None:
        ids = retryable_failed_ids()
    else:
        wanted = list(outbox_ids)
        # A reminder (as the referral page lists it) goes again with the e-mail that carried it.
        carriers = sa.select(ReminderOutbox.batch_id).where(
            ReminderOutbox.id.in_(wanted), ReminderOutbox.batch_id.is_not(None)
        )
        query = sa.select(ReminderOutbox.id).where(
            ReminderOutbox.status == OutboxStatus.FAILED,
            _AN_EMAIL,
            sa.or_(ReminderOutbox.id.in_(wanted), ReminderOutbox.id.in_(carriers)),
        )
        ids = list(db.session.scalars(query.order_by(ReminderOutbox.id)))
    if not ids:
        return []
    db.session.execute(
        sa.update(ReminderOutbox)
        # A batch goes again with the items it carried.
        .where(
            sa.or_(ReminderOutbox.id.in_(ids), ReminderOutbox.batch_id.in_(ids)),
            ReminderOutbox.status == OutboxStatus.FAILED,
        )
        .values(
            status=OutboxStatus.PENDING,
            failing_since=None,
            unacknowledged=0,
            claimed_at=None,
            queued_at=utcnow(),
        )
    )
    target = ids[0] if len(ids) == 1 else "failed"
    audit.record("outbox.resend", "outbox", target, actor=actor, detail={"rows": ids[:100]})
    db.session.commit()
    from intake.services.reminders import enqueue_send

    for outbox_id in ids:
        try:
            enqueue_send(outbox_id)
        except Exception:  # the broker is down: the next scan queues them (queued_at ages)
            current_app.logger.warning("broker unreachable; the next scan queues the rows")
            break
    return ids


def open_session(backend: Any) -> None:
    """Open (or keep) ``backend``'s session before a message, so that the messages of one
    send task share it, and forget what the previous message over it did."""
    if getattr(backend, "connection", None) is None:
        backend.open()
    smtp = getattr(backend, "connection", None)
    if smtp is not None and hasattr(smtp, "message_transmitted"):
        smtp.message_transmitted = False


def close_session(backend: Any) -> None:
    """A send task is done with its session: a worker process keeps it for its next task
    (:func:`keep_sessions`), anything else ends it politely (QUIT) or drops it if the server is
    gone. A session a failed send dropped (``connection`` None) is not kept."""
    if (
        _Kept.enabled
        and isinstance(backend, TrackingSMTPBackend)
        and getattr(backend, "connection", None) is not None
    ):
        end_kept_session()  # (none is kept while a task holds it; here for safety)
        _Kept.backend, _Kept.key, _Kept.used_at = backend, _session_key(), time.monotonic()
        return
    _close(backend)


def _close(backend: Any) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException, ssl.SSLError):
        backend.close()
    close_quietly(backend)
