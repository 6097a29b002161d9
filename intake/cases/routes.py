"""Staff pages for cases: the queue, one case, and the changes caseworkers make to it.

The server never sees what a case says: the page carries ciphertext ids, case-view.js fetches
the sealed answers and attachments and opens them in the browser with the organisation key.
Views are thin; intake.services.casework (one case) and intake.services.queue own the rules,
the transactions and the audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from intake import clock, labels, vocab
from intake.auth.access import CASE_WRITERS, STAFF, role_required
from intake.cases import bp
from intake.cases.forms import (
    CLOSE_CONFIRMED,
    FLAG_LABELS,
    REF_PATTERN,
    REFERENCE_INPUT_PATTERN,
    SORT_LABELS,
    VIEW_LABELS,
    AssignForm,
    NoteForm,
    PublicStatusHoldForm,
    QueryError,
    ReplyForm,
    StatusForm,
    parse_filters,
)
from intake.cases.options import country_options
from intake.cases.wording import (
    PageWords,
    RowLabels,
    address_markup,
    next_action_words,
    shown_row,
)
from intake.db import utcnow
from intake.extensions import db
from intake.i18n import sentences
from intake.models import Case, CaseStatus, MessageKind, OrgKey, Referral, Role, User
from intake.services import (
    case_page,
    casework,
    counting,
    follow_ups,
    heartbeats,
    keys,
    retention,
    search,
)
from intake.services import queue as queue_service
from intake.services.casework import CaseworkError, HolderChanged
from intake.services.search import SearchError
from intake.web import error_response

MAX_ID = 2**31 - 1
REF_SLOT = "RF-SLOT"  # a reference's place in a URL built once per page (see queue())
VIEW_SLOT = "VIEW-SLOT"  # likewise a saved view's
PageResponse = str | WerkzeugResponse | tuple[Response | str, int]


def _labels() -> dict[str, Any]:
    return {
        "threat_labels": vocab.THREATS,
        "profile_labels": vocab.PROFILES,
        "urgency_labels": labels.URGENCY_LABELS,
        "status_labels": labels.STATUS_LABELS,
        "shared_status_labels": labels.SHARED_STATUS_LABELS,
        "outcome_labels": labels.OUTCOME_LABELS,
        "referral_kind_labels": labels.KIND_LABELS,
        "referral_state_labels": labels.STATE_LABELS,
        "flag_labels": FLAG_LABELS,
        "sort_labels": SORT_LABELS,
    }


def _translated(table: Mapping[Any, Any]) -> dict[Any, str]:
    return {key: str(label) for key, label in table.items()}


def _can_write() -> bool:
    return current_user.role in CASE_WRITERS


def _case_or_404(ref: str) -> Case:
    if not REF_PATTERN.match(ref or ""):
        abort(404)
    case = casework.get_case(ref)
    if case is None:
        abort(404)
    return case


@lru_cache(maxsize=1024)
def _count_text(number: int, more: bool, locale: str) -> str:
    # Called in a request read in ``locale``: the catalogue and CLDR are fixed per process.
    if more:
        return _("%(count)s+", count=format_number(number))
    return str(format_number(number))


@bp.app_template_global("count_label")
def count_label(count: int) -> str:
    """A bounded count (:mod:`counting`: the queue's tabs, /referrals' summary) in the
    reader's digits; "100+" past the counting cap."""
    locale = str(get_locale() or "en")
    if counting.is_capped(count):
        return _count_text(counting.COUNT_CAP, True, locale)
    return _count_text(count, False, locale)


# The label tables the queue shows.
_QUEUE_LABELS = ("threat_labels", "urgency_labels", "status_labels", "flag_labels", "sort_labels")


@lru_cache(maxsize=64)
def _queue_labels(locale: str) -> dict[str, dict[Any, str]]:
    """The queue's label tables translated for ``locale``, once per process (called in a
    request read in it): rows repeat them, and a lazy string is translated again each time
    it is shown (through Flask-Babel's look-ups of the request's translations)."""
    tables = {
        name: _translated(table) for name, table in _labels().items() if name in _QUEUE_LABELS
    }
    tables["view_labels"] = _translated(VIEW_LABELS)
    return tables


# What the queue's address keeps when it drops words the server never searches: the filters
# (parse_filters has checked each), not the page.
KEPT_WITHOUT_WORDS = (
    "view", "status", "urgency", "threat", "country", "assignee", "overdue", "sort", "lang",
)  # fmt: skip
# The names the queue's own links carry on (its sort headers, pages and tabs): the filters,
# the search (a reference, or keyed tokens and their key) and the page. Any other name in the
# address is dropped, not passed to url_for: "_external", "_scheme", "_anchor" and "_method"
# are its own arguments (an absolute https:// link, a "#…" on every link, a 500).
QUEUE_LINK_ARGS = (*KEPT_WITHOUT_WORDS, "q", "t", "k")


@bp.get("/")
@role_required(*STAFF)
def queue() -> PageResponse:
    try:
        filters = parse_filters(request.args)
    except QueryError as exc:
        return error_response(
            400, _("The filter “%(name)s” has a value we do not offer.", name=str(exc))
        )
    if (request.args.get("q") or "").strip() and filters.q is None:
        # Words that reached the server (a browser without JavaScript that ignored the box's
        # pattern, or a typed address) are never searched, nor left in the address bar, the
        # history or this page's links (its language links carry its query): the same list
        # without them, and why.
        flash(
            _(
                "Searching by name, place or phone number happens in your browser: it needs "
                "JavaScript and your keys unlocked. Without them, search by a case reference "
                "(like RF-7K2M)."
            ),
            "info",
        )
        kept: dict[str, Any] = {
            name: request.args[name] for name in KEPT_WITHOUT_WORDS if request.args.get(name)
        }
        return redirect(url_for("cases.queue", **kept), code=303)
    can_write = _can_write()
    page = queue_service.queue(filters, current_user)
    # Free text the server never searched is not carried into links (nor kept in the box),
    # nor tokens it could not read.
    args: dict[str, Any] = {
        name: request.args[name]
        for name in QUEUE_LINK_ARGS
        if request.args.get(name)
        and (name != "q" or filters.q)
        and (name not in ("t", "k") or filters.tokens)
    }

    def page_url(number: int) -> str:
        return url_for("cases.queue", **args, page=number)

    def sort_url(sort: str) -> str:
        return url_for("cases.queue", **{**args, "sort": sort})

    # The tabs' links differ only by their view (an id of VIEWS): one url_for, filled in.
    view_link = url_for("cases.queue", view=VIEW_SLOT, sort=filters.sort)

    def view_url(view: str) -> str:
        return view_link.replace(VIEW_SLOT, view)

    # A tab holding some of the open cases: the same filters on "All open", for when they
    # find nothing here (a filter searches its tab only).
    all_open_url = (
        url_for("cases.queue", **{**args, "view": "open"})
        if filters.view not in ("open", "closed", "closed_unread", "all")
        else ""
    )

    # One URL per endpoint, the reference filled in per row (references are [A-Z0-9-]):
    # url_for on every row of every page was most of the rows' cost.
    case_urls = {
        endpoint: url_for(endpoint, ref=REF_SLOT)
        for endpoint in ("cases.detail", "cases.assign", "cases.search_tokens", "cases.sealed")
    }

    def case_url(endpoint: str, ref: str) -> str:
        return case_urls[endpoint].replace(REF_SLOT, ref)

    # The rows' ciphertext, for case-queue.js to show names and summaries (decrypted in the
    # browser, never sent back) and to index the rows not yet searchable.
    sealed_rows = [
        {
            "ref": row.case.ref,
            "org_key_id": row.case.org_key_id,
            "sealed_answers": row.case.sealed_answers,
            # Viewers read but write nothing, search tokens included: theirs is never asked.
            "indexed": row.indexed or not can_write,
            "tokens_url": case_url("cases.search_tokens", row.case.ref),
            # To index a row, its follow-ups and notes are read too (not carried on the page).
            "sealed_url": case_url("cases.sealed", row.case.ref),
        }
        for row in page.rows
    ]
    labels_now = _queue_labels(str(get_locale() or "en"))
    # Each row's words and dates in the reader's language, with the page's one translations
    # object and one clock (the zone and language looked up once).
    words, now = PageWords.current(), utcnow()
    row_labels = RowLabels(
        labels_now["urgency_labels"], labels_now["status_labels"], labels_now["flag_labels"]
    )
    time_tag = clock.page_time_tag(locale=words.locale)
    shown_rows = [
        shown_row(
            row,
            now=now,
            words=words,
            labels=row_labels,
            time_tag=time_tag,
            url=case_url("cases.detail", row.case.ref),
            assign_url=case_url("cases.assign", row.case.ref) if can_write else "",
        )
        for row in page.rows
    ]
    is_admin = current_user.role == Role.ADMIN
    return render_template(
        "cases/queue.html",
        page=page,
        filters=filters,
        country_options=country_options,
        assignable=page.assignable,
        page_url=page_url,
        case_url=case_url,
        sort_url=sort_url,
        view_url=view_url,
        all_open_url=all_open_url,
        sealed_rows=sealed_rows,
        search_key_id=page.search_key_id,
        format_number=format_number,
        can_write=can_write,
        searching=bool(filters.q or filters.tokens),
        # A search by words that found nothing: the words may be a country, which the answers
        # need not name (it is a routing fact). case-queue.js offers the Country filter then.
        country_names=vocab.countries_by_name() if filters.tokens and not page.rows else None,
        # A search by words finds only the cases with search tokens: say how many it cannot.
        unsearchable=search.backlog(page.search_key_id).unindexed if filters.tokens else 0,
        # Key holders' browsers index the rest in the background (search-backlog.js).
        backlog_url=url_for("cases.search_backlog") if can_write else "",
        filtered=any(k not in ("view", "sort", "lang") for k in args),
        shown_rows=shown_rows,
        reference_pattern=REFERENCE_INPUT_PATTERN,
        # An admin lands here after signing in: a halted worker or scheduler is said here
        # too, not only on /admin below its checklist (one small read, for admins only).
        processes=heartbeats.status(now) if is_admin else None,
        # Colleagues who wait for the key, said to an admin who can grant it (it was only a
        # line on /admin; nothing where an admin spends the day).
        waiting_for_key=(
            len(keys.colleagues_needing_grant(page.search_key_id))
            if is_admin and not page.lacks_key
            else 0
        ),
        **words.for_template(),
        **labels_now,
    )


@bp.get("/search-backlog")
@role_required(*CASE_WRITERS)
def search_backlog() -> PageResponse:
    """The next few cases not yet searchable under the current organisation key, as
    ciphertext, for a key holder's browser to index in the background (search-backlog.js),
    with how many cases there are and how many are still to index. ``after``: the reference
    the previous batch ended with (a case the browser could not open is not asked for again);
    ``limit``: at most MAX_BACKLOG_BATCH. Viewers write no tokens, so are not asked."""
    after = request.args.get("after", "")
    raw_limit = request.args.get("limit", "") or str(search.BACKLOG_BATCH)
    digits = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3
    limit = int(raw_limit) if digits else 0
    if (after and not REF_PATTERN.match(after)) or not 1 <= limit <= search.MAX_BACKLOG_BATCH:
        return error_response(400, _("The request could not be understood. Nothing was changed."))
    current = keys.current_org_key()
    key_id = current.id if current is not None else None
    cases = (
        search.unindexed_batch(key_id, after or None, limit, current_user)
        if key_id is not None
        else []
    )
    tokens_url = url_for("cases.search_tokens", ref=REF_SLOT)
    for case in cases:
        case["tokens_url"] = tokens_url.replace(REF_SLOT, case["ref"])
    counts = search.backlog(key_id)
    response = jsonify(
        {
            "org_key_id": key_id,
            "total": counts.total,
            "unindexed": counts.unindexed,
            "cases": cases,
            "next": cases[-1]["ref"] if len(cases) == limit else None,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# search.MAX_TOKENS tokens of 32 hex digits and a separator each, with room for the CSRF token
# and the other fields.
MAX_TOKENS_BODY = search.MAX_TOKENS * 33 + 32 * 1024


@bp.post("/<ref>/search-tokens")
@role_required(*CASE_WRITERS)
def search_tokens(ref: str) -> PageResponse:
    """Keyed search tokens of one case, computed in a key holder's browser (search.js)."""
    if (request.content_length or 0) > MAX_TOKENS_BODY:
        return error_response(413, _("What you sent is too large. Nothing was saved."))
    case = _case_or_404(ref)
    raw_key = request.form.get("org_key_id", "")
    if not (raw_key.isascii() and raw_key.isdigit() and len(raw_key) <= 9):
        return error_response(400, _("The search tokens need the key they were made with."))
    # The newest searchable message the tokens include (search.js): a newer one keeps the case
    # to be indexed again.
    raw_through = request.form.get("through", "0") or "0"
    if not (raw_through.isascii() and raw_through.isdigit() and len(raw_through) <= 9):
        return error_response(400, _("The request could not be understood. Nothing was changed."))
    tokens = request.form.get("tokens", "").split()
    try:
        count = search.store_tokens(
            case, int(raw_key), tokens, current_user, through_message_id=int(raw_through)
        )
    except SearchError as exc:
        return error_response(exc.status, str(exc))
    return jsonify({"ref": case.ref, "tokens": count})


def _detail(
    case: Case,
    status: int = 200,
    *,
    status_form: StatusForm | None = None,
    new_since: datetime | None = None,
    assign_choice: int | None = None,
) -> PageResponse:
    """Render the case page. Only the GET route records the view; a refused change that shows
    the page again writes nothing. ``new_since``: the submitter's follow-ups from then on were
    unseen until this view, and are shown as new. ``assign_choice``: whom a refused assignment
    asked for, kept in the list (the page still says who holds the case)."""
    from intake.cases.consent import page_context as consent_section  # imports this module

    people = casework.people_of(case)
    assign_form = AssignForm()
    # Only people who can sign in and open this case: its reminders go to whoever holds it.
    holders = casework.assignable_users(case.org_key_id)
    holder_ids = {u.id for u in holders}
    assign_form.assignee.choices = [SelectChoice("", _("Nobody"))] + [
        SelectChoice(str(u.id), u.email) for u in holders
    ]
    shown = assign_choice if assign_choice in holder_ids else case.assignee_id
    assign_form.assignee.data = str(shown) if shown in holder_ids else ""
    case_referrals = casework.referrals_for(case)
    note_key = keys.current_org_key()
    now = utcnow()
    next_action = case_page.next_action(case, case_referrals, now, str(get_locale() or "en"))
    html = render_template(
        "cases/detail.html",
        case=case,
        assignee=people.assignee,
        # Assigned before they could act (or since then unable): the page says so.
        assignee_cannot_act=case.assignee_id is not None and case.assignee_id not in holder_ids,
        # A deactivated holder will never act: the case needs someone else, said as such.
        assignee_deactivated=people.assignee is not None and not people.assignee.is_active_account,
        i_can_hold=current_user.id in holder_ids,
        authors=people.authors,
        case_key=db.session.get(OrgKey, case.org_key_id),
        note_key=note_key,
        # A key holder's browser computes the case's search tokens when they are missing or
        # no longer cover it (a follow-up or note came since): viewers write nothing.
        search_stale=_can_write()
        and note_key is not None
        and not search.is_indexed(case, note_key.id),
        can_write=_can_write(),
        transitions=casework.allowed_transitions(case),
        retention_days=retention.retention_days(),
        deleted_after=retention.deleted_after(case.closed_at)
        if case.status == CaseStatus.CLOSED
        else None,
        status_form=status_form or StatusForm(formdata=None),
        assign_form=assign_form,
        hold_form=PublicStatusHoldForm(),
        note_form=NoteForm(),
        reply_form=ReplyForm(),
        first_response_due=casework.first_response_due(case),
        next_action=next_action,
        next_words=(
            next_action_words(next_action.said, now, say_late=False)
            if next_action is not None and next_action.said is not None
            else ""
        ),
        thread=case_page.thread(case),
        new_message_ids=follow_ups.message_ids_since(case, new_since),
        suggestions=case_page.suggestions(case),
        top_suggestions=case_page.TOP_SUGGESTIONS,
        now=now,
        country_name=vocab.country_name,
        language_name=vocab.language_name,
        address=address_markup,
        answer_labels=labels.answer_labels(),
        referrals=case_referrals,
        referral_detail="referrals.detail",
        referral_url=url_for("referrals.new", ref=case.ref),
        MessageKind=MessageKind,
        **consent_section(case),
        **_labels(),
    )
    return html, status


@bp.get("/<ref>")
@role_required(*STAFF)
def detail(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    # Audited as a view; a caseworker's or admin's view also clears "new message from the
    # submitter", and the page shows which messages were new.
    unread_since = follow_ups.seen(case, current_user)
    return _detail(case, new_since=unread_since)


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


def _refused(
    case: Case,
    message: str,
    status: int = 400,
    *,
    status_form: StatusForm | None = None,
    assign_choice: int | None = None,
) -> PageResponse:
    """The case page again with ``message`` (and a refused status form with its errors beside
    its fields, or a refused assignment's choice), or the message alone for case-view.js."""
    if request.accept_mimetypes.best == "application/json":
        # case-view.js posts sealed notes with fetch and shows the message beside the text.
        return error_response(status, message)
    flash(message, "error")
    return _detail(case, status, status_form=status_form, assign_choice=assign_choice)


def _done(case: Case, message: str) -> WerkzeugResponse:
    flash(message, "success")
    return redirect(url_for("cases.detail", ref=case.ref), code=303)


STATUS_FIELDS = ("status", "outcome", "from_status", "confirmed", "csrf_token")


def _ask_to_close(case: Case, form: StatusForm, awaiting: list[Referral]) -> PageResponse:
    """The step before closing a case whose referrals still await a reply: nothing has changed
    yet. It lists them and says their reminders go on; its form posts again, confirmed."""
    return render_template(
        "cases/close_confirm.html",
        case=case,
        form=form,
        outcome=form.new_outcome,
        awaiting=awaiting,
        confirmed=CLOSE_CONFIRMED,
        now=utcnow(),
        **_labels(),
    )


@bp.post("/<ref>/status")
@role_required(*CASE_WRITERS)
def change_status(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    # One value per field: a second "status" or "outcome" is a request we do not guess at.
    if any(len(request.form.getlist(name)) > 1 for name in STATUS_FIELDS):
        return _refused(case, _("The request could not be understood. Nothing was changed."))
    form = StatusForm()
    if not form.validate():
        if form.status.errors:
            message = _("Choose a status from the list. Nothing was changed.")
        elif form.new_outcome_offered:
            message = _("Nothing was changed: an outcome is recorded only when the case is closed.")
        else:
            message = _("Choose an outcome from the list. Nothing was changed.")
        return _refused(case, message, status_form=form)
    raw_expected = form.from_status.data or ""
    try:
        expected = CaseStatus(raw_expected) if raw_expected else None
    except ValueError:
        return _refused(case, _("Choose a status from the list. Nothing was changed."))
    new_status, outcome = form.new_status, form.new_outcome
    try:
        if new_status == CaseStatus.CLOSED and form.confirmed.data != CLOSE_CONFIRMED:
            casework.check_status_change(case, new_status, outcome, expected)
            awaiting = casework.awaiting_referrals(case)
            if awaiting:
                return _ask_to_close(case, form, awaiting)
        casework.change_status(case, new_status, current_user, outcome, expected=expected)
    except CaseworkError as exc:
        if new_status == CaseStatus.CLOSED and outcome is None:
            form.outcome.errors = [str(exc)]  # the field that is missing
        return _refused(case, str(exc), exc.status, status_form=form)
    moved = str(labels.STATUS_LABELS[new_status])
    if outcome is not None:
        return _done(
            case,
            _(
                "Moved to %(status)s, with the outcome “%(outcome)s”.",
                status=moved,
                outcome=str(labels.OUTCOME_LABELS[outcome]),
            ),
        )
    return _done(case, _("Moved to %(status)s.", status=moved))


def _holder_changed(holder_id: int | None) -> str:
    """A refused assignment: a colleague gave the case to someone (or to nobody) meanwhile."""
    holder = db.session.get(User, holder_id) if holder_id is not None else None
    if holder is not None:
        return _(
            "While you had this case open, it was assigned to %(who)s. Nothing was changed: "
            "assign it again if you still mean to.",
            who=holder.email,
        )
    return _(
        "While you had this case open, someone unassigned it: nobody is assigned to it now. "
        "Nothing was changed: assign it again if you still mean to."
    )


@bp.post("/<ref>/assign")
@role_required(*CASE_WRITERS)
def assign(ref: str) -> PageResponse:
    case = _case_or_404(ref)
    form = AssignForm()
    form.assignee.choices = []
    # One person per request: two values (the old page sent "assignee=&assignee=me", and the
    # empty one won silently) are refused rather than guessed at.
    if len(request.form.getlist("assignee")) != 1:
        return _refused(case, _("Choose someone from the list. Nothing was changed."))
    if not form.validate():
        return _refused(case, _("Choose someone from the list. Nothing was changed."))
    try:
        assignee_id = form.assignee_id(current_user.id)
    except ValueError:
        return _refused(case, _("Choose someone from the list. Nothing was changed."))
    # The holder the page showed. A post without it comes from a page drawn before every assign
    # form carried it (a tab left open over a deploy): it is accepted as before, unchecked,
    # rather than refused with "someone changed this case" when nobody may have. The service
    # still compares-and-sets against the holder this request read.
    try:
        if len(request.form.getlist("from_assignee")) > 1:
            raise ValueError("from_assignee")
        seen = form.seen_holder()
    except ValueError:
        return _refused(case, _("The request could not be understood. Nothing was changed."))
    before = case.assignee_id
    try:
        casework.assign(case, assignee_id, current_user, expected=seen)
    except HolderChanged as exc:
        return _refused(case, _holder_changed(exc.holder_id), 409, assign_choice=assignee_id)
    except CaseworkError as exc:
        return _refused(case, str(exc), exc.status)
    # Who holds it now, and who held it: "Assignment saved." said neither, and "Assign to me"
    # on a colleague's case took it over without a word about them.
    after = db.session.get(User, case.assignee_id) if case.assignee_id is not None else None
    held = db.session.get(User, before) if before not in (None, case.assignee_id) else None
    if after is None:
        if held is not None:
            return _done(
                case,
                _(
                    "Nobody is assigned to this case now (it was with %(before)s).",
                    before=held.email,
                ),
            )
        return _done(case, _("Nobody is assigned to this case now."))
    if held is None:
        return _done(case, _("Assigned to %(who)s.", who=after.email))
    return _done(
        case, _("Assigned to %(who)s (it was with %(before)s).", who=after.email, before=held.email)
    )


@bp.post("/<ref>/public-status")
@role_required(*CASE_WRITERS)
def public_status(ref: str) -> PageResponse:
    """Hold back what the submitter sees, or let it follow the case again."""
    case = _case_or_404(ref)
    form = PublicStatusHoldForm()
    if not form.validate():
        return _refused(case, _("The request could not be understood. Nothing was changed."))
    held = form.hold.data == "1"
    casework.hold_public_status(case, held, current_user)
    if held:
        return _done(case, _("The submitter keeps seeing the current status until you release it."))
    return _done(case, _("The submitter's status follows the case again."))


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
    was_new = case.status == CaseStatus.NEW
    try:
        casework.add_reply(
            case,
            form.sealed_body.data,
            current_user,
            sealed_copy=form.sealed_copy.data or None,
            org_key_id=form.org_key_id.data,
        )
    except CaseworkError as exc:
        return _refused(case, str(exc), exc.status)
    sent = _("Reply sent. The submitter reads it with their receipt code.")
    if was_new:
        sent = sentences(sent, _("This was the first response: the case is now Assessing."))
    return _done(case, sent)
