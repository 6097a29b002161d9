"""A report as labelled tables, in the user's language: the page and the CSV show the same.

Small-cell suppression is applied here, once, so the HTML and the CSV cannot disagree: in the
breakdowns by country and by profile a count from 1 to 4 becomes "<5" (totals stay exact), and
suppressed rows are listed by name, not by size, so their order gives nothing away. Totals are
exact, so arithmetic must not undo it: a country alone below 5 is not named (the total less
the others is its count), and a period of fewer than 5 requests is not broken down by country
or profile at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from intake import collation
from intake.i18n import sentences
from intake.labels import KIND_LABELS, OUTCOME_LABELS, STATE_LABELS, STATUS_LABELS
from intake.models import CaseStatus, ReferralKind, ReferralState
from intake.services.reports import ADHERENCE, SMALL_CELL, SUPPRESSED, Report, ordered, suppress
from intake.vocab import PROFILES, THREATS, URGENCIES, country_name, name_for_reader

SEALED_LABELS = {
    "browser": _l("Sealed in the browser"),
    "server": _l("Sealed on the server (JavaScript off)"),
}
CONSENT_LABELS = {
    True: _l("Consent to share recorded"),
    False: _l("No consent recorded"),
}
ADHERENCE_LABELS = {
    # Finished referrals; those still waiting (acknowledged ones too) are counted below, as
    # /referrals counts them (services.reports._adherence).
    "on_time": _l("Finished: acknowledged or answered by the due date"),
    "late": _l("Finished: acknowledged or answered after the due date"),
    "overdue": _l("Still awaiting an answer, overdue"),
    "not_yet_due": _l("Still awaiting an answer, not yet due"),
    "ended_without_reply": _l("Ended without an answer (no reply, closed or withdrawn)"),
    "no_deadline": _l("No due date (clock not started)"),
}
REMINDER_LABELS = {
    "reminder": _l("Deadline reminders"),
    "digest": _l("Daily digests"),
}


@dataclass
class Row:
    label: str
    value: int | str


@dataclass
class Table:
    key: str
    title: str
    item_header: str
    value_header: str
    rows: list[Row]
    note: str = ""
    suppressed: bool = False
    total: int | None = None


def _locale() -> str:
    return str(get_locale() or "en")


def _label(labels: Mapping[Any, Any], key: Any) -> str:
    label = labels.get(key)
    return str(label) if label is not None else str(key)


def _rows(counts: Iterable[tuple[Any, int]], labels: Mapping[Any, Any]) -> list[Row]:
    return [Row(_label(labels, key), count) for key, count in counts]


def _suppressed_rows(counts: Iterable[tuple[str, int]], zeros: bool = False) -> list[Row]:
    """Rows with exact counts (largest first), then the suppressed ones by name, then (with
    ``zeros``) the empty ones by name."""
    pairs = list(counts)
    locale = _locale()
    by_name = collation.by_name([(label, n) for label, n in pairs], lambda p: p[0], locale)
    shown = sorted(((label, n) for label, n in by_name if n >= 1), key=lambda p: -p[1])
    exact = [Row(label, n) for label, n in shown if suppress(n) == n]
    small = [label for label, n in by_name if n >= 1 and suppress(n) != n]
    empty = [label for label, n in by_name if n < 1] if zeros else []
    return exact + [Row(label, SUPPRESSED) for label in small] + [Row(label, 0) for label in empty]


def _country_rows(countries: Mapping[str | None, int]) -> list[Row]:
    """The suppressed breakdown by country, whose rows add up to the total: with one country
    alone shown as "<5", the total less the others gave its exact count (a review), so that
    one is not named either."""
    rows = _suppressed_rows((country_label(code), n) for code, n in countries.items())
    small = [row for row in rows if row.value == SUPPRESSED]
    if len(small) == 1:
        small[0].label = _("Another country (fewer than 5 requests)")
    return rows


def country_label(code: str | None) -> str:
    if not code:
        return _("Country not given")
    return country_name(code, _locale())


def month_label(day: Any) -> str:
    return format_skeleton("yMMM", day, locale=_locale())


def median_text(days: float | None) -> str:
    return "—" if days is None else f"{days:.1f}"


def build_tables(report: Report) -> list[Table]:
    cases, referrals = report.cases, report.referrals
    requests, item = _("Requests"), _("Item")
    suppression_note = _(
        "Counts from 1 to 4 are shown as “%(marker)s” so that no one can be recognised.",
        marker=SUPPRESSED,
    )
    several = _("A request can name several; the rows add up to more than the total.")
    # So few requests that any breakdown of them by country or profile could point at one.
    few = 0 < cases.total < SMALL_CELL
    too_few = _(
        "Fewer than 5 requests in this period: not shown by country or by profile, so that no"
        " one can be recognised."
    )
    tables = [
        Table(
            "summary",
            _("Key figures"),
            item,
            _("Count"),
            [
                Row(_("Requests received"), cases.total),
                Row(_("Requests with a referral sent"), cases.referred),
                Row(
                    _("Median days from request to first referral sent"),
                    median_text(cases.median_days_to_referral),
                ),
                Row(_("Referrals sent or started"), referrals.total),
                Row(_("Reminder e-mails sent"), report.reminders_total),
            ],
        ),
        Table(
            "per_month",
            _("Requests received per month"),
            _("Month"),
            requests,
            [Row(month_label(month.first_day), count) for month, count in cases.per_month],
            total=cases.total,
        ),
        Table(
            "urgency",
            _("Requests by urgency"),
            _("Urgency"),
            requests,
            _rows(ordered(cases.urgency, URGENCIES), URGENCIES),
            total=cases.total,
        ),
        Table(
            "threats",
            _("Requests by threat type"),
            _("Threat type"),
            requests,
            sorted(
                _rows(ordered(cases.threats, THREATS), THREATS),
                key=lambda row: -int(row.value),
            ),
            note=several,
        ),
        Table(
            "profiles",
            _("Requests by profile"),
            _("Profile"),
            requests,
            []
            if few
            else _suppressed_rows(
                ((_label(PROFILES, key), n) for key, n in ordered(cases.profiles, PROFILES)),
                zeros=True,
            ),
            note=too_few if few else sentences(several, suppression_note),
            suppressed=True,
        ),
        Table(
            "countries",
            _("Requests by country"),
            _("Country"),
            requests,
            [] if few else _country_rows(cases.countries),
            note=too_few if few else suppression_note,
            suppressed=True,
            total=None if few else cases.total,
        ),
        Table(
            "sealed_by",
            _("Where the request was encrypted"),
            item,
            requests,
            _rows(ordered(cases.sealed_by, SEALED_LABELS), SEALED_LABELS),
            total=cases.total,
        ),
        Table(
            "consent",
            _("Consent"),
            item,
            requests,
            [Row(str(CONSENT_LABELS[key]), cases.consent.get(key, 0)) for key in (True, False)],
            total=cases.total,
        ),
        Table(
            "status",
            _("Requests by status today"),
            _("Status"),
            requests,
            _rows(ordered(cases.status, [s.value for s in CaseStatus]), STATUS_LABELS),
            total=cases.total,
        ),
        Table(
            "outcome",
            _("Closed requests by outcome"),
            _("Outcome"),
            requests,
            _rows(ordered(cases.outcome, [str(o.value) for o in OUTCOME_LABELS]), OUTCOME_LABELS),
            total=sum(cases.outcome.values()),
        ),
        Table(
            "referral_kind",
            _("Referrals by kind"),
            _("Referral kind"),
            _("Referrals"),
            _rows(ordered(referrals.kind, [k.value for k in ReferralKind]), KIND_LABELS),
            total=referrals.total,
        ),
        Table(
            "referral_state",
            _("Referrals by state today"),
            _("State"),
            _("Referrals"),
            _rows(ordered(referrals.state, [s.value for s in ReferralState]), STATE_LABELS),
            total=referrals.total,
        ),
        Table(
            "referral_entries",
            _("Organisations and mechanisms referred to most (top 10)"),
            _("Organisation or mechanism"),
            _("Referrals"),
            [Row(name_for_reader(e.name, e.name_zh), e.count) for e in referrals.entries],
        ),
        Table(
            "deadlines",
            _("Deadlines"),
            item,
            _("Referrals"),
            _rows(ordered(referrals.adherence, ADHERENCE), ADHERENCE_LABELS),
            total=referrals.total,
        ),
        Table(
            "reminders",
            _("Reminder e-mails sent"),
            _("E-mail kind"),
            _("E-mails"),
            _rows(ordered(report.reminders, REMINDER_LABELS), REMINDER_LABELS),
            total=report.reminders_total,
        ),
    ]
    return tables


def _zoned(moment: datetime, zone: tzinfo) -> str:
    """ "2026-12-06 22:40 (UTC+08:00)": a moment in ``zone``, with its offset."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage
    return) gets a leading apostrophe (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csv_rows(report: Report, tables: list[Table]) -> list[list[str]]:
    period = report.period
    header: list[list[Any]] = [
        [_("Table"), _("Item"), _("Value")],
        [_("Period"), _("First day"), period.start.isoformat()],
        [_("Period"), _("Last day (included)"), period.end.isoformat()],
        [_("Period"), _("Time zone"), period.zone.key],
        # In the report's zone, as its days are counted (it was UTC beside "Asia/Taipei").
        [_("Period"), _("Generated"), _zoned(report.generated_at, period.zone)],
    ]
    body: list[list[Any]] = []
    for table in tables:
        for row in table.rows:
            body.append([table.title, row.label, row.value])
        if table.total is not None and table.key != "summary":
            body.append([table.title, _("Total"), table.total])
        if table.note:
            body.append([table.title, _("Note"), table.note])
    return [[csv_cell(cell) for cell in row] for row in header + body]
