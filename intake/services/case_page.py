"""What the case page reads, arranged around the next action (reads only; casework writes).

- :func:`thread`: one conversation in time order — follow-ups, replies, internal notes — with
  each reply shown once. A reply is sealed to the submitter, so staff read it through the copy
  sealed to the organisation key that was sent with it; the audit event of the reply names that
  copy (``case.reply`` → ``copy_id``), so the pair is known, not guessed.
- :func:`next_action`: the nearest thing due from us — the first response, or the nearest
  referral deadline and what it is.
- :func:`suggestions`: triage suggestions in score order, each with the kind of referral its
  entry naturally takes, for the "Refer" buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intake import vocab
from intake.extensions import db
from intake.models import (
    AWAITING,
    AuditEvent,
    Case,
    CaseMessage,
    DirectoryEntry,
    MessageKind,
    Referral,
)
from intake.services import casework, queue, referrals, triage, un_steps

TOP_SUGGESTIONS = 3


@dataclass(frozen=True)
class ThreadItem:
    """One item of the conversation. ``readable`` is the message the browser opens (for a reply,
    its copy to the organisation key; ``None`` when there is no copy to read)."""

    kind: str  # "follow_up", "reply" or "note"
    message: CaseMessage
    readable: CaseMessage | None

    @property
    def at(self) -> datetime:
        return self.message.created_at


def _reply_copies(case: Case) -> dict[int, int]:
    """reply id → id of its copy to the organisation key, from the reply's audit event."""
    details = db.session.scalars(
        sa.select(AuditEvent.detail).where(
            AuditEvent.action == "case.reply",
            AuditEvent.target_type == "case",
            AuditEvent.target_id == str(case.id),
        )
    )
    pairs: dict[int, int] = {}
    for detail in details:
        reply, copy = (detail or {}).get("message_id"), (detail or {}).get("copy_id")
        if isinstance(reply, int) and isinstance(copy, int):
            pairs[reply] = copy
    return pairs


def thread(case: Case) -> list[ThreadItem]:
    messages = sorted(case.messages, key=lambda m: (m.created_at, m.id))
    by_id = {m.id: m for m in messages}
    copies = _reply_copies(case)
    copy_ids = {copy for reply, copy in copies.items() if reply in by_id and copy in by_id}
    items: list[ThreadItem] = []
    for message in messages:
        if message.id in copy_ids:
            continue  # shown as the reply it copies
        if message.kind == MessageKind.STAFF_REPLY:
            copy = by_id.get(copies.get(message.id, -1))
            items.append(ThreadItem("reply", message, copy))
        elif message.kind == MessageKind.INTERNAL_NOTE:
            items.append(ThreadItem("note", message, message))
        else:
            items.append(ThreadItem("follow_up", message, message))
    return items


@dataclass(frozen=True)
class NextAction:
    """The nearest thing due from us: ``what`` is "first_response" or "referral"."""

    what: str
    due_at: datetime
    referral: Referral | None = None
    # A UN referral's clock: "reply" (the government's) or "follow_up" (check with the
    # mandate); None for any other referral (un_steps.clock_of).
    un_clock: str | None = None
    # A referral's next step as the queue says it ("Answer due from …", "Send the referral
    # to …"): the case page named only the referral's kind and state, which said nothing of
    # what to do (a caseworker walkthrough).
    said: queue.NextAction | None = None


def next_action(
    case: Case, case_referrals: list[Referral], now: datetime, locale: str
) -> NextAction | None:
    """The nearest thing due on the case; a referral's is said as the queue's row says it
    (``queue.referral_action``), its entry named in ``locale``."""
    candidates: list[NextAction] = []
    first = casework.first_response_due(case)
    if first is not None:
        candidates.append(NextAction("first_response", first))
    for referral in case_referrals:
        if referral.due_at is not None and referral.state in AWAITING:
            candidates.append(NextAction("referral", referral.due_at, referral))
    nearest = min(candidates, key=lambda action: action.due_at, default=None)
    if nearest is not None and nearest.referral is not None:
        referral = nearest.referral
        clock = un_steps.clock_of(referral)
        running = queue.NearestClock(
            referral.kind,
            referral.state,
            nearest.due_at,
            vocab.entry_name(referral.entry, locale) if referral.entry else referral.entry_id,
            government_clock=clock == "reply",
        )
        nearest = replace(nearest, un_clock=clock, said=queue.referral_action(running, now))
    return nearest


def suggestions(case: Case) -> list[dict[str, Any]]:
    """Triage's suggestions against the directory as it is now (triage.current_suggestions),
    in triage's order (best first: for an Immediate request the embassy advice and the
    channels that take urgent appeals lead, whatever their score; see
    :mod:`intake.services.triage`), as /referrals/new lists them, each with ``kind``: the
    referral kind to suggest for the case (``referrals.kinds_for``), and its name in the
    reader's language. Re-sorted by score, the case page put "Embassies (first 24 hours)"
    fourth, folded away, where /referrals/new put it first.

    An entry the case has an open referral to that referring it again would repeat
    (``referrals.open_to``) carries it as ``referral`` (its id): the page says "Already
    referred" and links it rather than offering to refer the case there again."""
    found = triage.current_suggestions(case)
    referred = referrals.open_by_entry(case)
    ids = [str(suggestion.get("id", "")) for suggestion in found]
    entries = {
        entry.id: entry
        for entry in db.session.scalars(
            sa.select(DirectoryEntry).where(
                DirectoryEntry.id.in_(ids), DirectoryEntry.retired_at.is_(None)
            )
        )
    }
    result = []
    for suggestion in found:
        entry = entries.get(str(suggestion.get("id", "")))
        if entry is None:  # retired since the index was read: not a place to refer
            continue
        kind = referrals.kinds_for(entry, case.urgency)[0]
        suggested = {**suggestion, "kind": kind.value, "name": vocab.entry_name(entry)}
        repeated = next(
            (r for r in referred.get(entry.id, []) if referrals.repeats(r.kind, kind)), None
        )
        if repeated is not None:
            suggested["referral"] = repeated.id
        result.append(suggested)
    return result
