"""The queue's words per row, in the reader's language: the next action, the place.

A page of 25 rows asked Flask-Babel for each string (a walk through the request's globals
and locale every time) and called the name look-ups from the template; these take the
reader's translations and locale once per page (:class:`PageWords`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from intake import clock, vocab
from intake.db import utcnow
from intake.models import CaseStatus, Urgency
from intake.services.queue import NextAction, QueueCase, QueueRow


@dataclass(frozen=True)
class PageWords:
    """The reader's translations and locale, looked up once per page. ``gettext`` and
    ``ngettext`` do what Flask-Babel's do with them (the `_()` calls below are still
    extracted into the catalogue)."""

    translations: Any
    locale: str

    @classmethod
    def current(cls) -> PageWords:
        return cls(get_translations(), str(get_locale() or "en"))

    def gettext(self, string: str, **variables: Any) -> str:
        text = str(self.translations.ugettext(string))
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return str(self.translations.ungettext(singular, plural, num)) % variables

    def for_template(self) -> dict[str, Any]:
        """``gettext`` and ``ngettext`` for a template's context, where Jinja's `_()` and
        ``ngettext`` find them before the application's (which look the translations up
        again on every call). They do what Jinja's i18n extension does with Flask-Babel's:
        the text is Markup under autoescaping, so every variable is escaped."""
        translations = self.translations

        @pass_context
        def gettext(context: Context, string: str, **variables: Any) -> str:
            text = translations.ugettext(string)
            if context.eval_ctx.autoescape:
                text = Markup(text)  # noqa: S704 (our catalogue's text; variables are escaped)
            return text % variables

        @pass_context
        def ngettext(
            context: Context, singular: str, plural: str, num: int, **variables: Any
        ) -> str:
            variables.setdefault("num", num)
            text = translations.ungettext(singular, plural, num)
            if context.eval_ctx.autoescape:
                text = Markup(text)  # noqa: S704 (our catalogue's text; variables are escaped)
            return text % variables

        return {"gettext": gettext, "ngettext": ngettext}


def next_action_words(
    action: NextAction,
    now: datetime | None = None,
    words: PageWords | None = None,
    *,
    say_late: bool = True,
) -> str:
    """What happens next, in words. ``say_late``: an overdue action says how late (the
    queue's row); the case page says it in a badge beside the date instead."""
    now = now or utcnow()
    words = words or PageWords.current()
    _ = words.gettext
    entry = action.entry or ""
    if action.what == "first_response":
        if action.when == "overdue" and action.due is not None:
            late = clock.relative(action.due, now, words)
            return _("First response due — %(late)s", late=late)
        return _("First response due")
    if action.what == "none":
        return _("No deadline")
    if action.when == "waiting":
        return _("Waiting on %(entry)s", entry=entry)
    if action.what == "send":
        text = _("Send the referral to %(entry)s", entry=entry)
    elif action.what == "government_reply":
        text = _("Reply due from the government — referral to %(entry)s", entry=entry)
    elif action.what == "check_mandate":
        text = _("Check with the mandate — referral to %(entry)s", entry=entry)
    else:
        text = _("Answer due from %(entry)s", entry=entry)
    if say_late and action.when == "overdue" and action.due is not None:
        return _("%(action)s, %(late)s", action=text, late=clock.relative(action.due, now, words))
    return text


def place_words(case: QueueCase, words: PageWords) -> tuple[str, str]:
    """The case's country and its languages ("", when none), named in the reader's language."""
    country = vocab.country_name(case.country, words.locale) if case.country else "—"
    languages = vocab.joined(
        (vocab.language_name(code, words.locale) for code in case.languages), words.locale
    )
    return country, languages


# Where an e-mail address may break: after its "@" and before a dot, each piece kept whole.
_BEFORE_A_DOT = re.compile(r"(?=\.)")
_ADDRESS = Markup('<span class="address">{}</span>')
_ADDRESS_PART = Markup("<span>{}</span>")
_ADDRESS_BREAK = Markup("<wbr>")


def address_parts(address: str) -> tuple[str, ...]:
    """An e-mail address in the pieces a narrow cell may put on lines of their own: the "@"
    ends its piece, a dot begins one ("maria.fernanda" / ".rodriguez@" / "defenders-network"
    / ".org"), as an address is broken in print. Never inside a piece: not at the hyphen of
    "defenders-network", where a reader would see a word hyphenated, nor anywhere in a word
    ("maria.fernanda.rodri" / "guez@…", a review)."""
    mailbox, at, domain = address.partition("@")
    parts = [part for part in _BEFORE_A_DOT.split(mailbox) if part] or [""]
    parts[-1] += at
    parts += (part for part in _BEFORE_A_DOT.split(domain) if part)
    return tuple(parts)


@functools.lru_cache(maxsize=512)  # a page shows a few colleagues' addresses, over and over
def address_markup(address: str) -> Markup:
    """``address`` as HTML that breaks only between its :func:`address_parts` (a ``<wbr>``
    between them; refuge.css keeps each piece whole), escaped. Copied or read out, it is the
    address as it is."""
    pieces = (_ADDRESS_PART.format(part) for part in address_parts(address))
    return _ADDRESS.format(_ADDRESS_BREAK.join(pieces))


# The flags a row shows beside its status ("new" is the status itself; "due soon", the action).
_STATUS_BADGES = ("follow_up", "unassigned", "overdue")


class ShownRow(NamedTuple):
    """One queue row as the template shows it: its words and dates already in the reader's
    language, so that the template only places them (per row, it cost more than the query)."""

    ref: str
    url: str
    urgency: str  # the Urgency value, for the row's CSS class
    urgency_label: str
    status_label: str
    badges: tuple[tuple[str, str], ...]  # (CSS suffix, label) of the flags beside the status
    action_when: str
    action_words: str
    due: Markup  # a <time> tag, or "—"
    # How far off the date is, as every staff page says it (clock.relative): "in 2 days 3 h",
    # "1 day 6 h overdue"; "" without a date.
    due_in: str
    country: str
    languages: str
    # The holder's address as address_markup draws it; None when nobody.
    assignee: Markup | None
    assignee_deactivated: bool  # the holder's account is deactivated: the row says so
    assign_url: str  # "" when the reader cannot take the case from the queue


@dataclass(frozen=True)
class RowLabels:
    """The label tables a row reads, translated once for the page."""

    urgency: Mapping[Urgency, str]
    status: Mapping[CaseStatus, str]
    flag: Mapping[str, str]


def shown_row(
    row: QueueRow,
    *,
    now: datetime,
    words: PageWords,
    labels: RowLabels,
    time_tag: Callable[[datetime | None], Markup],
    url: str,
    assign_url: str,
) -> ShownRow:
    """``row`` in the reader's words. ``assign_url`` is kept only for an open case nobody
    holds."""
    case = row.case
    action = row.next_action
    country, languages = place_words(case, words)
    assignee = address_markup(row.assignee_email or "") if case.assignee_id else None
    return ShownRow(
        ref=case.ref,
        url=url,
        urgency=case.urgency.value,
        urgency_label=labels.urgency[case.urgency],
        status_label=labels.status[case.status],
        badges=tuple((flag, labels.flag[flag]) for flag in row.flags if flag in _STATUS_BADGES),
        action_when=action.when,
        action_words=next_action_words(action, now, words),
        due=time_tag(action.due) if action.due else Markup("—"),
        due_in=clock.relative(action.due, now, words) if action.due else "",
        country=country,
        languages=languages,
        assignee=assignee,
        assignee_deactivated=assignee is not None and row.assignee_deactivated,
        assign_url="" if case.assignee_id or case.status == CaseStatus.CLOSED else assign_url,
    )
