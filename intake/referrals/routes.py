"""Staff pages for referrals: what is due, starting a referral, moving it along.

Views are thin: intake.services.referrals owns the rules, transactions and audit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from intake.auth.access import CASE_WRITERS, STAFF, role_required
from intake.auth.forms import EmptyForm
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    Case,
    DirectoryEntry,
    OutboxStatus,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    User,
)
from intake.referrals import bp
from intake.referrals.forms import (
    ACTION_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    OVERRIDE_REASON_LABELS,
    STATE_LABELS,
    VIEW_LABELS,
    ReferralForm,
    TransitionForm,
)
from intake.services import audit, delivery, referrals
from intake.services.keys import current_org_key
from intake.services.settings import org_zone
from intake.web import error_response

PER_PAGE = 25
EARLIEST_YEAR = 2000  # far enough back for any referral, far from datetime's limits
DUE_SOON = timedelta(days=7)
MAX_SEARCH = 40


def reminder_label(offset_key: str) -> str:
    """Words for an offset key: d7 is 7 days before, d0 the day, overdue-3 three days late."""
    if offset_key == "d0":
        return _("On the day")
    if offset_key.startswith("overdue-"):
        return _("%(n)s day(s) overdue", n=offset_key.removeprefix("overdue-"))
    return _("%(n)s day(s) before", n=offset_key.removeprefix("d"))


OUTBOX_LABELS = {
    OutboxStatus.PENDING: _l("waiting to be sent"),
    OutboxStatus.SENDING: _l("being sent"),
    OutboxStatus.SENT: _l("sent"),
    OutboxStatus.FAILED: _l("could not be delivered"),
    OutboxStatus.CANCELLED: _l("not needed any more"),
}


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "state_labels": STATE_LABELS,
        "action_labels": ACTION_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "override_labels": OVERRIDE_REASON_LABELS,
        "view_labels": VIEW_LABELS,
        "reminder_label": reminder_label,
        "outbox_labels": OUTBOX_LABELS,
        "zone": org_zone(),
        "now": utcnow(),
        "due_soon": DUE_SOON,
    }


def _small_number(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is true) and short enough to fit an id column."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _filtered(view: str, now: datetime) -> sa.Select[tuple[Referral]]:
    query = sa.select(Referral).join(Case, Case.id == Referral.case_id)
    awaiting = Referral.state.in_(AWAITING)
    match view:
        case "overdue":
            query = query.where(awaiting, Referral.due_at < now)
        case "due_soon":
            query = query.where(awaiting, Referral.due_at >= now, Referral.due_at <= now + DUE_SOON)
        case "awaiting" | "timeline":
            query = query.where(awaiting)
        case "action":
            query = query.where(awaiting, Referral.due_at <= now + DUE_SOON)
    kind = request.args.get("kind", "")
    if kind in {k.value for k in ReferralKind}:
        query = query.where(Referral.kind == ReferralKind(kind))
    state = request.args.get("state", "")
    if state in {s.value for s in ReferralState}:
        query = query.where(Referral.state == ReferralState(state))
    owner = request.args.get("owner", "")
    if owner == "me":
        query = query.where(Referral.owner_id == current_user.id)
    elif _small_number(owner):
        query = query.where(Referral.owner_id == int(owner))
    search = request.args.get("q", "").strip()[:MAX_SEARCH]
    if search:
        query = query.where(Case.ref.ilike(f"%{search.upper()}%"))
    return query.order_by(Referral.due_at.is_(None), Referral.due_at, Referral.id)


@bp.get("/")
@role_required(*STAFF)
def index() -> str:
    view = request.args.get("view", "action")
    if view not in VIEW_LABELS:
        view = "action"
    page = request.args.get("page", "1")
    page_number = int(page) if _small_number(page) and 0 < int(page) < 100_000 else 1
    now = utcnow()
    pagination = db.paginate(
        _filtered(view, now), page=page_number, per_page=PER_PAGE, error_out=False
    )
    rows = list(pagination.items)
    suggestions = {
        referral.id: referrals.next_best(referral)
        for referral in rows
        if referral.due_at is not None and referral.due_at < now and referral.state in AWAITING
    }
    owners = db.session.scalars(
        sa.select(User).where(User.role != Role.VIEWER).order_by(User.email)
    ).all()
    return render_template(
        "referrals/index.html",
        view=view,
        pagination=pagination,
        referrals=rows,
        suggestions=suggestions,
        failed_reminders=delivery.failed_referral_ids(referral.id for referral in rows),
        failed_reminder_count=delivery.failed_count(),
        is_admin=current_user.role == Role.ADMIN,
        overview=referrals.overview(now),
        mine=referrals.overview(now, owner_id=current_user.id),
        owners=owners,
        args=request.args,
        page_args={key: value for key, value in request.args.items() if key != "page"},
        **_labels(),
    )


def _entry_choices(case: Case) -> list[SelectChoice]:
    entries = db.session.scalars(
        sa.select(DirectoryEntry)
        .where(DirectoryEntry.retired_at.is_(None))
        .order_by(DirectoryEntry.name)
    ).all()
    by_id = {entry.id: entry for entry in entries}
    suggested = [s["id"] for s in case.triage or [] if s.get("id") in by_id]
    # Triage suggestions first, in their ranked order, then everything else by name.
    first_group, rest_group = _("Triage suggestions, best first"), _("All entries")
    return [
        SelectChoice(entry_id, by_id[entry_id].name, optgroup=first_group) for entry_id in suggested
    ] + [
        SelectChoice(entry.id, entry.name, optgroup=rest_group)
        for entry in entries
        if entry.id not in suggested
    ]


def _owner_choices() -> list[SelectChoice]:
    users = db.session.scalars(
        sa.select(User)
        .where(User.role != Role.VIEWER, User.is_active_account.is_(True))
        .order_by(User.email)
    ).all()
    return [SelectChoice(user.id, user.email) for user in users]


def _case_for(ref: str | None) -> Case:
    if not ref or len(ref) > 24:
        abort(404)
    case = db.session.scalar(sa.select(Case).where(Case.ref == ref))
    if case is None:
        abort(404)
    return case


@bp.route("/new", methods=["GET", "POST"])
@role_required(*CASE_WRITERS)
def new() -> str | Response | tuple[str, int]:
    case = _case_for(request.args.get("ref"))
    form = ReferralForm()
    form.entry_id.choices = _entry_choices(case)
    form.owner_id.choices = _owner_choices()
    if request.method == "GET":
        if case.triage:
            form.entry_id.data = case.triage[0].get("id")
        form.owner_id.data = case.assignee_id or current_user.id
    status = 200
    if form.validate_on_submit():
        try:
            referral = referrals.create(
                case.id,
                form.entry_id.data,
                ReferralKind(form.kind.data),
                current_user,
                owner_id=form.owner_id.data,
                due_hours=form.due_hours.data,
                consent_override_reason=form.consent_override_reason.data,
            )
        except referrals.ReferralError as error:
            flash(str(error), "error")
            status = 422
        else:
            flash(_("Referral started. Mark it as sent when it has gone out."), "success")
            return redirect(url_for("referrals.detail", referral_id=referral.id))
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            "referrals/new.html",
            form=form,
            case=case,
            needs_override=not case.consent_given,
            is_admin=current_user.role == Role.ADMIN,
            **_labels(),
        ),
        status,
    )


def _referral_or_404(referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        abort(404)
    return referral


@bp.get("/<int:referral_id>")
@role_required(*STAFF)
def detail(referral_id: int) -> str:
    referral = _referral_or_404(referral_id)
    # The page carries the sealed note: a read of the case, audited like one (DESIGN §1.6).
    audit.record(
        "referral.view",
        "case",
        referral.case_id,
        actor=current_user,
        detail={"referral": referral.id},
    )
    db.session.commit()
    return _render_detail(referral, TransitionForm())


def _render_detail(referral: Referral, form: TransitionForm) -> str:
    reminders_sent = db.session.scalars(
        sa.select(ReminderOutbox)
        .where(ReminderOutbox.referral_id == referral.id)
        .order_by(ReminderOutbox.id)
    ).all()
    now = utcnow()
    overdue = referral.due_at is not None and referral.due_at < now and referral.state in AWAITING
    allowed = [
        action
        for action, (sources, _target) in referrals.TRANSITIONS.items()
        if referral.state in sources
    ]
    form.action.choices = [SelectChoice(action, ACTION_LABELS[action]) for action in allowed]
    return render_template(
        "referrals/detail.html",
        referral=referral,
        form=form,
        allowed=allowed,
        reminders=reminders_sent,
        overdue=overdue,
        suggestion=referrals.next_best(referral) if overdue else None,
        can_write=current_user.role in CASE_WRITERS,
        is_admin=current_user.role == Role.ADMIN,
        resend_form=EmptyForm(),
        note_key=current_org_key(),
        **_labels(),
    )


@bp.post("/<int:referral_id>/transition")
@role_required(*CASE_WRITERS)
def transition(referral_id: int) -> Response | tuple[str, int]:
    referral = _referral_or_404(referral_id)
    form = TransitionForm()
    form.action.choices = [SelectChoice(key, label) for key, label in ACTION_LABELS.items()]
    if not form.validate_on_submit():
        flash(_("Check the form: choose what happened and a valid date."), "error")
        return _render_detail(referral, form), 422
    at = None
    if form.at.data is not None:
        if form.at.data.year < EARLIEST_YEAR:
            flash(_("Check the date: it is long before this referral existed."), "error")
            return _render_detail(referral, form), 422
        at = form.at.data.replace(tzinfo=org_zone())
    try:
        referrals.transition(
            referral.id, form.action.data, current_user, at=at, outcome=form.outcome.data or None
        )
    except referrals.ReferralError as error:
        flash(str(error), "error")
        return _render_detail(referral, form), 422
    flash(_("Referral updated."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


@bp.post("/<int:referral_id>/note")
@role_required(*CASE_WRITERS)
def note(referral_id: int) -> Response | tuple[Response | str, int]:
    """Store the referral's note, sealed in the browser (js/referral-note.js): the form carries
    only ciphertext and the key id, never the text (its textarea has no name)."""
    if referral_id > 2**31 - 1:  # beyond any id column: never reaches the database
        abort(404)
    referral = _referral_or_404(referral_id)
    key_id = request.form.get("org_key_id", "")
    try:
        referrals.set_note(
            referral.id,
            request.form.get("sealed_note", ""),
            int(key_id) if _small_number(key_id) else None,
            current_user,
            replaces=request.form.get("replaces"),
        )
    except referrals.NoteRejected as error:
        db.session.rollback()
        if request.accept_mimetypes.best == "application/json":
            # referral-note.js posts with fetch and shows the message beside the text.
            return error_response(error.status, str(error))
        flash(str(error), "error")
        return _render_detail(referral, TransitionForm()), error.status
    flash(_("Note saved, encrypted to the organisation key."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)
