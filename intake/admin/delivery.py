"""Admin pages for what runs in the background: worker and beat status, how reminders go out
and which went out lately, reminders that could not be e-mailed, and sending them again once
the mail settings are fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from intake import vocab
from intake.admin import bp
from intake.auth.access import ADMINS, role_required
from intake.extensions import db
from intake.forms import EmptyForm
from intake.labels import KIND_LABELS
from intake.models import Case, DirectoryEntry, Referral, ReferralKind, ReminderOutbox, User
from intake.services import delivery, heartbeats, security_notices
from intake.services.settings import org_zone


def _recipients(rows: Sequence[ReminderOutbox]) -> dict[int, User]:
    """The recipients of the rows listed (not of every failed row, items included)."""
    wanted = {row.recipient_id for row in rows}
    if not wanted:
        return {}
    return {
        user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))
    }


@dataclass(frozen=True)
class RemindedReferral:
    """A referral an e-mail reminded of, as the referrals list names it: the case's reference,
    the referral's kind and where it went (in the reader's language)."""

    id: int
    case_ref: str
    kind: ReferralKind
    entry_name: str


def _reminded_referrals(rows: Sequence[ReminderOutbox]) -> dict[int, list[RemindedReferral]]:
    """For each e-mail listed: the referrals it reminded of, with their cases and entries (one
    read for them all: a batch's items, or a reminder row's own referral)."""
    batches = {row.id for row in rows if row.kind == "batch"}
    singles = {row.id for row in rows if row.kind != "batch" and row.referral_id is not None}
    if not batches and not singles:
        return {}
    carried: dict[int, list[RemindedReferral]] = {row_id: [] for row_id in batches | singles}
    statement = (
        sa.select(
            ReminderOutbox.id,
            ReminderOutbox.batch_id,
            Referral.id,
            Referral.kind,
            Case.ref,
            Referral.entry_id,
            DirectoryEntry.name,
            DirectoryEntry.name_zh,
        )
        .join(Referral, Referral.id == ReminderOutbox.referral_id)
        .join(Case, Case.id == Referral.case_id)
        .outerjoin(DirectoryEntry, DirectoryEntry.id == Referral.entry_id)
        .where(
            sa.or_(
                ReminderOutbox.batch_id.in_(batches) if batches else sa.false(),
                ReminderOutbox.id.in_(singles) if singles else sa.false(),
            )
        )
        .order_by(ReminderOutbox.batch_id, ReminderOutbox.id)
    )
    for row_id, batch_id, referral_id, kind, ref, entry_id, name, name_zh in db.session.execute(
        statement
    ):
        listed = carried[batch_id if batch_id in batches else row_id]
        if all(shown.id != referral_id for shown in listed):
            entry = vocab.name_for_reader(name, name_zh) if name else entry_id
            listed.append(RemindedReferral(referral_id, ref, kind, entry))
    return carried


def _queued_again(ids: list[int]) -> str:
    """What was sent again, named as what it is: reminders, security notices, or e-mails."""
    notices = int(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                ReminderOutbox.id.in_(ids), ReminderOutbox.kind == security_notices.KIND
            )
        )
        or 0
    )
    if not notices:
        return ngettext(
            "%(num)d reminder is queued to be sent again.",
            "%(num)d reminders are queued to be sent again.",
            len(ids),
        )
    if notices == len(ids):
        return ngettext(
            "%(num)d security notice is queued to be sent again.",
            "%(num)d security notices are queued to be sent again.",
            notices,
        )
    return ngettext(
        "%(num)d e-mail is queued to be sent again.",
        "%(num)d e-mails are queued to be sent again.",
        len(ids),
    )


@bp.get("/reminders")
@role_required(*ADMINS)
def failed_reminders() -> str:
    rows = delivery.failed_rows()
    sent = delivery.recently_sent()
    failed = delivery.failed_emails()
    # The e-mails waiting, and whether the mail server is failing them (one statement).
    outbox = delivery.waiting()
    return render_template(
        "admin/reminders.html",
        rows=rows,
        sent=sent,
        waiting=outbox.emails,
        mail_failing=outbox.failing,
        scan_minutes=int(current_app.config["DEADLINE_SCAN_MINUTES"]),
        offsets=sorted(
            (day for day in current_app.config["REMINDER_OFFSETS_DAYS"] if day > 0), reverse=True
        ),
        reminded=_reminded_referrals([*rows, *sent]),
        failures={row.id: delivery.failure_of(row.last_error) for row in rows},
        kind_labels=KIND_LABELS,
        # A security notice is counted as one, not as a reminder (it is about an account).
        failed=failed,
        total=failed.total,
        # What "Send all again" would send: a refused mailbox fails again until corrected.
        retryable=len(delivery.retryable_failed_ids()),
        processes=heartbeats.status(),
        last_seen=heartbeats.last_seen(),
        recipients=_recipients([*rows, *sent]),
        zone=org_zone(),
        form=EmptyForm(),
    )


@bp.post("/reminders/resend")
@role_required(*ADMINS)
def resend_reminders() -> Response:
    """Send again one failed row (``outbox_id``) or all of them; audited."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    raw = request.form.get("outbox_id", "")
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        abort(400)
    me: User = current_user._get_current_object()
    ids = delivery.resend_failed(me, [int(raw)] if raw else None)
    if ids:
        flash(_queued_again(ids), "success")
    else:
        flash(_("No reminder is waiting to be sent again."), "info")
    back = request.form.get("next", "")
    if back.startswith("/referrals/") and "//" not in back:
        return redirect(back, code=303)
    return redirect(url_for("admin.failed_reminders"), code=303)
