"""Explainable triage: which directory entries can act for this person, best first.

:func:`rank` is pure (routing fields and entries in, suggestions out) and deterministic; the
intake's :class:`TriageIndex`, built once per directory version, applies the same rules to all
entries at once as operations on sets (a request at 10,000 entries costs well under a
millisecond of CPU), and words are built only for the suggestions returned. Hard rules decide
whether an entry applies at all; a score orders those that do; every suggestion says why
(``reasons``) and what to watch for (``caveats``).

Hard rules (an entry that cannot act for the person is never suggested):
- retired entries never;
- geography: "global" entries everywhere; others only if the country is listed or lies in one of
  their named regions (regional mechanisms: only their member states when listed); no country
  given means only global entries;
- threats/profiles: an entry that lists threats must share one with the request, or serve one
  of the person's profiles; an entry limited to some profiles ("profiles_only") only for those;
- mechanism rules: WGAD only for detention, WGEID only for disappearance, the reprisals desk
  only for reprisals, the embassy advice only when urgency is immediate, and entries to which
  "only states can refer" (the ICC) never, since a request is always about a person.

Ordering: for ``immediate`` requests the embassy advice comes first, then entries that take
urgent appeals directly (regional bodies, which need domestic remedies exhausted, do not), then
the rest; entries that do not take individual cases ("no_direct_casework": funders, pro bono
brokers, information sources) come last; within a tier, higher score first, then id. Score
points are additive, so adding a threat an entry covers never lowers its score.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, fields
from functools import reduce
from typing import Any

from intake import vocab
from intake.models import Urgency
from intake.services.errors import ServiceError
from intake.services.triage_phrases import AS_WRITTEN, Phrase

URGENCIES = tuple(vocab.URGENCIES)

# Points. Kept small and additive so a caseworker can follow the arithmetic in the reasons.
THREAT_POINTS = 10
PROFILE_POINTS = 15
SPECIALIST_POINTS = 10
COUNTRY_POINTS = 12
REGION_POINTS = 8
LANGUAGE_POINTS = 8
URGENT_POINTS = 20
GENERAL_POINTS = 2

# Mechanisms made for one threat only (their mandate names in triage_phrases.MANDATES).
_MECHANISM_THREAT = {
    "detention_only": "detention",
    "disappearance_only": "disappearance",
    "reprisal_only": "reprisal",
}
# The condition of entries that take no individual case (funders, pro bono brokers, information
# sources): ranked last here, and never the next place to refer a case (referrals.next_best).
NO_DIRECT_CASEWORK = "no_direct_casework"
_MECHANISM_CONDITIONS = frozenset(_MECHANISM_THREAT)


class RoutingError(ServiceError):
    """Routing fields that are not in the controlled vocabularies."""


@dataclass(frozen=True)
class Routing:
    """What a request says in the clear (DESIGN §1.2): the one routing type from the public form
    to the stored case, triage and the command line. Lists keep the submitter's order."""

    urgency: Urgency = Urgency.DAYS
    threats: Sequence[str] = ()
    profiles: Sequence[str] = ()
    country: str | None = None
    languages: Sequence[str] = ()
    consent_given: bool = False

    def __post_init__(self) -> None:
        for name in ("threats", "profiles", "languages"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "urgency", Urgency(self.urgency))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Routing:
        """Validate routing JSON (the ``triage`` command); raises :class:`RoutingError`."""
        if not isinstance(data, Mapping):
            raise RoutingError("routing input must be a JSON object")
        unknown = set(data) - set(ROUTING_FIELDS)
        if unknown:
            raise RoutingError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
        threats = _id_list(data.get("threats"), "threats", vocab.THREATS)
        profiles = _id_list(data.get("profiles"), "profiles", vocab.PROFILES)
        languages = _id_list(data.get("languages"), "languages", vocab.language_codes(), lower=True)
        country = data.get("country")
        if country in (None, ""):
            country = None
        elif not isinstance(country, str) or country.strip().upper() not in vocab.ISO_COUNTRIES:
            raise RoutingError('country must be an ISO 3166-1 alpha-2 code such as "MX"')
        else:
            country = country.strip().upper()
        urgency = data.get("urgency", "days")
        if urgency not in vocab.URGENCIES:
            raise RoutingError(f"urgency must be one of: {', '.join(vocab.URGENCIES)}")
        return cls(Urgency(urgency), tuple(threats), tuple(profiles), country, tuple(languages))

    def as_dict(self) -> dict[str, Any]:
        """The routing JSON of the command line and of the triage input."""
        return {
            "threats": list(self.threats),
            "profiles": list(self.profiles),
            "country": self.country,
            "languages": list(self.languages),
            "urgency": self.urgency.value,
        }


ROUTING_FIELDS = ("threats", "profiles", "country", "languages", "urgency")


@dataclass(frozen=True)
class _Query:
    """A routing as triage matches it: sets, built once per request."""

    threats: frozenset[str]
    profiles: frozenset[str]
    country: str | None
    languages: frozenset[str]
    urgency: str

    @classmethod
    def of(cls, routing: Routing) -> _Query:
        return cls(
            frozenset(routing.threats),
            frozenset(routing.profiles),
            routing.country,
            frozenset(routing.languages),
            routing.urgency.value,
        )


def _id_list(value: Any, name: str, allowed: Iterable[str], *, lower: bool = False) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RoutingError(f"{name} must be a list of strings")
    if len(value) > 50:
        raise RoutingError(f"{name}: too many values")
    items = [v.strip().lower() if lower else v.strip() for v in value]
    allowed_set = set(allowed)
    bad = [v for v in items if v not in allowed_set]
    if bad:
        raise RoutingError(f"unknown {name}: {', '.join(sorted(set(bad)))[:200]}")
    return items


@dataclass(frozen=True)
class TriageEntry:
    """The facts of a directory entry that triage reads, as sets for fast matching."""

    id: str
    name: str
    kind: str = "organisation"
    regions: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    threats: frozenset[str] = frozenset()
    profiles: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    accepts_urgent_appeals: bool = False
    conditions: tuple[tuple[str, str], ...] = ()
    retired: bool = False
    condition_ids: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def of(cls, entry: Any) -> TriageEntry:
        """From a DirectoryEntry, a dict of the same fields, or a TriageEntry."""
        if isinstance(entry, TriageEntry):
            return entry
        get = entry.get if isinstance(entry, Mapping) else lambda k, d=None: getattr(entry, k, d)
        conditions = tuple(
            (str(c.get("id", "note")), str(c.get("text", ""))) for c in get("conditions") or []
        )
        retired = bool(get("retired_at")) or bool(get("retired", False))
        return cls(
            id=str(get("id")),
            name=str(get("name")),
            kind=str(get("kind") or "organisation"),
            regions=frozenset(get("regions") or ()),
            countries=frozenset(get("countries") or ()),
            threats=frozenset(get("threats") or ()),
            profiles=frozenset(get("profiles") or ()),
            languages=frozenset(get("languages") or ()),
            accepts_urgent_appeals=bool(get("accepts_urgent_appeals")),
            conditions=conditions,
            retired=retired,
            condition_ids=frozenset(c[0] for c in conditions),
        )


@dataclass(frozen=True)
class Suggestion:
    id: str
    name: str
    score: int
    reasons: tuple[str, ...]
    caveats: tuple[str, ...]
    tier: int = 2
    reason_phrases: tuple[Phrase, ...] = ()
    caveat_phrases: tuple[Phrase, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The contract's shape (``flask triage``): reasons and caveats in English."""
        return {
            "id": self.id,
            "name": self.name,
            "score": self.score,
            "reasons": list(self.reasons),
            "caveats": list(self.caveats),
        }

    def as_stored(self) -> dict[str, Any]:
        """What a case keeps: the contract's shape plus the phrases staff pages translate."""
        return {
            **self.as_dict(),
            "reasons_i18n": [phrase.as_dict() for phrase in self.reason_phrases],
            "caveats_i18n": [phrase.as_dict() for phrase in self.caveat_phrases],
        }


def _expand_profiles(profiles: frozenset[str]) -> frozenset[str]:
    extra = {implied for p in profiles for implied in vocab.PROFILE_IMPLIES.get(p, ())}
    return profiles | extra


def _label(table: Mapping[str, Any], key: str) -> str:
    # English, whatever the request's locale: the same input gives the same stored output.
    return vocab.english(table, key)


def _members(bits: int) -> Iterator[int]:
    """The bit numbers set in ``bits``, lowest first."""
    while bits:
        lowest = bits & -bits
        yield lowest.bit_length() - 1
        bits ^= lowest


def _union(sets: Iterable[int]) -> int:
    return reduce(operator.or_, sets, 0)


class _Scores:
    """One score per entry for all entries at once, as bit slices: slice ``b`` holds the
    entries whose score has bit ``b`` set. Adding points to a set of entries is a ripple-carry
    addition over whole sets, a few integer operations however many entries there are."""

    def __init__(self) -> None:
        self.slices: list[int] = []

    def add(self, entries: int, points: int) -> None:
        level = 0
        while points:
            if points & 1:
                carry, at = entries, level
                while carry:
                    if at >= len(self.slices):
                        self.slices.extend([0] * (at + 1 - len(self.slices)))
                    current = self.slices[at]
                    self.slices[at] = current ^ carry
                    carry &= current
                    at += 1
            points >>= 1
            level += 1

    def highest(self, entries: int) -> int:
        """Those of ``entries`` that share the highest score among them."""
        for bits in reversed(self.slices):
            if entries & bits:
                entries &= bits
        return entries

    def of(self, entry: int) -> int:
        return sum(1 << level for level, bits in enumerate(self.slices) if bits >> entry & 1)


class TriageIndex:
    """The directory as sets of entries (by place, subject, language and condition), so that
    a request is judged against all entries at once.

    :func:`_judge` states the rules for one entry; :meth:`rank` applies the same rules as
    unions and intersections of these sets and adds the same points with :class:`_Scores`
    (tests/services/test_triage_index.py checks that both give the same suggestions). Each set
    is an integer whose bit ``i`` is the ``i``-th entry in (id, position) order, so the lowest
    bits of a tie come first, as a stable sort by id gave. Built once per directory version
    (:func:`intake.services.directory.triage_index`).
    """

    def __init__(self, entries: Iterable[Any]) -> None:
        self.entries = tuple(TriageEntry.of(entry) for entry in entries)
        order = sorted(range(len(self.entries)), key=lambda p: (self.entries[p].id, p))
        self._by_bit = tuple(self.entries[position] for position in order)
        self._able = 0  # neither retired nor for states only
        self._global = 0
        self._general = 0  # lists no threat: serves any
        self._urgent = 0  # takes urgent appeals directly (no remedies to exhaust first)
        self._by_country: dict[str, int] = {}
        self._by_region: dict[str, int] = {}
        self._by_threat: dict[str, int] = {}
        self._by_profile: dict[str, int] = {}
        self._by_language: dict[str, int] = {}
        self._by_condition: dict[str, int] = dict.fromkeys(vocab.CONDITIONS, 0)
        self._stored: dict[tuple[_Query, int | None], str] = {}
        self._read: dict[tuple[_Query, int | None], list[dict[str, Any]]] = {}
        for bit, entry in enumerate(self._by_bit):
            member = 1 << bit
            if entry.retired or "states_only" in entry.condition_ids:
                continue
            self._able |= member
            if "global" in entry.regions:
                self._global |= member
            else:
                _add(self._by_country, entry.countries, member)
                if not (entry.kind == "regional_mechanism" and entry.countries):
                    _add(self._by_region, entry.regions, member)
            if not entry.threats:
                self._general |= member
            if (
                entry.accepts_urgent_appeals
                and "domestic_remedies_exhausted" not in entry.condition_ids
            ):
                self._urgent |= member
            _add(self._by_threat, entry.threats, member)
            _add(self._by_profile, entry.profiles, member)
            _add(self._by_language, entry.languages, member)
            _add(self._by_condition, entry.condition_ids, member)

    def rank(self, routing: Routing, limit: int | None = None) -> list[Suggestion]:
        """Entries that can act for this request, best first, each with reasons and caveats."""
        if limit is not None and limit < 0:
            return self.rank(routing)[:limit]
        request = _Query.of(routing)
        profiles = _expand_profiles(request.profiles)
        country_regions = vocab.regions_of(request.country) if request.country else frozenset()
        immediate = request.urgency == "immediate"
        condition = self._by_condition.get

        # The hard rules, as in _judge.
        able = self._able
        if not immediate:
            able &= ~condition("immediate_only", 0)
        for mechanism, threat in _MECHANISM_THREAT.items():
            if threat not in request.threats:
                able &= ~condition(mechanism, 0)
        in_country = in_region = 0
        if request.country is not None:
            in_country = self._by_country.get(request.country, 0)
            in_region = _union(self._by_region.get(r, 0) for r in country_regions) & ~in_country
        able &= self._global | in_country | in_region
        threat_match = _union(self._by_threat.get(t, 0) for t in request.threats)
        profile_match = _union(self._by_profile.get(p, 0) for p in profiles)
        able &= ~(condition("profiles_only", 0) & ~profile_match)
        able &= self._general | threat_match | profile_match

        # The points, as in _judge.
        scores = _Scores()
        scores.add(in_country, COUNTRY_POINTS)
        scores.add(in_region, REGION_POINTS)
        for threat in request.threats:
            scores.add(self._by_threat.get(threat, 0), THREAT_POINTS)
        scores.add(self._general, GENERAL_POINTS)
        for profile in profiles:
            scores.add(self._by_profile.get(profile, 0), PROFILE_POINTS)
        scores.add(condition("profiles_only", 0) & profile_match, SPECIALIST_POINTS)
        for mechanism in _MECHANISM_CONDITIONS:
            scores.add(condition(mechanism, 0), SPECIALIST_POINTS)
        languages = _union(self._by_language.get(language, 0) for language in request.languages)
        scores.add(languages, LANGUAGE_POINTS)
        if request.urgency in ("immediate", "days"):
            scores.add(self._urgent, URGENT_POINTS)

        # The tiers, as in _judge, then the highest scores of each tier in turn.
        first = condition("immediate_only", 0)
        last = condition(NO_DIRECT_CASEWORK, 0) & ~first
        urgent = (self._urgent if immediate else 0) & ~first & ~last
        tiers = ((0, first), (1, urgent), (2, ~(first | last | urgent)), (3, last))
        chosen: list[tuple[int, int]] = []
        for tier, members in tiers:
            members &= able
            while members and (limit is None or len(chosen) < limit):
                best = scores.highest(members)
                members &= ~best
                chosen.extend((tier, bit) for bit in _members(best))
        return [
            _explain(self._by_bit[bit], request, profiles, country_regions, tier, scores.of(bit))
            for tier, bit in chosen[:limit]
        ]

    def stored_json(self, routing: Routing, limit: int | None = None) -> str:
        """:meth:`rank`'s suggestions as a new case stores them (``Suggestion.as_stored``), as
        JSON text, remembered per routing: the same routing facts against the same directory
        always give the same text (rank is deterministic and reads nothing else), and the
        index lives only as long as its directory version, so what is remembered never
        outlives the entries it was ranked against. At most ``STORED_CACHE_SIZE`` routings are
        kept, the oldest dropped first; the wording (``_explain``) and the JSON were most of
        triage's time per submission."""
        key = (_Query.of(routing), limit)
        text = self._stored.get(key)
        if text is None:
            text = json.dumps([s.as_stored() for s in self.rank(routing, limit=limit)])
            if len(self._stored) >= STORED_CACHE_SIZE:
                with suppress(StopIteration, KeyError, RuntimeError):
                    del self._stored[next(iter(self._stored))]
            self._stored[key] = text
        return text

    def stored(self, routing: Routing, limit: int | None = None) -> list[dict[str, Any]]:
        """:meth:`stored_json` read back, remembered as :meth:`stored_json` is: a page of many
        cases (/referrals' next place to try, up to 25 of them) parsed the same text again
        for each case. A new list each time, of the same dictionaries: read them, do not
        change them (copy one to add to it, ``{**suggestion, ...}``)."""
        key = (_Query.of(routing), limit)
        found = self._read.get(key)
        if found is None:
            found = json.loads(self.stored_json(routing, limit))
            if len(self._read) >= STORED_CACHE_SIZE:
                with suppress(StopIteration, KeyError, RuntimeError):
                    del self._read[next(iter(self._read))]
            self._read[key] = found
        return list(found)


STORED_CACHE_SIZE = 256  # routings remembered per index (~7 KB of JSON each at most)


def _add(sets: dict[str, int], keys: Iterable[str], member: int) -> None:
    for key in keys:
        sets[key] = sets.get(key, 0) | member


def rank(routing: Routing, entries: Sequence[Any], limit: int | None = None) -> list[Suggestion]:
    """Entries that can act for this request, best first, each with reasons and caveats: every
    entry through :func:`_judge` (the command line's path; the intake uses the index)."""
    request = _Query.of(routing)
    profiles = _expand_profiles(request.profiles)
    country_regions = vocab.regions_of(request.country) if request.country else frozenset()
    judged = []
    for entry in map(TriageEntry.of, entries):
        verdict = _judge(entry, request, profiles, country_regions)
        if verdict is not None:
            judged.append((verdict[0], -verdict[1], entry.id, entry))
    judged.sort(key=lambda found: found[:3])
    return [
        _explain(entry, request, profiles, country_regions, tier, -negative)
        for tier, negative, _, entry in judged[:limit]
    ]


def _judge(
    entry: TriageEntry,
    request: _Query,
    profiles: frozenset[str],
    country_regions: frozenset[str],
) -> tuple[int, int] | None:
    """The hard rules and the points: None if the entry cannot act, else (tier, score).
    :func:`_explain` says in words what this decided; :meth:`TriageIndex.rank` applies the same
    rules to sets of entries (a property test holds the two equal)."""
    if entry.retired:
        return None
    conditions = entry.condition_ids
    immediate = request.urgency == "immediate"
    if conditions:  # most entries have none: skip the condition rules
        if "states_only" in conditions:
            return None  # e.g. the ICC: only states (and the Security Council) can refer.
        if "immediate_only" in conditions and not immediate:
            return None
        for condition, threat in _MECHANISM_THREAT.items():
            if condition in conditions and threat not in request.threats:
                return None

    score = 0
    # Geography.
    if "global" in entry.regions:
        pass
    elif request.country is None:
        return None
    elif request.country in entry.countries:
        score += COUNTRY_POINTS
    elif entry.kind == "regional_mechanism" and entry.countries:
        return None  # Member states are listed: only they can be brought before it.
    elif not entry.regions & country_regions:
        return None
    else:
        score += REGION_POINTS

    # Threats and profiles.
    threat_match = entry.threats & request.threats
    profile_match = entry.profiles & profiles
    if "profiles_only" in conditions and not profile_match:
        return None
    if entry.threats and not threat_match and not profile_match:
        return None
    if threat_match:
        score += THREAT_POINTS * len(threat_match)
    elif not entry.threats:
        score += GENERAL_POINTS
    if profile_match:
        score += PROFILE_POINTS * len(profile_match)
        if "profiles_only" in conditions:
            score += SPECIALIST_POINTS
    # A mandate made for exactly this comes first.
    score += SPECIALIST_POINTS * len(conditions & _MECHANISM_CONDITIONS)

    # Languages.
    if entry.languages & request.languages:
        score += LANGUAGE_POINTS

    # Urgency.
    tier = 2
    if entry.accepts_urgent_appeals and "domestic_remedies_exhausted" not in conditions:
        if request.urgency in ("immediate", "days"):
            score += URGENT_POINTS
        if immediate:
            tier = 1
    if NO_DIRECT_CASEWORK in conditions:
        tier = 3  # resources and networks, after those who take a person's case
    if "immediate_only" in conditions:
        tier = 0
    return tier, score


def _explain(
    entry: TriageEntry,
    request: _Query,
    profiles: frozenset[str],
    country_regions: frozenset[str],
    tier: int,
    score: int,
) -> Suggestion:
    """The reasons and caveats of an entry :func:`_judge` found able to act."""
    conditions = entry.condition_ids
    immediate = request.urgency == "immediate"
    reasons: list[Phrase] = []
    caveats: list[Phrase] = []

    # Geography (_judge lets an entry that is not global through only with a country).
    country = request.country
    if "global" in entry.regions:
        reasons.append(Phrase.of("Works worldwide"))
    elif country is not None and country in entry.countries:
        reasons.append(Phrase.of("Works in %(country)s", country=("country", [country])))
    elif country is not None:
        shared = sorted(entry.regions & country_regions)
        reasons.append(
            Phrase.of(
                "Covers %(region)s, where %(country)s lies",
                region=("region", [shared[0]]),
                country=("country", [country]),
            )
        )

    # Threats and profiles.
    threat_match = sorted(entry.threats & request.threats)
    profile_match = sorted(entry.profiles & profiles)
    if threat_match:
        reasons.append(Phrase.of("Handles %(threats)s", threats=("threats", threat_match)))
    elif not entry.threats:
        reasons.append(Phrase.of("General support (no threat types listed)"))
    if profile_match:
        if "profiles_only" in conditions:
            reasons.append(
                Phrase.of("Specialises in %(profiles)s", profiles=("profiles", profile_match))
            )
        else:
            reasons.append(Phrase.of("Serves %(profiles)s", profiles=("profiles", profile_match)))
    for condition, threat in _MECHANISM_THREAT.items():
        if condition in conditions:
            reasons.append(Phrase.of("Mandate covers %(mandate)s", mandate=("mandate", [threat])))

    # Languages.
    shared_languages = sorted(entry.languages & request.languages)
    if shared_languages:
        reasons.append(
            Phrase.of("Works in %(languages)s", languages=("languages", shared_languages))
        )
    elif request.languages and entry.languages:
        caveats.append(
            Phrase.of(
                "No shared language: works in %(languages)s",
                languages=("languages", sorted(entry.languages)),
            )
        )
    elif request.languages and "immediate_only" not in conditions:
        caveats.append(Phrase.of("Working languages not recorded"))

    # Urgency.
    if entry.accepts_urgent_appeals and "domestic_remedies_exhausted" in conditions:
        # Regional commissions and courts do take urgent (precautionary/interim) requests,
        # but only once domestic remedies are exhausted: never ahead of the emergency lines.
        reasons.append(Phrase.of("Can order urgent protective measures"))
    elif entry.accepts_urgent_appeals:
        reasons.append(Phrase.of("Accepts urgent appeals"))
    elif immediate:
        caveats.append(Phrase.of("Does not take urgent appeals: not for the first 24 hours"))
    if "immediate_only" in conditions:
        reasons.insert(
            0, Phrase.of("Life or liberty at risk now: contact an embassy within 24 hours")
        )

    # Conditions become caveats in their own words.
    for condition_id, text in entry.conditions:
        if condition_id in _MECHANISM_THREAT or condition_id == "immediate_only":
            continue
        named = ("condition", [condition_id])
        note = vocab.condition_note(condition_id, text)
        if condition_id == "note":
            caveats.append(Phrase.of(AS_WRITTEN, text=("text", [text])))
        elif not note:
            caveats.append(Phrase.of("%(condition)s", condition=named))
        else:
            caveats.append(
                Phrase.of("%(condition)s: %(text)s", condition=named, text=("text", [note]))
            )
    return Suggestion(
        entry.id,
        entry.name,
        score,
        tuple(phrase.english() for phrase in reasons),
        tuple(phrase.english() for phrase in caveats),
        tier,
        tuple(reasons),
        tuple(caveats),
    )


# How many suggestions a case keeps and shows.
SUGGESTIONS = 10


# A case's columns of the same names hold its routing (a page of cases selects just these).
ROUTING_COLUMNS = tuple(each.name for each in fields(Routing))


def routing_of(case: Any) -> Routing:
    """What a stored case says in the clear (a Case, or a row with :data:`ROUTING_COLUMNS`)."""
    return Routing(
        urgency=case.urgency,
        threats=case.threats or (),
        profiles=case.profiles or (),
        country=case.country,
        languages=case.languages or (),
        consent_given=bool(case.consent_given),
    )


def current_suggestions(case: Any, index: TriageIndex | None = None) -> list[dict[str, Any]]:
    """A case's suggestions against the directory as it is now, as ``Case.triage`` stores
    them: what the case page, Start a referral and the next place to try show. ``Case.triage``
    is as of intake: an entry retired since stayed on the case page (its score, no way to refer,
    no word why) and one added since never showed (a review). Remembered per routing and
    directory version (:meth:`TriageIndex.stored_json`), so a page of cases ranks once per
    routing, and an edit to the directory shows at once. A page of many cases passes the
    ``index`` it read once."""
    if index is None:
        from intake.services.directory import triage_index  # DB access only here

        index = triage_index()
    return index.stored(routing_of(case), SUGGESTIONS)


def suggestions_for(routing: Routing, limit: int = 10) -> list[dict[str, Any]]:
    """Ranked suggestions for a request against the active directory, as JSON-able dicts (the
    intake stores them on each new ``Case.triage``)."""
    from intake.services.directory import triage_index  # DB access only here

    return [suggestion.as_stored() for suggestion in triage_index().rank(routing, limit=limit)]


def stored_suggestions_json(routing: Routing, limit: int = 10) -> str:
    """:func:`suggestions_for` as the JSON text a new case stores, remembered per routing by
    the directory version's index (:meth:`TriageIndex.stored_json`)."""
    from intake.services.directory import triage_index  # DB access only here

    return triage_index().stored_json(routing, limit=limit)
