"""Forms and query-string parsing for the case pages.

Free text never reaches these forms: notes and replies arrive already sealed in the browser
(``sealed_body``), so the server only checks their shape (intake.crypto.validate_sealed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, TypeVar

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from intake import vocab
from intake.forms import StaffForm
from intake.labels import OUTCOME_LABELS, STATUS_LABELS
from intake.models import CaseOutcome, CaseStatus, Urgency
from intake.services.casework import UNSEEN, Unseen
from intake.services.queue import SORTS, VIEWS, QueueFilters

FLAG_LABELS = {
    "new": _l("New"),
    "unassigned": _l("Unassigned"),
    "overdue": _l("Overdue"),
    "due_soon": _l("Due soon"),
    "follow_up": _l("New message from the submitter"),
}
VIEW_LABELS = {
    "action": _l("Action needed"),
    "mine": _l("Mine"),
    "unassigned": _l("Unassigned"),
    "overdue": _l("Overdue"),
    "week": _l("Due this week"),
    "waiting": _l("Waiting on others"),
    "open": _l("All open"),
    "closed": _l("Closed"),
}
SORT_LABELS = {
    "priority": _l("Urgency, then deadline"),
    "priority_desc": _l("Urgency, then deadline, reversed"),
    "ref": _l("Reference"),
    "ref_desc": _l("Reference, reversed"),
    "status": _l("Status"),
    "status_desc": _l("Status, reversed"),
    "country": _l("Country"),
    "country_desc": _l("Country, reversed"),
    "deadline": _l("Nearest deadline first"),
    # The exact reverse (no deadline first, then the farthest): "Farthest deadline first"
    # read wrong above cases that have none.
    "deadline_desc": _l("Due, reversed"),
    "received_desc": _l("Newest first"),
    "received_asc": _l("Oldest first"),
    "updated_desc": _l("Recently updated"),
}

REF_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,24}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# What a search box holds when it is (part of) a reference: "RF-7K2M…", "rf7k", "7K2M", and
# with its prefix as a reference is read aloud or copied from a phone: "RF 7K2M 9QXP".
# Plain words and plain digits are not: those are names, places and phone numbers, which the
# browser turns into keyed search tokens (search.js); the same rule is in search.js.
_REF_QUERY = re.compile(
    r"^(RF[0-9A-Z\s-]{0,22}|(?=[0-9A-Z]*[0-9])(?=[0-9A-Z]*[A-Z])[0-9A-Z]{3,8})$"
)
_REF_SPACES = re.compile(r"\s+")
# The same rule as the search box's pattern (an HTML pattern: anchored, the "v" flag, so "-"
# escaped in a class; either case, as the server upper-cases it). Without JavaScript the
# browser sends nothing else: names, places and phone numbers are only ever keyed in the
# browser (case-queue.js, which lifts the pattern), never sent in the address.
REFERENCE_INPUT_PATTERN = (
    r"\s*(?:[Rr][Ff][0-9A-Za-z\-\s]{0,22}"
    r"|(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{3,8})\s*"
)
SEARCH_TOKEN = re.compile(r"^[0-9a-f]{32}$")  # intake.services.search.TOKEN_HEX
MAX_QUERY_TOKENS = 64


class QueryError(ValueError):
    """A filter value that is not one we offer; the message is safe to show."""


E = TypeVar("E", CaseStatus, Urgency)


def _enum_or_none(enum_cls: type[E], raw: str | None, what: str) -> E | None:
    if not raw:
        return None
    try:
        return enum_cls(raw)
    except ValueError as exc:
        raise QueryError(what) from exc


def looks_like_reference(text: str) -> bool:
    return bool(_REF_QUERY.match(text.strip().upper()))


def reference_query(text: str) -> str:
    """A reference search as references are written: "rf 7k2m 9qxp" is "RF-7K2M9QXP" (a
    reference has no spaces; its prefix ends in a dash)."""
    compact = _REF_SPACES.sub("", text.upper())
    if compact.startswith("RF") and not compact.startswith("RF-"):
        return "RF-" + compact[2:]
    return compact


def _search_tokens(raw: str) -> tuple[str, ...] | None:
    """The keyed tokens of a search made in the browser, or None when they are not that."""
    tokens = tuple(dict.fromkeys(t for t in raw.split(",") if t))
    if not tokens or len(tokens) > MAX_QUERY_TOKENS:
        return None
    if not all(SEARCH_TOKEN.match(t) for t in tokens):
        return None
    return tokens


def parse_filters(args: Mapping[str, str]) -> QueueFilters:
    """Read the queue's query string; anything outside the offered values is refused.

    The search box never refuses: a reference searches references; anything else searches
    only as keyed tokens computed in the browser (``t``, ``k``); free text that reached the
    server (no JavaScript, keys locked) is dropped and the page says why (``search_note``).
    """
    view = args.get("view") or "action"
    if view not in VIEWS:
        raise QueryError("view")
    status = _enum_or_none(CaseStatus, args.get("status"), "status")
    urgency = _enum_or_none(Urgency, args.get("urgency"), "urgency")
    threat = args.get("threat") or None
    if threat is not None and threat not in vocab.THREATS:
        raise QueryError("threat")
    country = (args.get("country") or "").strip().upper() or None
    if country is not None and not _COUNTRY.match(country):
        raise QueryError("country")
    assignee = args.get("assignee") or None
    if (
        assignee is not None
        and assignee not in ("me", "unassigned")
        and not (assignee.isascii() and assignee.isdigit() and len(assignee) <= 9)
    ):
        raise QueryError("assignee")
    search_note: str | None = None
    q = (args.get("q") or "").strip()[:200] or None
    if q is not None and looks_like_reference(q):
        q = reference_query(q)
    elif q is not None:
        q, search_note = None, "free_text"
    tokens: tuple[str, ...] = ()
    search_key_id: int | None = None
    if args.get("t"):
        raw_key = args.get("k") or ""
        parsed = _search_tokens(args.get("t") or "")
        if parsed is None or not (raw_key.isascii() and raw_key.isdigit() and len(raw_key) <= 9):
            search_note = "unreadable"
        else:
            tokens, search_key_id = parsed, int(raw_key)
    sort = args.get("sort") or "priority"
    if sort not in SORTS:
        raise QueryError("sort")
    raw_page = args.get("page") or "1"
    if not (raw_page.isascii() and raw_page.isdigit()) or len(raw_page) > 6:
        raise QueryError("page")
    overdue = args.get("overdue") or ""
    if overdue not in ("", "1"):
        raise QueryError("overdue")
    return QueueFilters(
        view=view,
        status=status,
        urgency=urgency,
        threat=threat,
        country=country,
        assignee=assignee,
        overdue=overdue == "1",
        q=q,
        tokens=tokens,
        search_key_id=search_key_id,
        search_note=search_note,
        sort=sort,
        page=int(raw_page),
    )


CLOSE_CONFIRMED = "yes"


class StatusForm(StaffForm):
    """Where a case moves, and its outcome when it closes.

    Nothing is preselected: a default "Move to" once turned "close with this outcome" into
    "move to assessing" and dropped the outcome. An outcome with any status but closed is
    refused beside the field rather than ignored. Whether closing needs an outcome is the
    service's rule (casework.change_status)."""

    status = SelectField(
        _l("Move to"),
        choices=[SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
        validators=[InputRequired(message=_l("Choose where the case moves."))],
        validate_choice=False,
    )
    # The status the caseworker saw when the page was drawn (see casework.change_status).
    from_status = HiddenField(validators=[Optional()])
    # Closing a case whose referrals still await a reply is confirmed first
    # (cases/close_confirm.html): only CLOSE_CONFIRMED closes it; anything else asks.
    confirmed = HiddenField(validators=[Optional()])
    outcome = SelectField(
        _l("Outcome (when closing)"),
        choices=[SelectChoice("", "—")]
        + [SelectChoice(o.value, label) for o, label in OUTCOME_LABELS.items()],
        validators=[Optional()],
        validate_choice=False,
    )

    def validate_status(self, field: SelectField) -> None:
        if field.data not in {s.value for s in CaseStatus}:
            raise ValidationError(_l("Choose where the case moves from the list."))

    def validate_outcome(self, field: SelectField) -> None:
        if field.data not in {o.value for o in CaseOutcome}:
            raise ValidationError(_l("Choose an outcome from the list."))
        if self.status.data != CaseStatus.CLOSED.value:
            raise ValidationError(
                _l(
                    "An outcome is recorded only when the case is closed: choose “Closed”, "
                    "or leave the outcome empty."
                )
            )

    @property
    def new_outcome_offered(self) -> bool:
        """Whether the outcome sent is one we offer (whatever the status)."""
        return (self.outcome.data or "").strip() in {o.value for o in CaseOutcome}

    @property
    def new_status(self) -> CaseStatus:
        return CaseStatus(self.status.data)

    @property
    def new_outcome(self) -> CaseOutcome | None:
        # Optional() reads " " as blank (and skips the checks): that is no outcome either.
        raw = (self.outcome.data or "").strip()
        return CaseOutcome(raw) if raw else None


class AssignForm(StaffForm):
    # "" unassigns, "me" is the signed-in user, otherwise a user id (checked by the service).
    assignee = SelectField(_l("Assigned to"), choices=[], validate_choice=False)
    # Who held the case when the page was drawn: "" nobody, otherwise a user id (see
    # casework.assign). Absent from a page drawn before it was added: see the assign view.
    from_assignee = HiddenField(validators=[Optional()])

    def seen_holder(self) -> int | None | Literal[Unseen.UNSEEN]:
        """The holder the page showed (``None``: nobody; ``UNSEEN``: the page did not say).
        ``ValueError`` for anything but "" or a user id (negative, too long, not digits)."""
        if not self.from_assignee.raw_data:
            return UNSEEN
        raw = (self.from_assignee.data or "").strip()
        if raw == "":
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
            raise ValueError("from_assignee")
        return int(raw)

    def assignee_id(self, me: int) -> int | None:
        # One value per request (the view refuses two): "Assign to me" is a form of its own.
        raw = (self.assignee.data or "").strip()
        if raw == "":
            return None
        if raw == "me":
            return me
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
            raise ValueError("assignee")
        return int(raw)


class PublicStatusHoldForm(StaffForm):
    # "1" holds what the submitter sees at its current value, "0" lets it follow the case.
    hold = HiddenField(validators=[InputRequired(), AnyOf(["0", "1"])])


class NoteForm(StaffForm):
    # Filled by case-view.js with the note sealed to the organisation key; the plaintext
    # textarea has no name and is never submitted.
    sealed_body = HiddenField(validators=[DataRequired(), Length(max=100_000)])
    org_key_id = IntegerField(validators=[DataRequired()])


class ReplyForm(StaffForm):
    sealed_body = HiddenField(validators=[DataRequired(), Length(max=100_000)])
    sealed_copy = HiddenField(validators=[Optional(), Length(max=100_000)])
    org_key_id = IntegerField(validators=[Optional()])
