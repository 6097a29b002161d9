"""Triage reasons and caveats that staff pages can show in their own language.

Triage stores its reasons in English (the same input gives the same stored output, whatever
language the request that computed it used). Each reason is also kept as a *phrase*: an
English message template and the vocabulary ids it names, so a page renders it in the reader's
language at display time: ``{"msg": "Handles %(threats)s", "args": {"threats": ["threats",
["detention"]]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from intake import directory_words, vocab

# People as groups, for "Serves …" / "Specialises in …".
PROFILE_GROUPS: Mapping[str, Any] = {
    "journalist": _l("journalists"),
    "freelance_journalist": _l("freelance journalists"),
    "woman_hrd": _l("women human rights defenders"),
    "lawyer": _l("lawyers"),
    "aid_worker": _l("aid workers"),
    "lgbti": _l("LGBTI defenders"),
    "environmental_land": _l("environmental and land defenders"),
    "indigenous": _l("Indigenous defenders"),
    "academic": _l("academics"),
    "organisation": _l("organisations"),
    "family_member": _l("families of defenders"),
}
MANDATES: Mapping[str, Any] = {
    "detention": _l("detention"),
    "disappearance": _l("enforced disappearance"),
    "reprisal": _l("reprisal for cooperating with the UN"),
}
# A phrase that is only an entry's own text (its note).
AS_WRITTEN = "%(text)s"

# Marked for extraction; rendered with gettext(msgid) at display time.
MESSAGES = (
    _l("Works worldwide"),
    _l("Works in %(country)s"),
    _l("Covers %(region)s, where %(country)s lies"),
    _l("Handles %(threats)s"),
    _l("General support (no threat types listed)"),
    _l("Specialises in %(profiles)s"),
    _l("Serves %(profiles)s"),
    _l("Mandate covers %(mandate)s"),
    _l("Works in %(languages)s"),
    _l("No shared language: works in %(languages)s"),
    _l("Working languages not recorded"),
    _l("Can order urgent protective measures"),
    _l("Accepts urgent appeals"),
    _l("Does not take urgent appeals: not for the first 24 hours"),
    _l("Life or liberty at risk now: contact an embassy within 24 hours"),
    _l("%(condition)s: %(text)s"),
)


def _english(table: Mapping[str, Any], key: str) -> str:
    return vocab.english(table, key)


def _render(kind: str, ids: Sequence[str], english: bool) -> str:
    locale = "en" if english or not has_request_context() else str(get_locale() or "en")

    def label(table: Mapping[str, Any], key: str) -> str:
        return _english(table, key) if english else str(table.get(key, key))

    match kind:
        case "country":
            return vocab.country_name(ids[0], locale)
        case "region":
            return label(vocab.REGIONS, ids[0])
        case "threats":
            return vocab.joined((label(vocab.THREATS, t).lower() for t in ids), locale)
        case "profiles":
            return vocab.joined((label(PROFILE_GROUPS, p) for p in ids), locale)
        case "mandate":
            return label(MANDATES, ids[0])
        case "languages":
            return vocab.joined((vocab.language_name(code, locale) for code in ids), locale)
        case "condition":
            return label(vocab.CONDITIONS, ids[0])
    # "text": the directory's own words, as written (a shipped entry's, in the reader's language).
    text = ", ".join(ids)
    return text if english else directory_words.in_reader_language(text)


@dataclass(frozen=True)
class Phrase:
    msgid: str
    args: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, msgid: str, **args: tuple[str, Sequence[str]]) -> Phrase:
        return cls(msgid, tuple((name, kind, tuple(ids)) for name, (kind, ids) in args.items()))

    def english(self) -> str:
        values = {name: _render(kind, ids, english=True) for name, kind, ids in self.args}
        return self.msgid % values if values else self.msgid

    def as_dict(self) -> dict[str, Any]:
        return {
            "msg": self.msgid,
            "args": {name: [kind, list(ids)] for name, kind, ids in self.args},
        }


def localise(phrase: Mapping[str, Any]) -> str | None:
    """A stored phrase in the current request's language; None if it does not fit its
    template (then the caller shows the stored English)."""
    msgid = str(phrase.get("msg", ""))
    args = phrase.get("args") or {}
    if not isinstance(args, Mapping):
        return None
    values = {
        str(name): _render(str(spec[0]), [str(i) for i in spec[1]], english=False)
        for name, spec in args.items()
        if isinstance(spec, list | tuple) and len(spec) == 2 and isinstance(spec[1], list | tuple)
    }
    # An entry's own note ("%(text)s") has no words of ours to translate: it is shown as written.
    pattern = msgid if msgid == AS_WRITTEN else gettext(msgid)
    try:
        text = pattern % values if "%(" in msgid else pattern
    except (KeyError, ValueError, TypeError):
        return None
    return str(text)


def lines(suggestion: Mapping[str, Any], which: str) -> list[str]:
    """A suggestion's reasons or caveats for display: localised phrases when stored and
    intact, else the English text (e.g. suggestions stored before phrases existed)."""
    english = [str(line) for line in suggestion.get(which) or []]
    phrases = suggestion.get(f"{which}_i18n")
    if not isinstance(phrases, list) or len(phrases) != len(english):
        return english
    localised = [localise(p) if isinstance(p, Mapping) else None for p in phrases]
    if any(text is None for text in localised):
        return english
    return [text for text in localised if text is not None]
