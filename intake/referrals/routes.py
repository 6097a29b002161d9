"""Staff pages for referrals: what is due, starting a referral, moving it along.

Views are thin: intake.services.referrals owns the rules, transactions and audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from babel.lists import format_list
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import Field
from wtforms.fields.choices import SelectChoice

from intake import clock, collation, labels, vocab
from intake.auth.access import CASE_WRITERS, STAFF, role_required
from intake.db import utcnow
from intake.extensions import db
from intake.forms import EmptyForm
from intake.i18n import sentences
from intake.labels import (
    CONSENT_CHANNEL_LABELS,
    CONSENT_GIVER_LABELS,
    KIND_LABELS,
    REFERRAL_OUTCOME_LABELS,
    STATE_LABELS,
)
from intake.labels import STATUS_LABELS as CASE_STATUS_LABELS
from intake.models import (
    AWAITING,
    Case,
    CaseStatus,
    ConsentPurpose,
    DirectoryEntry,
    OutboxStatus,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    UnStep,
)
from intake.referrals import bp
from intake.referrals.forms import (
    ACTION_DONE,
    ACTION_LABELS,
    CHANNEL_LABELS,
    COMMUNICATION_TYPE_LABELS,
    DATE_INPUT_FORMAT,
    NO_ACTION,
    OVERRIDE_REASON_LABELS,
    RECORDED_DATE_LABELS,
    STEP_LABELS,
    VIEW_LABELS,
    WITHDRAW_CONFIRMED,
    CorrectDateForm,
    OwnerForm,
    ReferralForm,
    TransitionForm,
    UnStepForm,
)
from intake.services import (
    casework,
    consent,
    delivery,
    directory,
    heartbeats,
    referrals,
    reminders,
    reprisals,
    triage,
    un_steps,
)
from intake.services.deadlines import (
    CLOCK_STARTS,
    DUE_SOON_DAYS,
    KINDS_IN_HOURS,
    UN_KINDS,
)
from intake.services.keys import current_org_key
from intake.services.settings import org_zone
from intake.web import error_response

PER_PAGE = 25
EARLIEST_YEAR = 2000  # far enough back for any referral, far from datetime's limits
MAX_SEARCH = 40


def reminder_label(offset_key: str) -> str:
    """Which reminder an offset key is: d7 the one 7 days before, d0 the one on the day,
    overdue-14 the one when 14 days overdue (its slot, not how late the referral is now:
    "14 day(s) overdue — sent" read as today's lateness of a referral 20 days late)."""
    if offset_key == "d0":
        return _("On the day")
    overdue = offset_key.startswith("overdue-")
    days = offset_key.removeprefix("overdue-" if overdue else "d")
    if not days.isdigit():
        return offset_key
    if overdue:
        return ngettext("When %(num)d day overdue", "When %(num)d days overdue", int(days))
    return ngettext("%(num)d day before", "%(num)d days before", int(days))


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
        "outcome_labels": REFERRAL_OUTCOME_LABELS,
        "override_labels": OVERRIDE_REASON_LABELS,
        "view_labels": VIEW_LABELS,
        "reminder_label": reminder_label,
        "outbox_labels": OUTBOX_LABELS,
        "zone": org_zone(),
        "now": utcnow(),
        "due_soon_days": DUE_SOON_DAYS,
    }


def _small_number(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is true) and short enough to fit an id column."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _refusal_status(error: referrals.ReferralError) -> int:
    """What a refused change answers: 409 when the service says it conflicts with what
    happened meanwhile (a colleague moved the referral, or closed its case, after this page
    was read), as the service says it; anything else the form asked is 422."""
    return 409 if error.status == 409 else 422


def _filters() -> referrals.ReferralFilters:
    """The list's filters from the query string; values we do not offer are ignored."""
    args = request.args
    view = args.get("view", "action")
    kind, state, owner = args.get("kind", ""), args.get("state", ""), args.get("owner", "")
    return referrals.ReferralFilters(
        view=view if view in VIEW_LABELS else "action",
        kind=ReferralKind(kind) if kind in set(ReferralKind) else None,
        state=ReferralState(state) if state in set(ReferralState) else None,
        owner=int(owner) if _small_number(owner) else None,
        mine=owner == "me",
        q=args.get("q", "").strip()[:MAX_SEARCH],
    )


@bp.get("/")
@role_required(*STAFF)
def index() -> str:
    filters = _filters()
    page = request.args.get("page", "1")
    page_number = int(page) if _small_number(page) and 0 < int(page) < 100_000 else 1
    now = utcnow()
    # Audited as a listing (which case went to which organisation), as the case queue is.
    pagination = referrals.listing_page(filters, current_user, now, page_number, PER_PAGE)
    rows = list(pagination.items)
    suggestions = referrals.next_best_for(
        [
            referral
            for referral in rows
            if referral.due_at is not None and referral.due_at < now and referral.state in AWAITING
        ]
    )
    return render_template(
        "referrals/index.html",
        view=filters.view,
        pagination=pagination,
        referrals=rows,
        suggestions=suggestions,
        failed_reminders=delivery.failed_referral_ids(referral.id for referral in rows),
        # A UN referral's date is a check with the mandate until the UN writes to the
        # government (un_steps.clock_of): said beside it, as the referral page says it.
        un_clocks=un_steps.clocks_of(rows),
        # Reminders only: a security notice is about an account (counted on the admin pages).
        failed_reminder_count=delivery.failed_emails().reminders,
        # For admins, who can fix the mail settings: e-mails the mail server refuses now.
        mail_failing=delivery.mail_failing() if current_user.role == Role.ADMIN else None,
        processes=heartbeats.status(now),
        is_admin=current_user.role == Role.ADMIN,
        overview=referrals.overview(now, bounded=True),
        reprisals_season=reprisals.season(now),
        can_write=current_user.role in CASE_WRITERS,
        mine=referrals.overview(now, owner_id=current_user.id, bounded=True),
        owners=casework.assignable_users(include_inactive=True),
        args=request.args,
        filtered=bool(filters.q or filters.kind or filters.state or filters.owner or filters.mine),
        page_args={key: value for key, value in request.args.items() if key != "page"},
        **_labels(),
    )


def _suggested_group() -> str:
    return _("Triage suggestions, best first")


def _entry_choices(case: Case, entries: list[DirectoryEntry]) -> list[SelectChoice]:
    names = {entry.id: vocab.entry_name(entry) for entry in entries}  # in the reader's language
    entries = collation.by_name(entries, lambda entry: names[entry.id], str(get_locale() or "en"))
    by_id = {entry.id: entry for entry in entries}
    suggested = [s["id"] for s in triage.current_suggestions(case) if s.get("id") in by_id]
    # No preset: the caseworker chooses. Triage suggestions first, then everything by name.
    first_group, rest_group = _suggested_group(), _("All entries")
    return (
        [SelectChoice("", _("— Choose an organisation or mechanism —"))]
        + [SelectChoice(entry_id, names[entry_id], optgroup=first_group) for entry_id in suggested]
        + [
            SelectChoice(entry.id, names[entry.id], optgroup=rest_group)
            for entry in entries
            if entry.id not in suggested
        ]
    )


def _owner_choices(case: Case) -> list[SelectChoice]:
    """Who can own a new referral of ``case``: reminders go to the owner, so only people
    who can sign in and open the case (casework.able_to_act)."""
    return [
        SelectChoice(user.id, user.email) for user in casework.assignable_users(case.org_key_id)
    ]


def _case_for(ref: str | None) -> Case:
    case = casework.get_case(ref or "")
    if case is None:
        abort(404)
    return case


def _clock_words(starts: str) -> str:
    if starts == "case_received":
        return _("counted from when the case was received")
    if starts == "created":
        return _("the next yearly cut-off")
    if starts == "un_follow_up":
        return _(
            "a check with the mandate if it is submitted now; the government's deadline "
            "starts when the mandate writes to it"
        )
    return _("if it is sent now; the clock starts when you mark it as sent")


# The consent purposes some kind of referral is for.
PURPOSES_OF_REFERRALS = frozenset(consent.purpose_for(kind) for kind in ReferralKind)


def _kinds_needing(missing: list[ConsentPurpose]) -> dict[str, str]:
    """The kinds, as one phrase in the reader's language, that take a deadline in hours
    (``"hours"``) and that each consent purpose without consent on record is for."""

    def phrase(kinds: list[ReferralKind]) -> str:
        return format_list([str(KIND_LABELS[kind]) for kind in kinds], locale=get_locale())

    needing = {"hours": phrase([kind for kind in KIND_LABELS if kind in KINDS_IN_HOURS])}
    for purpose in missing:
        needing[purpose.value] = phrase(
            [kind for kind in KIND_LABELS if consent.purpose_for(kind) is purpose]
        )
    return needing


def _kinds_by_entry(
    case: Case, entries: list[DirectoryEntry], known: consent.OnRecord
) -> dict[str, Any]:
    """For referral-new.js: each entry's kinds (the one to suggest for this case first) and the
    deadline each implies, computed here by the same rule the referral will get
    (deadlines.due_at); whether the kind takes a deadline in hours, the consent purpose it
    needs, and whether consent on record covers it (to share, with this organisation)."""
    now = utcnow()
    table: dict[str, Any] = {}
    for entry in entries:
        kinds = []
        for kind in referrals.kinds_for(entry, case.urgency):
            implied = referrals.implied_due(case, entry, kind, now=now)
            kinds.append(
                {
                    "kind": kind.value,
                    "due": clock.local_text(implied.due_at),
                    "due_utc": clock.iso_utc(implied.due_at),
                    "clock": _clock_words(implied.clock_starts),
                    # A clock from the case's arrival may have run out before the referral
                    # starts (an embassy's 24 hours, on a case months old): said before saving.
                    "passed": implied.due_at <= now,
                    "hours": kind in KINDS_IN_HOURS,
                    "purpose": consent.purpose_for(kind).value,
                    "consent": known.allows(kind, entry.id),
                }
            )
        table[entry.id] = kinds
    return table


@bp.route("/new", methods=["GET", "POST"])
@role_required(*CASE_WRITERS)
def new() -> str | Response | tuple[str, int]:
    case = _case_for(request.args.get("ref"))
    entries = directory.active_entries()
    by_id = {entry.id: entry for entry in entries}
    form = ReferralForm()
    form.entry_id.choices = _entry_choices(case, entries)
    form.owner_id.choices = _owner_choices(case)
    if request.method == "GET":
        # A "Refer" button on the case page names the entry and its kind; otherwise no preset.
        wanted = by_id.get(request.args.get("entry", ""))
        if wanted is not None:
            form.entry_id.data = wanted.id
            kind = request.args.get("kind", "")
            accepted = [k.value for k in referrals.kinds_for(wanted, case.urgency)]
            form.kind.data = kind if kind in accepted else accepted[0]
        else:
            form.entry_id.data = ""
            form.kind.data = ReferralKind.NGO_REFERRAL.value
        offered = {choice.value for choice in form.owner_id.choices}
        form.owner_id.data = next(
            (who for who in (case.assignee_id, current_user.id) if who in offered), None
        )
    status = 200
    said_above = False  # a refusal flashed already (else one line at the top points below)
    already = None  # the open referral a refused one would have repeated (linked on the page)
    if form.validate_on_submit():
        entry = by_id.get(form.entry_id.data)
        kind = ReferralKind(form.kind.data)
        if entry is None:
            form.entry_id.errors = [_("Choose an organisation or mechanism from the directory.")]
            status = 422
        elif kind not in referrals.accepted_kinds(entry):
            form.kind.errors = [
                _(
                    "%(entry)s does not take this kind of referral. Choose one of its kinds.",
                    entry=vocab.entry_name(entry),
                )
            ]
            status = 422
        else:
            try:
                referral = referrals.create(
                    case.id,
                    entry.id,
                    kind,
                    current_user,
                    owner_id=form.owner_id.data,
                    due_hours=form.due_hours.data,
                    consent_override_reason=form.consent_override_reason.data,
                )
            except referrals.DueHoursRefused as error:
                form.due_hours.errors = [str(error)]
                status = 422
            except referrals.AlreadyReferred as error:
                # The flash cannot hold a link: the list of the case's open referrals above
                # the form marks the one it names.
                flash(str(error), "error")
                said_above = True
                already = error.referral_id
                status = error.status
            except referrals.ReferralError as error:
                if error.code == referrals.REASON_REFUSED:
                    form.consent_override_reason.errors = [str(error)]  # beside the reason
                else:
                    flash(str(error), "error")
                    said_above = True
                status = _refusal_status(error)
            else:
                if referral.kind in UN_KINDS:
                    # A UN referral moves by its dated steps, whose first form the page opens;
                    # a Special Procedures one first needs its submission draft, shown above
                    # them until the submission is recorded.
                    flash(
                        _(
                            "Referral started. When it has gone to the mandate, record it "
                            "below: “Submitted to the mandate”."
                        ),
                        "success",
                    )
                    anchor = "sp-draft" if referral.kind.value.startswith("sp_") else "un-steps"
                    return redirect(
                        url_for("referrals.detail", referral_id=referral.id, _anchor=anchor)
                    )
                flash(_("Referral started. Mark it as sent when it has gone out."), "success")
                return redirect(url_for("referrals.detail", referral_id=referral.id))
    elif request.method == "POST":
        status = 422
    if status == 422 and not said_above:
        # Said at the top too: on a phone the field's message is below the fold, and the page
        # came back looking as if nothing had happened.
        flash(
            _("The referral was not started. Check the form: what to mend is said beside it."),
            "error",
        )
    chosen = by_id.get(form.entry_id.data or "")
    # Until an entry is chosen the kind is only the form's default: nothing is chosen yet.
    kind_chosen = (
        ReferralKind(form.kind.data)
        if chosen is not None and form.kind.data in set(ReferralKind)
        else None
    )
    implied = None
    if chosen is not None and kind_chosen in referrals.accepted_kinds(chosen):
        implied = referrals.implied_due(case, chosen, kind_chosen)
    known = consent.on_record(case)  # read once for the whole form
    # Only purposes a referral can be for (none is for publication).
    missing_consent = [p for p in known.missing_purposes() if p in PURPOSES_OF_REFERRALS]
    # Consent to share recorded for some organisations only: every other one needs its own
    # (the form said nothing, and an admin's refused override had no visible reason field).
    share = ConsentPurpose.SHARE_WITH_ORGANISATION
    share_elsewhere = share not in missing_consent and any(
        not known.covers(share, entry.id) for entry in entries
    )
    purpose_chosen = consent.purpose_for(kind_chosen) if kind_chosen else None
    # The chosen referral (organisation and kind) is not covered by consent on record.
    lacks_consent = (
        chosen is not None and kind_chosen is not None and not known.allows(kind_chosen, chosen.id)
    )
    return (
        render_template(
            "referrals/new.html",
            form=form,
            case=case,
            # The list's first group is triage's (as _entry_choices puts it), if it has one.
            has_suggestions=any(
                choice.optgroup == _suggested_group() for choice in form.entry_id.choices
            ),
            needs_override=bool(missing_consent) or share_elsewhere,
            share_elsewhere=share_elsewhere,
            lacks_consent=lacks_consent,
            missing_consent={p.value: labels.CONSENT_PURPOSE_LABELS[p] for p in missing_consent},
            # What the chosen kind needs, and nothing while no kind is chosen: the script
            # follows the choice. Without it, the rest waits folded under "only for some
            # kinds", each part saying which kinds it is for (kinds_needing).
            purpose_chosen=purpose_chosen.value if purpose_chosen else None,
            hours_shown=kind_chosen in KINDS_IN_HOURS,
            kinds_needing=_kinds_needing(missing_consent + ([share] if share_elsewhere else [])),
            is_admin=current_user.role == Role.ADMIN,
            kinds_by_entry=_kinds_by_entry(case, entries, known),
            # Information sources, funders and pro bono brokers: a referral there may get no
            # answer for one person (a walkthrough could choose the US CDC as a target).
            no_casework=[
                entry.id for entry in entries if triage.NO_DIRECT_CASEWORK in entry.condition_ids()
            ],
            implied=implied,
            implied_clock=_clock_words(implied.clock_starts) if implied else "",
            # Where the case has gone already and still awaits a reply: a second referral
            # there sent the case twice (services.referrals.open_to refuses one).
            open_referrals=casework.awaiting_referrals(case),
            already=already,
            case_closed=case.status == CaseStatus.CLOSED,
            **_labels(),
        ),
        status,
    )


def _referral_or_404(referral_id: int) -> Referral:
    referral = referrals.get(referral_id)
    if referral is None:
        abort(404)
    return referral


@bp.get("/<int:referral_id>")
@role_required(*STAFF)
def detail(referral_id: int) -> str:
    referral = _referral_or_404(referral_id)
    referrals.record_view(referral, current_user)
    return _render_detail(referral, TransitionForm())


# What each UN step's form asks besides the date (UnStepForm fields).
STEP_FIELDS = {
    "submitted": ("channel",),
    "second_message": ("channel",),
    "facts_update": ("channel",),
    "communication_sent": ("communication_type", "reference", "joined_mandates", "due_hours"),
    "reply_received": ("summary",),
    "published": ("link",),
    "press_release": ("link",),
    "further_communication": ("reference", "joined_mandates", "link"),
}


def _with_case_moved(done: object, referral: Referral, case_was: CaseStatus) -> str:
    """``done``, and the case's new status when the step moved it: sending a referral made a
    New case Referred, and its "first response due" went, without a word."""
    now = referral.case.status
    if now == case_was:
        return str(done)
    return sentences(done, _("The case is now “%(status)s”.", status=CASE_STATUS_LABELS[now]))


def _owner_form(referral: Referral, formdata: bool = True) -> OwnerForm:
    """Who the referral can be given to: as for a new one (:func:`_owner_choices`), with
    nobody preset when its owner is not among them (a deactivated account, say)."""
    form = OwnerForm() if formdata else OwnerForm(formdata=None)
    offered = [
        SelectChoice(str(choice.value), choice.label) for choice in _owner_choices(referral.case)
    ]
    form.owner_id.choices = [SelectChoice("", _("— Choose a colleague —")), *offered]
    if not formdata:
        owner = str(referral.owner_id)
        form.owner_id.data = owner if any(c.value == owner for c in offered) else ""
    return form


def _render_detail(
    referral: Referral,
    form: TransitionForm,
    step_form: UnStepForm | None = None,
    step_error: str | None = None,
    owner_form: OwnerForm | None = None,
    owner_error: str | None = None,
    date_form: CorrectDateForm | None = None,
) -> str:
    if step_form is not None:
        # A refused step's sealed reference and link go back to be opened into their fields;
        # anything else posted there (text in the clear, say) does not.
        for sealed in (step_form.sealed_reference, step_form.sealed_link):
            if sealed.data and not un_steps.looks_sealed(sealed.data):
                sealed.data = ""
    now = utcnow()
    overdue = referral.due_at is not None and referral.due_at < now and referral.state in AWAITING
    allowed = referrals.allowed_actions(referral)
    is_un = referral.kind in UN_KINDS
    steps = un_steps.steps_of(referral) if is_un else []
    if is_un:
        # A UN referral moves by its steps; only closing and withdrawing stay generic.
        allowed = [action for action in allowed if action not in referrals.ACTION_STEPS]
    next_up = un_steps.next_steps(referral, steps) if is_un else []
    # Sending (a UN referral: its submission) from a closed case is refused
    # (referrals.apply_transition): not offered, and the page says how to reopen the case.
    # What else a referral of a closed case can take, it still can (a reply that arrives
    # after the case closed, withdrawing a draft, closing the referral).
    unsendable = referral.case.status == CaseStatus.CLOSED and (
        "send" in allowed or referrals.ACTION_STEPS["send"] in next_up
    )
    if unsendable:
        allowed = [action for action in allowed if action != "send"]
        next_up = [step for step in next_up if step != referrals.ACTION_STEPS["send"]]
    form.action.choices = [
        NO_ACTION,
        *(SelectChoice(action, ACTION_LABELS[action]) for action in allowed),
    ]
    draft = (
        reprisals.draft_facts(referral) if referral.kind is ReferralKind.REPRISALS_REPORT else None
    )
    reminder_rows = referrals.reminders_of(referral)
    owner_left = referral.owner is not None and not referral.owner.is_active_account
    awaiting = referral.state in AWAITING
    # Reminders of the deadline as it is now: those of a deadline since moved (a UN step, a
    # corrected date) stay listed, and the new one's schedule is said too.
    current = any(reminders.of_current_deadline(row, referral) for row in reminder_rows)
    # The schedule, and whom it reminds: said while it runs, before its first reminder, and
    # while its owner's account is deactivated (it reads every active staff id to find whom:
    # once, when asked). A referral no longer awaiting a reply has none.
    schedule = reminders.schedule_of(referral) if awaiting and (not current or owner_left) else None
    can_write = current_user.role in CASE_WRITERS
    return render_template(
        "referrals/detail.html",
        referral=referral,
        form=form,
        # Consent withdrawn since: said while the referral still runs (DESIGN §5).
        withdrawal=consent.withdrawal_against(referral.case, referral.kind, referral.entry_id)
        if awaiting
        else None,
        owner_left=owner_left,
        # Whom its reminders go to while its owner's account is deactivated.
        stand_in=schedule.recipient if schedule and owner_left and awaiting else None,
        owner_form=owner_form or _owner_form(referral, formdata=False),
        owner_error=owner_error,
        can_change_owner=awaiting and can_write,
        allowed=allowed,
        reminders=reminder_rows,
        schedule=None if current else schedule,
        overdue=overdue,
        suggestion=referrals.next_best(referral) if overdue else None,
        can_write=can_write,
        is_admin=current_user.role == Role.ADMIN,
        resend_form=EmptyForm(),
        note_key=current_org_key(),
        is_un=is_un,
        un_steps=steps,
        un_clock=(un_steps.clock_of(referral, steps) if is_un else None) or "follow_up",
        next_steps=[step.value for step in next_up],
        reopen_to=CASE_STATUS_LABELS[CaseStatus.ASSESSING] if unsendable else None,
        step_form=step_form or UnStepForm(formdata=None),
        # Built for those who may correct a date only (viewers never see the form).
        date_form=date_form or (_date_form(referral, steps, formdata=False) if can_write else None),
        date_refused=date_form is not None,
        step_failed=step_form.step.data if step_form is not None else None,
        step_error=step_error,
        # A refused reply's summary, still sealed: shown back (opened in the browser) when its
        # form is no longer on the page, so that what was typed can be copied.
        refused_summary=(step_form.sealed_summary.data or None) if step_form is not None else None,
        refused_summary_key_id=(step_form.org_key_id.data or "") if step_form is not None else "",
        step_labels=STEP_LABELS,
        step_fields=STEP_FIELDS,
        channel_labels=CHANNEL_LABELS,
        communication_type_labels=COMMUNICATION_TYPE_LABELS,
        reprisals_draft=draft,
        reprisals_draft_facts=reprisals.browser_facts(referral, draft) if draft else None,
        consent_giver_labels=CONSENT_GIVER_LABELS,
        consent_channel_labels=CONSENT_CHANNEL_LABELS,
        **_labels(),
    )


def _date_form(
    referral: Referral, steps: Sequence[UnStep] | None = None, formdata: bool = True
) -> CorrectDateForm:
    """The "Correct a date" form, its choices the referral's dates on record, each with the
    date it holds: a UN referral's steps (``step-<id>``), else its own dates."""
    form = CorrectDateForm() if formdata else CorrectDateForm(formdata=None)
    known = (
        (un_steps.steps_of(referral) if steps is None else steps)
        if referral.kind in UN_KINDS
        else []
    )
    if known:
        dates = [
            (f"step-{step.id}", STEP_LABELS[step.kind.value], step.happened_at) for step in known
        ]
    else:  # an organisation's referral, or a UN one from before its steps were recorded
        dates = [
            (which, RECORDED_DATE_LABELS[which], getattr(referral, referrals.RECORDED_DATES[which]))
            for which in referrals.recorded_dates(referral)
        ]
    # Nothing chosen first: a caseworker who only typed the new date corrected the first one.
    form.which.choices = [
        SelectChoice("", _("— Choose a date —")),
        *(
            # data-at: the date as the field takes it, for correct-date.js to put there.
            SelectChoice(
                value,
                f"{label} — {clock.local_text(when)}",
                render_kw={"data-at": when.astimezone(org_zone()).strftime(DATE_INPUT_FORMAT)},
            )
            for value, label, when in dates
        ),
    ]
    return form


@bp.post("/<int:referral_id>/correct-date")
@role_required(*CASE_WRITERS)
def correct_date(referral_id: int) -> Response | tuple[str, int]:
    """Correct a recorded date; the deadline follows (``referrals.correct_date``,
    ``un_steps.correct``). A refusal is said beside the date, in the form opened again."""
    referral = _referral_or_404(referral_id)
    form = _date_form(referral)
    blank = _blank_update_form()
    if not form.validate_on_submit():
        return _render_detail(referral, blank, date_form=form), 422
    if form.corrected_at.data.year < EARLIEST_YEAR:
        form.corrected_at.errors = [_("Check the date: it is long before this referral existed.")]
        return _render_detail(referral, blank, date_form=form), 422
    at = form.corrected_at.data.replace(tzinfo=org_zone())
    which = form.which.data
    try:
        if which.startswith("step-"):
            correction = un_steps.correct(referral.id, int(which[5:]), at, current_user)
        else:
            correction = referrals.correct_date(referral.id, which, at, current_user)
    except referrals.ReferralError as error:
        form.corrected_at.errors = [str(error)]
        return _render_detail(referral, blank, date_form=form), 422
    # The new deadline is news only while it runs (a closed referral's is history).
    if (
        correction.moved_deadline
        and correction.due_after is not None
        and referral.state in AWAITING
    ):
        flash(
            _(
                "Date corrected. The deadline is now %(when)s.",
                when=clock.local_text(correction.due_after),
            ),
            "success",
        )
    else:
        flash(_("Date corrected."), "success")
    # At the message and the facts: the form's own #correct-date would be kept by the browser
    # across the redirect, and open the page at a closed form, the result out of sight.
    return redirect(url_for("referrals.detail", referral_id=referral.id, _anchor="main"), code=303)


@bp.post("/<int:referral_id>/un-step")
@role_required(*CASE_WRITERS)
def un_step(referral_id: int) -> Response | tuple[str, int]:
    """Record one dated UN step. The UN reference, the link and the reply's summary arrive
    sealed (js/un-steps.js); the other fields are routing facts, each checked by
    ``un_steps.record``."""
    if referral_id > 2**31 - 1:
        abort(404)
    referral = _referral_or_404(referral_id)
    form = UnStepForm()
    # What went wrong is said inside the step's own form, which the page opens and scrolls to
    # (its action ends in #step-<kind>), not at the top of a long page.
    if not form.validate_on_submit():
        message = _("Check the form: choose a step and a valid date.")
        return _render_detail(referral, _blank_update_form(), form, message), 422
    at = None
    if form.at.data is not None:
        if form.at.data.year < EARLIEST_YEAR:
            message = _("Check the date: it is long before this referral existed.")
            return _render_detail(referral, _blank_update_form(), form, message), 422
        at = form.at.data.replace(tzinfo=org_zone())
    if (form.reference.data or "").strip() or (form.link.data or "").strip():
        # In the clear (an old page, or a client of its own): never stored, nor shown back.
        return _render_detail(referral, _blank_update_form(), form, str(un_steps.NOT_SEALED)), 422
    key_id = form.org_key_id.data or ""
    fields = un_steps.StepFields(
        channel=form.channel.data or None,
        communication_type=form.communication_type.data or None,
        sealed_reference=form.sealed_reference.data or None,
        joined_mandates=(form.joined_mandates.data or "").strip() or None,
        sealed_link=form.sealed_link.data or None,
        due_hours=form.due_hours.data,
        sealed_summary=form.sealed_summary.data or None,
        org_key_id=int(key_id) if _small_number(key_id) else None,
    )
    case_was = referral.case.status
    try:
        un_steps.record(
            referral.id, un_steps.UnStepKind(form.step.data), current_user, at=at, fields=fields
        )
    except referrals.ReferralError as error:
        message, status = str(error), error.status
        steps = un_steps.steps_of(referral)
        if steps and form.step.data not in {
            step.value for step in un_steps.next_steps(referral, steps)
        }:
            # A colleague recorded another step while this page was open: the step's form is
            # gone from the page, and its refusal with it (a review with two colleagues: the
            # second was refused without a word, and their typed summary lost).
            message = _(
                "Not recorded: this referral has moved on since you opened the page. Its latest "
                "step is “%(latest)s”. Nothing was saved.",
                latest=STEP_LABELS[steps[-1].kind.value],
            )
            status = 409
        return _render_detail(referral, _blank_update_form(), form, message), status
    flash(_with_case_moved(_("Step recorded."), referral, case_was), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id, _anchor="main"), code=303)


def _blank_update_form() -> TransitionForm:
    """The "Withdraw or close" form beside a refused UN step: empty (read from the request, it
    took up the step's refused date, which both forms name "at")."""
    return TransitionForm(formdata=None)


def _refused_beside(
    referral: Referral, form: TransitionForm, field: Field, message: str
) -> tuple[str, int]:
    """The update form again with ``message`` beside ``field`` (a date before the referral was
    sent, say), and a flash that points to it: a refusal said only in the flash, at the top
    of a long page, left the date field looking right."""
    field.errors = [*field.errors, message]
    # Not "choose what happened and a valid date": the refusal may be about the outcome.
    flash(_("The referral was not updated. What to mend is said beside the form."), "error")
    return _render_detail(referral, form), 422


@bp.post("/<int:referral_id>/transition")
@role_required(*CASE_WRITERS)
def transition(referral_id: int) -> Response | tuple[str, int]:
    referral = _referral_or_404(referral_id)
    form = TransitionForm()
    form.action.choices = [
        NO_ACTION,
        *(SelectChoice(key, label) for key, label in ACTION_LABELS.items()),
    ]
    if not form.validate_on_submit():
        flash(_("Check the form: choose what happened and a valid date."), "error")
        return _render_detail(referral, form), 422
    at = None
    if form.at.data is not None:
        if form.at.data.year < EARLIEST_YEAR:
            return _refused_beside(
                referral,
                form,
                form.at,
                _("Check the date: it is long before this referral existed."),
            )
        at = form.at.data.replace(tzinfo=org_zone())
    if form.action.data == "withdraw" and form.confirmed.data != WITHDRAW_CONFIRMED:
        if "withdraw" not in referrals.allowed_actions(referral):
            flash(_("This referral can no longer be withdrawn."), "error")
            return _render_detail(referral, form), 409
        form.confirmed.data = WITHDRAW_CONFIRMED
        return render_template(
            "referrals/withdraw_confirm.html", referral=referral, form=form, **_labels()
        ), 200
    case_was = referral.case.status
    try:
        referrals.transition(
            referral.id, form.action.data, current_user, at=at, outcome=form.outcome.data or None
        )
    except referrals.ReferralError as error:
        field = {referrals.DATE_REFUSED: form.at, referrals.OUTCOME_REFUSED: form.outcome}.get(
            error.code
        )
        if field is not None:
            return _refused_beside(referral, form, field, str(error))
        flash(str(error), "error")
        return _render_detail(referral, form), _refusal_status(error)
    done = form.action.data
    if done == "send" and CLOCK_STARTS[referral.kind] != "sent":
        done = "send_fixed_clock"
    flash(_with_case_moved(ACTION_DONE[done], referral, case_was), "success")
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
        if request.accept_mimetypes.best == "application/json":
            # referral-note.js posts with fetch and shows the message beside the text.
            return error_response(error.status, str(error))
        flash(str(error), "error")
        return _render_detail(referral, TransitionForm()), error.status
    flash(_("Note saved, encrypted to the organisation key."), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)


@bp.post("/<int:referral_id>/owner")
@role_required(*CASE_WRITERS)
def change_owner(referral_id: int) -> Response | tuple[str, int]:
    """Give the referral, and its reminders, to another colleague who can open its case."""
    if referral_id > 2**31 - 1:
        abort(404)
    referral = _referral_or_404(referral_id)
    form = _owner_form(referral)
    chosen = (form.owner_id.data or "") if form.validate_on_submit() else ""
    # One choice, as the deactivation's handover asks: a field sent twice is refused, not
    # read as its first value.
    if len(request.form.getlist("owner_id")) != 1 or not _small_number(chosen):
        error = _("Choose a colleague from the list.")
        return _render_detail(referral, TransitionForm(), owner_form=form, owner_error=error), 422
    if int(chosen) == referral.owner_id and referral.owner is not None:
        # Nothing changes (the list shows the owner chosen): said as such, not as a change.
        flash(_("The referral already belongs to %(email)s.", email=referral.owner.email), "info")
        return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)
    try:
        referrals.change_owner(referral.id, int(chosen), current_user)
    except referrals.ReferralError as error:
        if referral.state not in AWAITING:  # the page shows no owner form to say it beside
            flash(str(error), "error")
        page = _render_detail(referral, TransitionForm(), owner_form=form, owner_error=str(error))
        return page, error.status
    db.session.refresh(referral)
    flash(
        _(
            "The referral now belongs to %(email)s: its reminders go to them.",
            email=referral.owner.email if referral.owner else "—",
        ),
        "success",
    )
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)
