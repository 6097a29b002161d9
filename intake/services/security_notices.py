"""Security notices: an e-mail when something happens to an account that a takeover would do.

A sign-in with a recovery code, a new authenticator app, a reset by the operator or an admin,
the recovery kit used: each is audited, and until now the audit log was the only place that
said so. A misused reset or kit is noticed by the person it happened to, or by an admin, only
if they are told. :func:`queue` is called right after the event's ``audit.record`` and writes,
in the same transaction, one outbox row (``kind`` "security") for each person to tell: the
account's holder (while the account is active) and every active admin. A change that rolls
back takes its rows with it: nothing is sent.

The rows are mailed by the reminders' send task (``reminders.send_many``): claimed, retried,
marked sent exactly once, and taken over from a worker that died, as reminders are. Their
send task is queued after the commit (:func:`_queue_after_commit`, DESIGN §8); a broker that
refuses it leaves the rows to the next deadline scan, which queues every unsent e-mail.

What an e-mail says: what happened, to which account, when (in the organisation's time zone),
who did it when it was not the holder, and what to do if it was not expected. Never case
content, and nothing that opens anything: no code, token, link to a set-up page or address
of the device that did it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, SessionTransaction

from intake import clock
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, OutboxStatus, ReminderOutbox, Role, User

KIND = "security"  # ReminderOutbox.kind of a notice

# The audited events that are told, by their audit action (also each row's ``offset_key``).
EVENTS = frozenset(
    {
        "auth.recovery_code_used",  # signed in with a code kept for a lost phone
        "auth.totp_replaced",  # a new authenticator app (a lost or new phone)
        "auth.totp_added",
        "auth.totp_removed",
        "auth.passkey_added",
        "auth.passkey_removed",
        "operator.password_reset",  # flask users reset-password
        "operator.totp_reset",  # flask users reset-totp
        "admin.password_reset",
        "admin.totp_reset",
        "admin.role_changed",  # told only when the new role is admin
        "keys.recovery_kit_used",  # /recover
    }
)
MADE_ADMIN = "admin.role_changed"
RECOVERY_KIT_USED = "keys.recovery_kit_used"
# Done to the account by another admin: if unexpected, that admin's account is suspect too.
BY_AN_ADMIN = frozenset({"admin.password_reset", "admin.totp_reset", MADE_ADMIN})
BY_THE_OPERATOR = frozenset({"operator.password_reset", "operator.totp_reset"})

_WRITTEN = "security_notices.written"  # session.info: rows to queue once the commit is done


def notice_key(event_id: int, recipient_id: int) -> str:
    """A notice's ``dedupe_key``: one e-mail per event and person."""
    return f"{KIND}:{event_id}:{recipient_id}"


def recipients_of(account: User) -> list[int]:
    """Whom an event on ``account`` is told: its holder while the account is active, and
    every active admin (the one who acted included: a stolen admin session shows that way)."""
    admins = db.session.scalars(
        sa.select(User.id).where(User.role == Role.ADMIN, User.is_active_account.is_(True))
    )
    told = set(admins)
    if account.is_active_account:
        told.add(account.id)
    return sorted(told)


def queue(event: AuditEvent, account: User) -> list[int]:
    """In the caller's transaction, right after ``event`` was recorded: one outbox row per
    person to tell (:func:`recipients_of`); their send task is queued after the commit.
    Returns the rows' ids."""
    if event.action not in EVENTS:
        raise ValueError(f"{event.action} is not a security event")
    facts = {"account": account.id}
    if event.actor_id is not None and event.actor_id != account.id:
        facts["by"] = event.actor_id
    now = utcnow()
    rows = [
        {
            "dedupe_key": notice_key(event.id, recipient_id),
            "kind": KIND,
            "referral_id": None,
            "recipient_id": recipient_id,
            "offset_key": event.action,
            # When it happened: the only date the e-mail names.
            "due_at": event.at,
            "counts": facts,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "unacknowledged": 0,
            "created_at": now,
            # Queued right after the commit; if the broker refuses, the scan queues the rows
            # once REMINDER_REQUEUE_SECONDS have passed.
            "queued_at": now,
        }
        for recipient_id in recipients_of(account)
    ]
    if not rows:
        return []
    table = ReminderOutbox.__table__
    written = [
        int(row_id)
        for row_id in db.session.execute(sa.insert(table).returning(table.c.id), rows).scalars()
    ]
    db.session.info.setdefault(_WRITTEN, []).extend(written)
    return written


def queue_if_made_admin(event: AuditEvent, account: User) -> list[int]:
    """A role change is told when it makes someone an admin (who then may reset others)."""
    detail = event.detail or {}
    if detail.get("to") != Role.ADMIN.value or detail.get("from") == Role.ADMIN.value:
        return []
    return queue(event, account)


@orm_events.listens_for(Session, "after_commit")
def _queue_after_commit(session: Session) -> None:
    """The notices written in the transaction that just committed get their send task (one
    for all of them: one SMTP session). Never raises: the change is done whatever the broker
    says, and the scan queues rows whose task never reached it."""
    if session.in_nested_transaction():
        return  # a savepoint: the rows are not committed yet
    written = session.info.pop(_WRITTEN, None)
    if not written or not has_app_context():
        return
    from intake.services import reminders  # (reminders imports much; only the sender needs it)

    try:
        reminders.enqueue_send_many(list(written))
    except Exception:  # kombu raises transport-specific errors
        current_app.logger.warning("broker unreachable; the next scan queues the notices")


@orm_events.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without a commit took its rows with it."""
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)


# --- the e-mail -----------------------------------------------------------------------------


class Words(Protocol):
    """A recipient's language, as the reminders' send task looked it up once."""

    @property
    def locale(self) -> str: ...

    def gettext(self, string: str, **variables: Any) -> str: ...


def _what(action: str, words: Words) -> tuple[str, str]:
    """The event in a few words (for the subject) and as a sentence."""
    _ = words.gettext
    match action:
        case "auth.recovery_code_used":
            return _("recovery code used"), _("A recovery code was used to sign in.")
        case "auth.totp_replaced":
            return (
                _("authenticator app replaced"),
                _("The authenticator app was replaced with a new one."),
            )
        case "auth.totp_added":
            return _("authenticator app added"), _("An authenticator app was added.")
        case "auth.totp_removed":
            return _("authenticator app removed"), _("The authenticator app was removed.")
        case "auth.passkey_added":
            return _("passkey added"), _("A passkey was added.")
        case "auth.passkey_removed":
            return _("passkey removed"), _("A passkey was removed.")
        case "operator.password_reset" | "admin.password_reset":
            return (
                _("password reset"),
                _("The password and keys were reset, and a new set-up link was made."),
            )
        case "operator.totp_reset" | "admin.totp_reset":
            return (
                _("second factor reset"),
                _("The second factor was reset, and a new set-up link was made."),
            )
        case "admin.role_changed":
            return _("made an admin"), _("The account was made an admin.")
        case "keys.recovery_kit_used":
            return (
                _("recovery kit used"),
                _("The organisation's recovery kit was used to get the organisation key back."),
            )
    return action, action


def _emails(user_ids: list[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {
        user_id: email
        for user_id, email in db.session.execute(
            sa.select(User.id, User.email).where(User.id.in_(user_ids))
        )
    }


def compose(
    action: str,
    at: datetime | None,
    facts: Mapping[str, int] | None,
    recipient_id: int,
    words: Words,
    zone: ZoneInfo,
    base: str,
) -> tuple[str, str]:
    """Subject and body of a notice in the recipient's language: the same lines for every
    notice of one event. ``base`` is the link base the reminders use."""
    _ = words.gettext
    facts = facts or {}
    account_id, by_id = facts.get("account"), facts.get("by")
    emails = _emails([user_id for user_id in (account_id, by_id) if user_id is not None])
    account = emails.get(account_id, "-") if account_id is not None else "-"
    actor = emails.get(by_id, "-") if by_id is not None else None
    title, sentence = _what(action, words)
    when = clock.local_text(at, zone=zone, locale=words.locale) if at is not None else "-"
    lines = [
        sentence,
        _("Account: %(email)s", email=account),
        _("When: %(when)s", when=when),
    ]
    if action in BY_THE_OPERATOR:
        lines.append(_("By: whoever runs the Refuge server, on its command line"))
    elif actor is not None:
        lines.append(_("By: %(email)s", email=actor))
    lines.append("")
    if recipient_id == account_id:
        # An admin has no admin above them to tell (a lone admin was told to tell "an admin
        # of your organisation": an admin's walkthrough).
        holder_is_admin = db.session.scalar(
            sa.select(User.role == Role.ADMIN).where(User.id == recipient_id)
        )
        lines += [
            _(
                "If this was not you, or you did not ask for it, someone else may be in your "
                "account: change your password now, and tell another admin, or whoever runs "
                "your Refuge server if you are the only one."
            )
            if holder_is_admin
            else _(
                "If this was not you, or you did not ask for it, tell an admin of your "
                "organisation at once."
            ),
            _("Your account: %(link)s", link=f"{base}/auth/account"),
        ]
    elif recipient_id == by_id:
        lines.append(
            _(
                "If you did not do this, someone else is using your account: tell another "
                "admin at once."
            )
        )
    else:
        if action in BY_AN_ADMIN and actor is not None:
            # Both: the admin who acted may be someone else in their account, and the account
            # they changed may be in that someone's hands (a reset's set-up link, a new admin).
            deactivate = _(
                "If this was not expected, deactivate the accounts of %(email)s and %(other)s"
                " at once: %(link)s",
                email=account,
                other=actor,
                link=f"{base}/admin/users",
            )
        else:
            deactivate = _(
                "If this was not expected, deactivate the account of %(email)s at once: %(link)s",
                email=account,
                link=f"{base}/admin/users",
            )
        lines.append(deactivate)
        if action == RECOVERY_KIT_USED:
            lines.append(
                _(
                    "Then rotate the organisation key and make a new recovery kit: %(link)s",
                    link=f"{base}/admin/keys",
                )
            )
    lines += ["", _("Refuge never puts case details, codes or passwords in an e-mail.")]
    subject = _("Refuge security notice: %(what)s", what=title)
    return subject, "\n".join(lines)
