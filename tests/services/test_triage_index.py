"""Triage's index: it never loses an entry the rules accept, and the intake's copy follows the
directory version (issue 14)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import vocab
from intake.extensions import db
from intake.models import Role, Urgency, directory_version
from intake.services import directory as directory_service
from intake.services.triage import (
    Routing,
    TriageEntry,
    TriageIndex,
    rank,
    suggestions_for,
)
from tests.builders import generated_entry, make_entry, make_user

# Every condition (test_triage.py's strategies leave some out), retired entries, repeated ids.
entries_strategy = st.lists(
    st.builds(
        generated_entry,
        st.integers(0, 30),
        st.sampled_from(list(vocab.KINDS)),
        st.lists(st.sampled_from(sorted(vocab.REGIONS)), max_size=3),
        st.lists(st.sampled_from(["MX", "CN", "IN", "KE", "TR", "FR", "BR"]), max_size=3),
        st.lists(st.sampled_from(sorted(vocab.THREATS)), max_size=4),
        st.lists(st.sampled_from(sorted(vocab.PROFILES)), max_size=2),
        st.lists(st.sampled_from(["ar", "en", "es", "fr", "zh"]), max_size=3),
        st.booleans(),
        st.lists(st.sampled_from(list(vocab.CONDITIONS)), max_size=2),
        st.sampled_from([False, False, False, True]),
    ),
    max_size=30,
)
requests_strategy = st.builds(
    lambda ts, ps, c, ls, u: Routing(urgency=u, threats=ts, profiles=ps, country=c, languages=ls),
    st.frozensets(st.sampled_from(sorted(vocab.THREATS)), max_size=4),
    st.frozensets(st.sampled_from(sorted(vocab.PROFILES)), max_size=2),
    st.one_of(st.none(), st.sampled_from(["MX", "CN", "IN", "KE", "TR", "FR", "BR"])),
    st.frozensets(st.sampled_from(["ar", "en", "es", "fr", "zh"]), max_size=2),
    st.sampled_from(list(vocab.URGENCIES)),
)
DETAINED = Routing(Urgency.IMMEDIATE, ("detention",), ("lawyer",), "CN", ("zh",))


@settings(max_examples=400, deadline=None)
@given(entries_strategy, requests_strategy, st.one_of(st.none(), st.integers(0, 12)))
def test_property_the_index_finds_what_judging_every_entry_finds(
    entries: list[TriageEntry], request: Routing, limit: int | None
) -> None:
    # rank() puts every entry through _judge, the rules for one entry; the index uses sets.
    assert TriageIndex(entries).rank(request, limit) == rank(request, entries, limit)


def test_directory_version_moves_with_every_write_and_not_with_a_rollback(app: Flask) -> None:
    assert directory_version.current(db.session) is None
    make_entry("first-ngo")
    first = directory_version.current(db.session)
    assert first is not None
    db.session.get_one(directory_service.DirectoryEntry, "first-ngo").name = "Renamed"
    db.session.rollback()
    assert directory_version.current(db.session) == first
    directory_service.update_entry("first-ngo", {"name": "Renamed"}, actor=make_user(Role.ADMIN))
    assert directory_version.current(db.session) not in (None, first)


def test_the_intake_index_is_kept_until_the_directory_changes(app: Flask) -> None:
    directory_service.import_shipped()
    index = directory_service.triage_index()
    assert directory_service.triage_index() is index  # one row read, no rebuild
    before = [s["id"] for s in suggestions_for(DETAINED, limit=50)]
    assert "new-detention-ngo" not in before
    make_entry("new-detention-ngo", threats=["detention"], accepts_urgent_appeals=True)
    assert directory_service.triage_index() is not index
    assert "new-detention-ngo" in [s["id"] for s in suggestions_for(DETAINED, limit=50)]
    directory_service.set_retired("new-detention-ngo", True, actor=make_user(Role.ADMIN))
    assert "new-detention-ngo" not in [s["id"] for s in suggestions_for(DETAINED, limit=50)]


@pytest.mark.postgres
def test_the_intake_index_follows_the_directory_on_postgres(pg_app: Flask) -> None:
    directory_service.import_shipped()
    index = directory_service.triage_index()
    assert directory_service.triage_index() is index
    directory_service.update_entry(
        "embassies", {"name": "Embassies (renamed)"}, actor=make_user(Role.ADMIN)
    )
    assert suggestions_for(DETAINED, limit=1)[0]["name"] == "Embassies (renamed)"


def test_the_read_suggestions_are_the_stored_text_read_and_a_list_of_ones_own(
    app: Flask,
) -> None:
    """What a page of cases reads (:meth:`TriageIndex.stored`, parsed once per routing) is the
    JSON a new case stores, read; and each caller's list is its own to reorder or filter."""
    directory_service.import_shipped()
    index = directory_service.triage_index()
    stored = json.loads(index.stored_json(DETAINED, 10))
    assert len(stored) == 10
    first = index.stored(DETAINED, 10)
    assert first == stored
    first.reverse()
    first.pop()
    assert index.stored(DETAINED, 10) == stored
    assert index.stored(DETAINED, 3) == json.loads(index.stored_json(DETAINED, 3))
