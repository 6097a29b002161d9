"""What to do right now when a person says their life or liberty is at risk ("Immediate").

From routing facts only (urgency, threats, country: never what the person wrote), the same
triage engine that ranks a case picks the channels that act within hours: entries that accept
urgent appeals, and the "contact an embassy within 24 hours" entry. For each it returns the
contacts a person can use now, 24-hour lines first. The form asks for this while the person is
still writing (``GET /request/urgent-help``) and the no-JavaScript page shows it when the form
comes back with "Immediate" chosen, and on the receipt. Before anything is chosen, the landing
page and the form (with or without JavaScript) show the channels for an emergency anywhere
(:func:`general_channels`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intake import directory_words, vocab
from intake.models import Urgency
from intake.services import triage
from intake.services.triage_phrases import localise

MAX_CHANNELS = 5
MAX_CONTACTS = 4
# Channels shown open; the rest are one tap away (all five open were three phone screens
# between "How urgent is it?" and the next question).
SHOWN_FIRST = 2
USABLE_NOW = ("phone", "email", "secure_form", "onion", "signal", "web")
_ROUND_THE_CLOCK = ("24", "hotline", "emergency")
# The reasons that say why a channel fits an emergency (the others are for caseworkers).
URGENT_REASONS = frozenset(
    {"Accepts urgent appeals", "Life or liberty at risk now: contact an embassy within 24 hours"}
)


@dataclass(frozen=True)
class Contact:
    kind: str
    value: str
    place: str
    round_the_clock: bool
    href: str  # what a tap opens ("" when nothing safe to open): see contact_href


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_WEB = re.compile(r"https?://[^\s<>\"']+")


def contact_href(kind: str, value: str) -> str:
    """A link a person in danger can tap: the phone's dialler, their mail app, or the channel's
    web form; only these schemes, built from the directory's value (never a ``javascript:``
    address). Onion addresses, Signal names and anything else stay text to copy."""
    value = value.strip()
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", value)
        if 6 <= len(digits) <= 17:
            return "tel:" + ("+" if value.lstrip("(").startswith("+") else "") + digits
    elif kind == "email" and _EMAIL.fullmatch(value):
        return "mailto:" + value
    elif kind in ("web", "secure_form") and _WEB.fullmatch(value):
        return encrypted_web_address(value)
    return ""


def encrypted_web_address(value: str) -> str:
    """A web address as a person in danger is sent to it: over https. The source directory's
    older addresses say http:// (omct.org, ohchr.org); every site in it serves https, and an
    unencrypted page would show a watcher on the network which page was opened."""
    if value.startswith("http://"):
        return "https://" + value.removeprefix("http://")
    return value


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    reasons: tuple[str, ...]
    contacts: tuple[Contact, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "reasons": list(self.reasons),
            "contacts": [contact.__dict__ for contact in self.contacts],
        }


def _contacts(raw: Sequence[Mapping[str, Any]]) -> tuple[Contact, ...]:
    contacts: list[Contact] = []
    for item in raw or []:
        kind = str(item.get("kind", ""))
        if kind not in USABLE_NOW or not item.get("value"):
            continue
        place = str(item.get("place") or item.get("note") or "")
        value = str(item["value"])
        if kind in ("web", "secure_form"):
            value = encrypted_web_address(value)  # shown as it opens
        contacts.append(
            Contact(
                kind=kind,
                value=value,
                place=directory_words.in_reader_language(place),
                round_the_clock=any(word in place.lower() for word in _ROUND_THE_CLOCK),
                href=contact_href(kind, value),
            )
        )
    # 24-hour lines first, then phones, then the rest in the directory's order.
    contacts.sort(key=lambda c: (not c.round_the_clock, c.kind != "phone"))
    return tuple(contacts[:MAX_CONTACTS])


def urgent_channels(threats: Sequence[str], country: str | None) -> list[Channel]:
    """Channels that act now for these facts, best first (deterministic)."""
    from intake.services.directory import active_entries  # DB access only here

    entries = {entry.id: entry for entry in active_entries()}
    # The threat is asked later in the form than the urgency: until it is chosen, any threat,
    # so that the channels taking every kind of emergency are shown at once.
    asked = tuple(threats) or tuple(vocab.THREATS)
    routing = triage.Routing(urgency=Urgency.IMMEDIATE, threats=asked, country=country)
    ranked = triage.rank(routing, [triage.TriageEntry.of(e) for e in entries.values()])
    found: list[tuple[int, bool, int, Channel]] = []
    for index, suggestion in enumerate(ranked):
        entry = entries[suggestion.id]
        if suggestion.tier > 1:  # tier 0: the embassy route; tier 1: takes urgent appeals now
            continue
        reasons = tuple(
            text
            for phrase in suggestion.reason_phrases
            if phrase.msgid in URGENT_REASONS and (text := localise(phrase.as_dict())) is not None
        )
        contacts = _contacts(entry.contacts)
        # Within triage's order, a line that answers at any hour comes before office hours.
        any_hour = any(contact.round_the_clock for contact in contacts)
        channel = Channel(entry.id, vocab.entry_name(entry), reasons, contacts)
        found.append((suggestion.tier, not any_hour, index, channel))
    return [channel for *_order, channel in sorted(found, key=lambda f: f[:3])][:MAX_CHANNELS]


# The channels for an emergency anywhere, per process, for the directory version and the
# language they were built from: the landing page and every form show them (see
# intake.services.directory.triage_index for the same rule).
_general_cache: dict[tuple[str, str], list[Channel]] = {}


def general_channels(locale: str) -> list[Channel]:
    """Channels that act now whatever the country and threat: what a person who has chosen
    nothing yet (or cannot run JavaScript, so nothing is asked while they write) can use."""
    from intake.extensions import db
    from intake.models import directory_version

    version = directory_version.current(db.session)
    if version is not None and (cached := _general_cache.get((version, locale))) is not None:
        return cached
    channels = urgent_channels((), None)
    if version is not None:
        if any(key[0] != version for key in _general_cache):
            _general_cache.clear()  # the directory moved on: nothing older is kept
        _general_cache[(version, locale)] = channels
    return channels
