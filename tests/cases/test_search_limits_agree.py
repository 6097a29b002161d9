"""search.js carries limits and rules of the server's (a review: written in both, tied by
nothing): how many tokens a case keeps, how many a query may send, which messages are
searched, and what a reference typed in the search box looks like. Each is read from the
script's own text and compared with the server's, and the server's body limit for a case's
tokens must hold the most a browser may post."""

from __future__ import annotations

import re
from pathlib import Path

from intake.cases import forms, routes
from intake.services import search

SCRIPT = (Path(__file__).resolve().parents[2] / "intake" / "static" / "js" / "search.js").read_text(
    encoding="utf-8"
)


def _constant(name: str) -> str:
    found = re.search(rf"^\s*const {name} = (.+?);", SCRIPT, re.MULTILINE)
    assert found, name
    return found.group(1).split("//")[0].strip()


def test_the_token_limits_are_the_servers() -> None:
    assert int(_constant("MAX_TOKENS")) == search.MAX_TOKENS
    assert int(_constant("MAX_QUERY_TOKENS")) == forms.MAX_QUERY_TOKENS


def test_the_searched_messages_are_the_servers() -> None:
    kinds = re.findall(r'"([a-z_]+)"', _constant("SEARCHABLE_KINDS"))
    assert kinds == [kind.value for kind in search.SEARCHABLE_KINDS]


def test_a_reference_is_recognised_by_the_same_rule() -> None:
    script_rule = _constant("REFERENCE")
    assert script_rule.startswith("/")
    assert script_rule.endswith("/")
    assert script_rule[1:-1] == forms._REF_QUERY.pattern


def test_the_body_limit_holds_a_case_with_the_most_tokens() -> None:
    # As search.js posts them: one field, the tokens joined by spaces ("+" once encoded).
    tokens = "+".join("0" * 32 for _ in range(search.MAX_TOKENS))
    body = f"csrf_token={'x' * 91}&org_key_id=123456789&through=123456789&tokens={tokens}"
    assert len(body) <= routes.MAX_TOKENS_BODY
    assert 2 * len(body) > routes.MAX_TOKENS_BODY  # and not far above it
