"""Triage: hard rules, scenarios from the seed's situations, and properties (hypothesis)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import vocab
from intake.services.directory import load_shipped
from intake.services.triage import Routing, RoutingError, TriageEntry, rank
from tests.builders import generated_entry

SHIPPED = [TriageEntry.of(e) for e in load_shipped()]


def ranked(**fields: Any) -> list[str]:
    request = Routing.from_mapping(fields)
    return [s.id for s in rank(request, SHIPPED)]


def suggestion(entry_id: str, **fields: Any) -> Any:
    request = Routing.from_mapping(fields)
    return next(s for s in rank(request, SHIPPED) if s.id == entry_id)


# --- scenarios (the situations of the seed) ---------------------------------------------------


def test_freelance_journalist_attacked_gets_journalist_specialists_first() -> None:
    ids = ranked(
        threats=["physical_attack"],
        profiles=["freelance_journalist"],
        country="MX",
        languages=["es"],
        urgency="immediate",
    )
    assert ids[0] == "embassies"
    assert ids.index("rory-peck-trust") < ids.index("amnesty-international")
    assert ids.index("cpj") < ids.index("human-rights-first")
    assert "urgent-action-fund" not in ids  # serves women defenders only
    assert "eisf" not in ids
    assert "us-cdc" not in ids
    assert "icc" not in ids
    rpt = suggestion(
        "rory-peck-trust",
        threats=["physical_attack"],
        profiles=["freelance_journalist"],
        country="MX",
        languages=["es"],
        urgency="immediate",
    )
    assert "Specialises in freelance journalists" in rpt.reasons
    assert any("No shared language" in c for c in rpt.caveats)


def test_staff_journalist_is_not_sent_to_the_freelancers_fund() -> None:
    ids = ranked(threats=["violence_threat"], profiles=["journalist"], country="PH", urgency="days")
    assert "cpj" in ids
    assert "rory-peck-trust" not in ids


def test_woman_defender_threatened_gets_the_urgent_action_fund_near_the_top() -> None:
    ids = ranked(
        threats=["violence_threat"],
        profiles=["woman_hrd"],
        country="KE",
        languages=["en"],
        urgency="days",
    )
    assert ids[0] == "urgent-action-fund"
    assert "cpj" not in ids
    assert "rory-peck-trust" not in ids


def test_lawyer_detained_brings_wgad_and_the_legal_networks_not_wgeid() -> None:
    request = dict(
        threats=["detention"],
        profiles=["lawyer"],
        country="CN",
        languages=["zh"],
        urgency="immediate",
    )
    ids = ranked(**request)
    assert ids[0] == "embassies"
    assert "un-wgad" in ids
    assert "un-wgeid" not in ids
    assert "asian-human-rights-commission" in ids[:4]
    wgad = suggestion("un-wgad", **request)
    assert "Mandate covers detention" in wgad.reasons
    # Immediate: every entry that takes urgent appeals directly comes before those that do not
    # (regional bodies need domestic remedies exhausted first, so they do not jump the queue).
    by_id = {e.id: e for e in SHIPPED}
    fast = [
        by_id[s.id].accepts_urgent_appeals
        and "domestic_remedies_exhausted" not in by_id[s.id].condition_ids
        for s in rank(Routing.from_mapping(request), SHIPPED)[1:]
    ]
    assert fast == sorted(fast, reverse=True)
    assert (
        "Accepts urgent appeals" in suggestion("asian-human-rights-commission", **request).reasons
    )


def test_disappearance_brings_wgeid() -> None:
    ids = ranked(
        threats=["disappearance"], profiles=["family_member"], country="MX", urgency="days"
    )
    assert ids[0] == "un-wgeid"
    assert "un-wgad" not in ids


def test_aid_worker_gets_eisf_and_health_emergency_gets_cdc_only_for_health() -> None:
    ids = ranked(
        threats=["aid_worker_security"], profiles=["aid_worker"], country="SS", urgency="weeks"
    )
    assert ids[0] == "eisf"
    health = ranked(threats=["health"], country="SS", urgency="days")
    assert "us-cdc" in health
    assert "us-cdc" not in ranked(threats=["detention"], country="SS", urgency="days")


def test_legal_case_in_south_asia_brings_hrln_in_india_only() -> None:
    india = ranked(
        threats=["lawsuit"], profiles=["lawyer"], country="IN", languages=["hi"], urgency="weeks"
    )
    assert india[0] == "hrln"
    hrln = suggestion(
        "hrln",
        threats=["lawsuit"],
        profiles=["lawyer"],
        country="IN",
        languages=["hi"],
        urgency="weeks",
    )
    assert "Works in India" in hrln.reasons
    assert "Works in Hindi" in hrln.reasons
    pakistan = ranked(threats=["lawsuit"], profiles=["lawyer"], country="PK", urgency="weeks")
    assert "hrln" in pakistan  # South Asia is in its regions
    assert "hrln" not in ranked(
        threats=["lawsuit"], profiles=["lawyer"], country="BR", urgency="weeks"
    )
    assert "global-fund-for-human-rights" not in ranked(
        threats=["lawsuit"], country="BR", urgency="weeks"
    )


def test_regional_body_never_ahead_of_emergency_lines_when_immediate() -> None:
    ids = ranked(threats=["physical_attack"], country="BR", languages=["pt"], urgency="immediate")
    assert ids.index("frontline-defenders") < ids.index("inter-american-system")
    iachr = suggestion(
        "inter-american-system",
        threats=["physical_attack"],
        country="BR",
        languages=["pt"],
        urgency="immediate",
    )
    assert "Can order urgent protective measures" in iachr.reasons


def test_regional_court_case_only_in_region_and_with_domestic_remedies_caveat() -> None:
    request = dict(threats=["rights_violation"], country="TR", urgency="not_urgent")
    echr = suggestion("echr", **request)
    assert any("domestic remedies" in c for c in echr.caveats)
    assert "echr" not in ranked(threats=["rights_violation"], country="RU", urgency="weeks")
    assert "echr" not in ranked(threats=["rights_violation"], country="BR", urgency="weeks")
    assert "inter-american-system" in ranked(
        threats=["rights_violation"], country="BR", urgency="weeks"
    )
    assert "achpr" in ranked(threats=["rights_violation"], country="NG", urgency="weeks")
    assert "achpr" not in ranked(threats=["rights_violation"], country="FR", urgency="weeks")


def test_icc_is_never_suggested() -> None:
    for threats in (["physical_attack"], ["detention", "disappearance"], list(vocab.THREATS)):
        assert "icc" not in ranked(
            threats=threats, profiles=["organisation"], country="UA", urgency="immediate"
        )


def test_embassy_advice_only_when_immediate_and_reprisals_only_for_reprisals() -> None:
    assert "embassies" not in ranked(threats=["detention"], country="CN", urgency="days")
    assert "ohchr-reprisals" not in ranked(threats=["detention"], country="CN", urgency="days")
    assert ranked(threats=["reprisal"], country="CN", urgency="weeks")[0] in {
        "ohchr-reprisals",
        "un-sr-hrds",
    }


def test_no_country_means_only_global_entries() -> None:
    ids = ranked(threats=["detention"], urgency="days")
    global_ids = {e.id for e in SHIPPED if "global" in e.regions}
    assert set(ids) <= global_ids


def test_retired_entries_are_never_suggested() -> None:
    entries = [TriageEntry(id="a", name="A", regions=frozenset({"global"}), retired=True)]
    assert rank(Routing(), entries) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"threats": "detention"},
        {"threats": ["nope"]},
        {"country": "XX"},
        {"country": 12},
        {"languages": ["english"]},
        {"urgency": "soon"},
        {"extra": 1},
        {"threats": ["detention"] * 51},
    ],
)
def test_bad_routing_input_is_refused(payload: Any) -> None:
    with pytest.raises(RoutingError):
        Routing.from_mapping(payload)


# --- properties -------------------------------------------------------------------------------

regions = st.sampled_from(sorted(vocab.REGIONS))
countries = st.sampled_from(sorted(vocab.ISO_COUNTRIES))
threat_ids = st.sampled_from(sorted(vocab.THREATS))
profile_ids = st.sampled_from(sorted(vocab.PROFILES))
language_ids = st.sampled_from(["ar", "en", "es", "fr", "ru", "zh", "hi", "pt"])
condition_ids = st.sampled_from(
    [
        "domestic_remedies_exhausted",
        "detention_only",
        "disappearance_only",
        "profiles_only",
        "note",
        "states_only",
    ]
)


entries_strategy = st.lists(
    st.builds(
        generated_entry,
        st.integers(0, 10_000),
        st.sampled_from(list(vocab.KINDS)),
        st.lists(regions, max_size=3),
        st.lists(countries, max_size=4),
        st.lists(threat_ids, max_size=4),
        st.lists(profile_ids, max_size=2),
        st.lists(language_ids, max_size=3),
        st.booleans(),
        st.lists(condition_ids, max_size=2),
    ),
    max_size=25,
    unique_by=lambda e: e.id,
)
requests_strategy = st.builds(
    lambda ts, ps, c, ls, u: Routing(urgency=u, threats=ts, profiles=ps, country=c, languages=ls),
    st.frozensets(threat_ids, max_size=4),
    st.frozensets(profile_ids, max_size=2),
    st.one_of(st.none(), countries),
    st.frozensets(language_ids, max_size=2),
    st.sampled_from(list(vocab.URGENCIES)),
)


@settings(max_examples=150, deadline=None)
@given(entries_strategy, requests_strategy)
def test_property_region_exclusion(entries: list[TriageEntry], request: Routing) -> None:
    for s in rank(request, entries):
        entry = next(e for e in entries if e.id == s.id)
        if "global" in entry.regions:
            continue
        assert request.country is not None
        assert request.country in entry.countries or (
            entry.regions & vocab.regions_of(request.country)
            and not (entry.kind == "regional_mechanism" and entry.countries)
        )


@settings(max_examples=150, deadline=None)
@given(entries_strategy, requests_strategy)
def test_property_deterministic_and_every_result_has_reasons(
    entries: list[TriageEntry], request: Routing
) -> None:
    first = rank(request, entries)
    assert first == rank(request, list(reversed(entries)))
    assert all(s.reasons for s in first)
    assert all(
        "states_only" not in next(e for e in entries if e.id == s.id).condition_ids for s in first
    )


@settings(max_examples=150, deadline=None)
@given(entries_strategy, requests_strategy, threat_ids)
def test_property_adding_a_matching_threat_never_lowers_a_score(
    entries: list[TriageEntry], request: Routing, threat: str
) -> None:
    before = {s.id: s.score for s in rank(request, entries)}
    more = dataclasses.replace(request, threats=(*request.threats, threat))
    after = {s.id: s.score for s in rank(more, entries)}
    for entry in entries:
        if threat in entry.threats and entry.id in before:
            assert entry.id in after
            assert after[entry.id] >= before[entry.id]


# --- the database convenience the intake uses ---------------------------------------------------


def test_suggestions_for_reads_active_entries_and_returns_json(app: Any) -> None:
    import json

    from intake.models import Role, Urgency
    from intake.services import directory as directory_service
    from intake.services.triage import suggestions_for
    from tests.builders import make_user

    directory_service.import_shipped()
    detained = Routing(Urgency.IMMEDIATE, ("detention",), ("lawyer",), "CN", ("zh",))
    result = suggestions_for(detained, limit=5)
    assert len(result) == 5
    assert json.loads(json.dumps(result)) == result
    assert result[0]["id"] == "embassies"
    # The contract's keys, plus the phrases staff pages render in their own language.
    assert set(result[0]) == {
        "id", "name", "score", "reasons", "caveats", "reasons_i18n", "caveats_i18n"
    }  # fmt: skip
    directory_service.set_retired(
        "asian-human-rights-commission", True, actor=make_user(Role.ADMIN)
    )
    ids = [s["id"] for s in suggestions_for(detained)]
    assert "asian-human-rights-commission" not in ids
    with pytest.raises(RoutingError):
        Routing.from_mapping({"threats": ["made-up"], "country": "CN", "urgency": "immediate"})


def test_vocabulary_tables_are_consistent() -> None:
    assert set(vocab.REGION_COUNTRIES) == set(vocab.REGIONS) - {"global"}
    assert len(vocab.COUNCIL_OF_EUROPE) == 46
    assert "RU" not in vocab.COUNCIL_OF_EUROPE
    assert vocab.regions_of("IN") >= {"south_asia", "asia_pacific"}
    assert vocab.english(vocab.THREATS, "detention") == "Detention or imprisonment"
    for entry in load_shipped():
        assert set(entry["threats"]) <= set(vocab.THREATS), entry["id"]
        assert set(entry["referral_kinds"]) <= set(vocab.REFERRAL_KINDS), entry["id"]


@settings(max_examples=300, deadline=None)
@given(requests_strategy)
def test_property_shipped_directory_never_suggests_who_cannot_act(request: Routing) -> None:
    ids = [s.id for s in rank(request, SHIPPED)]
    assert "icc" not in ids
    assert ("un-wgad" in ids) <= ("detention" in request.threats)
    assert ("un-wgeid" in ids) <= ("disappearance" in request.threats)
    assert ("ohchr-reprisals" in ids) <= ("reprisal" in request.threats)
    assert ("embassies" in ids) <= (request.urgency == "immediate")
    assert ("echr" in ids) <= (request.country in vocab.COUNCIL_OF_EUROPE)
    assert ("achpr" in ids) <= (request.country in vocab.REGION_COUNTRIES["africa"])
    assert ("inter-american-system" in ids) <= (
        request.country in vocab.REGION_COUNTRIES["americas"]
    )
    assert ("hrln" in ids) <= (request.country in vocab.REGION_COUNTRIES["south_asia"])
    assert ("rory-peck-trust" in ids) <= ("freelance_journalist" in request.profiles)


def test_a_condition_whose_text_only_repeats_its_label_is_said_once() -> None:
    """The entry page and triage share vocab.condition_note: "Only after domestic remedies
    are exhausted." under that very label was said twice ("…exhausted: Only after…")."""
    label = "Only after domestic remedies are exhausted"
    repeating = {
        "id": "repeating",
        "name": "Repeating",
        "kind": "organisation",
        "regions": ["global"],
        "threats": ["rights_violation"],
        "conditions": [{"id": "domestic_remedies_exhausted", "text": label + "."}],
    }
    [found] = rank(Routing.from_mapping({"threats": ["rights_violation"]}), [repeating])
    assert found.caveats.count(label) == 1
    assert not any(": Only after" in caveat for caveat in found.caveats)
    assert vocab.condition_note("domestic_remedies_exhausted", f" {label}. ") == ""
    assert vocab.condition_note("domestic_remedies_exhausted", "Apply within six months.") == (
        "Apply within six months."
    )
