"""Staff pages for cases: the queue, one case, and the changes caseworkers make to it.

The server never sees what a case says: the page carries ciphertext ids, case-view.js fetches
the sealed answers and attachments and opens them in the browser with the organisation key.
Views are thin; intake.services.casework owns the rules, the transactions and the audit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from intake.auth.access import CASE_WRITERS, STAFF, role_required
from intake.cases import bp
from intake.cases.forms import (
    FLAG_LABELS,
    OUTCOME_LABELS,
    PROFILE_LABELS,
    REF_PATTERN,
    SHARED_STATUS_LABELS,
    SORT_LABELS,
    STATUS_LABELS,
    THREAT_LABELS,
    URGENCY_LABELS,
    AssignForm,
    NoteForm,
    QueryError,
    ReplyForm,
    SharedStatusForm,
    StatusForm,
    parse_filters,
)
from intake.extensions import db
from intake.models import Case, CaseStatus, MessageKind, OrgKey, SharedStatus, User
from intake.services import casework
from intake.services.casework import CaseworkError, Outcome
from intake.web import error_response

MAX_ID = 2**31 - 1
PageResponse = str | WerkzeugResponse | tuple[Response | str, int]


def _labels() -> dict[str, Any]:
    return {
        "threat_labels": THREAT_LABELS,
        "profile_labels": PROFILE_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "status_labels": STATUS_LABELS,
        "shared_status_labels": SHARED_STATUS_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "flag_labels": FLAG_LABELS,
        "sort_labels": SORT_LABELS,
    }


def _referral_labels() -> dict[str, Any]:
    """The referrals area's labels for kinds and states, when that area is installed."""
    try:
        from intake.referrals.forms import KIND_LABELS, STATE_LABELS
    except ImportError:  # pragma: no cover - referrals not built yet
        return {"referral_kind_labels": {}, "referral_state_labels": {}}
    return {"referral_kind_labels": KIND_LABELS, "referral_state_labels": STATE_LABELS}


def _answer_labels() -> dict[str, Any]:
    """How the intake form asked each sealed answer, so decrypted answers are labelled (in the
    reader's language) and in the form's order; radio answers map to their choice's wording.
    Only question wording: nothing here comes from a case."""
    try:
        from intake.public.forms import SEALED_FIELDS, IntakeForm
    except ImportError:  # pragma: no cover - the public form is another area's
        return {"order": [], "labels": {}, "choices": {}}
    labels: dict[str, str] = {}
    choices: dict[str, dict[str, str]] = {}
    for name in SEALED_FIELDS:
        # The form's declared (unbound) fields: their wording, without building a form.
        unbound = getattr(IntakeForm, name, None)
        if unbound is None or not hasattr(unbound, "kwargs"):
            continue
        label = unbound.kwargs.get("label") or (unbound.args[0] if unbound.args else None)
        if label is not None:
            labels[name] = str(label)
        mapped = {}
        for option in unbound.kwargs.get("choices") or []:
            if isinstance(option, tuple | list) and len(option) >= 2:
                mapped[str(option[0])] = str(option[1])
            elif hasattr(option, "value"):
                mapped[str(option.value)] = str(option.label)
        if mapped:
            choices[name] = mapped
    return {"order": list(SEALED_FIELDS), "labels": labels, "choices": choices}


def _can_write() -> bool:
    return current_user.role in CASE_WRITERS


def _case_or_404(ref: str) -> Case:
    if not REF_PATTERN.match(ref or ""):
        abort(404)
    case = casework.get_case(ref)
    if case is None:
        abort(404)
    return case


@bp.get("/")
@role_required(*STAFF)
def queue() -> PageResponse:
    try:
        filters = parse_filters(request.args)
    except QueryError as exc:
        return error_response(
            400, _("The filter “%(name)s” has a value we do not offer.", name=str(exc))
        )
    page = casework.queue(filters, current_user)
    countries = db.session.scalars(
        sa.select(Case.country).where(Case.country.is_not(None)).distinct().order_by(Case.country)
    ).all()
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page" and v}

    def page_url(number: int) -> str:
        return url_for("cases.queue", **args, page=number)

    return render_template(
        "cases/queue.html",
        page=page,
        filters=filters,
        countries=countries,
        users={u.id: u.email for u in _users_for(page)},
        assignable=casework.assignable_users(),
        page_url=page_url,
        filtered=any(k not in ("view", "sort") for k in args),
        **_labels(),
    )


def _users_for(page: casework.QueuePage) -> list[User]:
    ids = {row.case.assignee_id for row in page.rows if row.case.assignee_id}
    if not ids:
        return []
    return list(db.session.scalars(sa.select(User).where(User.id.in_(ids))))


def _detail(case: Case, status: int = 200) -> PageResponse:
    """Render the case page. Only the GET route records the view; a refused change that shows
    the page again writes nothing."""
    assignee = db.session.get(User, case.assignee_id) if case.assignee_id else None
    note_key = casework.current_org_key()
    case_key = db.session.get(OrgKey, case.org_key_id)
    authors = {
        u.id: u.email
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_({m.author_id for m in case.messages}))
        )
    }
    assign_form = AssignForm()
    assign_form.assignee.choices = [SelectChoice("", _("Nobody"))] + [
        SelectChoice(str(u.id), u.email) for u in casework.assignable_users()
    ]
    assign_form.assignee.data = str(case.assignee_id) if case.assignee_id else ""
    shared_form = SharedStatusForm(shared_status=case.shared_status.value)
    html = render_template(
        "cases/detail.html",
        case=case,
        assignee=assignee,
        authors=authors,
        case_key=case_key,
        note_key=note_key,
        can_write=_can_write(),
        transitions=casework.allowed_transitions(case),
        status_form=StatusForm(),
        assign_form=assign_form,
        shared_form=shared_form,
        note_form=NoteForm(),
        reply_form=ReplyForm(),
        first_response_due=casework.first_response_due(case),
        next_due=casework.next_due_for(case),
        answer_labels=_answer_labels(),
        referrals=casework.referrals_for(case),
        referral_detail=(
            "referrals.detail" if "referrals.detail" in current_app.view_functions else None
        ),
        **_referral_labels(),
        referral_url=(
            url_for("referrals.new", ref=case.ref)
            if "referrals.new" in current_app.view_functions
            else None
        ),
        MessageKind=MessageKind,
        **_labels(),
    )
    return html, status


@bp.get("/<ref>")
@role_required(*STAFF)
def detail(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    casework.record_view(case, current_user, "page")
    return _detail(case)


@bp.get("/<ref>/sealed")
@role_required(*STAFF)
def sealed(ref: str) -> Response:
    """The case's ciphertext for case-view.js (audited as a view of the content)."""
    case = _case_or_404(ref)
    bundle = casework.sealed_bundle(case)
    casework.record_view(case, current_user, "sealed")
    return jsonify(bundle)


@bp.get("/<ref>/attachments/<int:attachment_id>")
@role_required(*STAFF)
def attachment(ref: str, attachment_id: int) -> Response:
    case = _case_or_404(ref)
    if attachment_id > MAX_ID:  # beyond any id: never reaches the database (no overflow)
        abort(404)
    found = casework.get_attachment(case, attachment_id)
    if found is None:
        abort(404)
    content = bytes(found.sealed_content)
    casework.record_view(case, current_user, "attachment", attachment_id=found.id)
    response = Response(content, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = "attachment"
    return response


def _refused(case: Case, message: str, status: int = 400) -> PageResponse:
    if request.accept_mimetypes.best == "application/json":
        # case-view.js posts sealed notes with fetch and shows the message beside the text.
        return error_response(status, message)
    flash(message, "error")
    return _detail(case, status)


def _done(case: Case, message: str) -> WerkzeugResponse:
    flash(message, "success")
    return redirect(url_for("cases.detail", ref=case.ref), code=303)


@bp.post("/<ref>/status")
@role_required(*CASE_WRITERS)
def change_status(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = StatusForm()
    if not form.validate():
        return _refused(case, _("Choose a status from the list. Nothing was changed."))
    try:
        # Optional() lets " " through (it reads as blank), but it is no outcome either.
        outcome = Outcome(form.outcome.data) if form.outcome.data else None
    except ValueError:
        return _refused(case, _("Choose an outcome from the list. Nothing was changed."))
    try:
        expected = CaseStatus(form.from_status.data) if form.from_status.data else None
    except ValueError:
        return _refused(case, _("Choose a status from the list. Nothing was changed."))
    try:
        casework.change_status(
            case, CaseStatus(form.status.data), current_user, outcome, expected=expected
        )
    except CaseworkError as exc:
        db.session.rollback()
        return _refused(case, str(exc), exc.status)
    return _done(case, _("Status changed."))


@bp.post("/<ref>/assign")
@role_required(*CASE_WRITERS)
def assign(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = AssignForm()
    form.assignee.choices = []
    if not form.validate():
        return _refused(case, _("Choose someone from the list. Nothing was changed."))
    try:
        assignee_id = form.assignee_id(current_user.id)
    except ValueError:
        return _refused(case, _("Choose someone from the list. Nothing was changed."))
    try:
        casework.assign(case, assignee_id, current_user)
    except CaseworkError as exc:
        db.session.rollback()
        return _refused(case, str(exc), exc.status)
    return _done(case, _("Assignment saved."))


@bp.post("/<ref>/shared-status")
@role_required(*CASE_WRITERS)
def shared_status(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = SharedStatusForm()
    if not form.validate():
        return _refused(case, _("Choose a status from the list. Nothing was changed."))
    casework.set_shared_status(case, SharedStatus(form.shared_status.data), current_user)
    return _done(case, _("The submitter will now see the new status."))


@bp.post("/<ref>/notes")
@role_required(*CASE_WRITERS)
def add_note(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = NoteForm()
    if not form.validate():
        return _refused(
            case, _("The note did not arrive encrypted. It needs JavaScript. Nothing was saved.")
        )
    try:
        casework.add_note(case, form.sealed_body.data, form.org_key_id.data, current_user)
    except CaseworkError as exc:
        db.session.rollback()
        return _refused(case, str(exc), exc.status)
    return _done(case, _("Note saved, encrypted to the organisation key."))


@bp.post("/<ref>/replies")
@role_required(*CASE_WRITERS)
def add_reply(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = ReplyForm()
    if not form.validate():
        return _refused(
            case, _("The reply did not arrive encrypted. It needs JavaScript. Nothing was sent.")
        )
    try:
        casework.add_reply(
            case,
            form.sealed_body.data,
            current_user,
            sealed_copy=form.sealed_copy.data or None,
            org_key_id=form.org_key_id.data,
        )
    except CaseworkError as exc:
        db.session.rollback()
        return _refused(case, str(exc), exc.status)
    return _done(case, _("Reply sent. The submitter reads it with their receipt code."))
