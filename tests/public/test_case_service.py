"""services.submissions: references, triage on new cases, receipts and the shapes others rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.models import Urgency, queue_state
from intake.services import submissions, triage
from intake.services.triage import Routing
from tests.builders import make_entry, make_org_key
from tests.conftest import table_count
from tests.sealed import open_file

ROUTING = Routing(
    urgency=Urgency.IMMEDIATE,
    threats=["detention"],
    profiles=["lawyer"],
    country="CN",
    languages=["zh"],
    consent_given=True,
)


def _submit() -> submissions.Submission:
    return submissions.create_case_from_plaintext(
        ROUTING,
        org_key=make_org_key().key,
        answers={"what_happened": "x"},
        files=[],
        locale="en",
    )


def test_triage_suggestions_are_stored_on_the_new_case(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake(routing: Routing, limit: int = 10) -> str:
        seen.update(routing.as_dict())
        return json.dumps(
            [{"id": "wgad", "name": "WGAD", "score": 9, "reasons": ["detention"], "caveats": []}]
        )

    monkeypatch.setattr(triage, "stored_suggestions_json", fake)
    case = _submit().case
    assert case.triage[0]["id"] == "wgad"
    assert seen == {
        "threats": ["detention"],
        "profiles": ["lawyer"],
        "country": "CN",
        "languages": ["zh"],
        "urgency": "immediate",
    }


def test_a_failing_triage_never_loses_the_request(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(routing: Routing, limit: int = 10) -> str:
        raise RuntimeError("directory unavailable")

    monkeypatch.setattr(triage, "stored_suggestions_json", broken)
    case = _submit().case
    assert case.triage == []
    assert table_count("cases") == 1


def test_the_real_triage_runs_against_the_directory(app: Flask) -> None:
    case = _submit().case
    assert isinstance(case.triage, list)


def test_stored_triage_is_the_live_ranking_and_follows_directory_edits(any_app: Flask) -> None:
    """The JSON a process remembers per routing is exactly what triage ranks now, and an edit
    of the directory (a new version, a new index) is in the very next case, same routing."""
    make_entry("first-ngo", regions=["global"], threats=["detention"])
    before = _submit().case.triage
    assert before == triage.suggestions_for(ROUTING)
    assert "first-ngo" in [suggestion["id"] for suggestion in before]
    assert _submit().case.triage == before  # remembered: the same text again
    make_entry("second-ngo", regions=["global"], threats=["detention"], profiles=["lawyer"])
    after = _submit().case.triage
    assert after == triage.suggestions_for(ROUTING)
    assert "second-ngo" in [suggestion["id"] for suggestion in after]


def test_case_refs_are_short_crockford_and_unique(app: Flask) -> None:
    refs = {_submit().case.ref for _ in range(20)}
    assert len(refs) == 20
    for ref in refs:
        assert ref.startswith("RF-")
        assert len(ref) == 11
        assert set(ref[3:]) <= set(crypto.RECEIPT_ALPHABET)


def test_receipt_codes_have_100_bits_and_are_never_stored(app: Flask) -> None:
    submission = _submit()
    normalised = crypto.normalise_receipt_code(submission.receipt_code)
    assert normalised is not None
    assert len(normalised) * 5 >= 100
    case = submission.case
    assert normalised not in (case.receipt_lookup, case.reply_public_key, case.ref)
    assert case.receipt_lookup == crypto.receipt_lookup(normalised, app.config["SECRET_KEY"])


def test_every_symbol_of_a_code_takes_its_own_random_bits() -> None:
    """One draw serves all the symbols of a code: each position still takes every symbol of
    the alphabet, independently of its neighbours (a shift gone wrong would repeat them)."""
    codes = [crypto.random_symbols(20) for _ in range(2000)]
    assert all(len(code) == 20 and set(code) <= set(crypto.RECEIPT_ALPHABET) for code in codes)
    for position in range(20):
        assert {code[position] for code in codes} == set(crypto.RECEIPT_ALPHABET)
    # Neighbours agree about as often as chance says (1 in 32), not always.
    agreeing = sum(code[i] == code[i + 1] for code in codes for i in range(19))
    assert agreeing < len(codes) * 19 / 16


def test_file_envelope_round_trip_keeps_newlines_in_names(app: Flask) -> None:
    org = make_org_key()
    plain = submissions.PlainFile(
        name='a\nb "c".png', content_type="image/png", data=b"\n\x00data\n"
    )
    opened = open_file(submissions.seal_file(plain, org.public), org.secret)
    assert opened == plain


def test_too_many_files_are_refused_by_the_service(app: Flask) -> None:
    org = make_org_key()
    files = [submissions.PlainFile("f", "text/plain", b"x")] * 6
    with pytest.raises(submissions.SubmissionRefused):
        submissions.create_case_from_plaintext(
            ROUTING, org_key=org.key, answers={}, files=files, locale="en"
        )
    assert table_count("cases") == 0


def test_a_reference_already_taken_is_drawn_again_and_the_queue_columns_are_set(
    any_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = _submit().case.ref
    draws = iter([taken, "RF-ZZZZZZZZ"])
    monkeypatch.setattr(submissions, "new_case_ref", lambda: next(draws))
    case = _submit().case
    assert case.ref == "RF-ZZZZZZZZ"
    assert table_count("cases") == 2
    assert case.urgency_rank == queue_state.urgency_rank(Urgency.IMMEDIATE)
    assert case.first_response_at == queue_state.first_response_at(
        Urgency.IMMEDIATE, case.received_at
    )
    assert case.attention_at == case.first_response_at
