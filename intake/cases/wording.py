"""The queue's "next action" in words, in the reader's language."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext

from intake.db import utcnow
from intake.services.queue import NextAction


def _lateness(due: datetime, now: datetime) -> str:
    """ "3 days overdue", "5 hours overdue": whole days only from 48 hours on, so that 47 hours
    never reads as one day."""
    hours = int((now - due).total_seconds() // 3600)
    if hours < 48:
        return ngettext("%(num)d hour overdue", "%(num)d hours overdue", max(hours, 1))
    return ngettext("%(num)d day overdue", "%(num)d days overdue", hours // 24)


def next_action_words(action: NextAction, now: datetime | None = None) -> str:
    now = now or utcnow()
    entry = action.entry or ""
    if action.what == "first_response":
        if action.when == "overdue" and action.due is not None:
            return _("First response due — %(late)s", late=_lateness(action.due, now))
        return _("First response due")
    if action.what == "none":
        return _("No deadline")
    if action.when == "waiting":
        return _("Waiting on %(entry)s", entry=entry)
    if action.what == "send":
        words = _("Send the referral to %(entry)s", entry=entry)
    elif action.what == "government_reply":
        words = _("Reply due from the government — referral to %(entry)s", entry=entry)
    else:
        words = _("Answer due from %(entry)s", entry=entry)
    if action.when == "overdue" and action.due is not None:
        return _("%(action)s, %(late)s", action=words, late=_lateness(action.due, now))
    return words
