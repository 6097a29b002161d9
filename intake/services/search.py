"""Search over sealed cases by keyed tokens: the server stores and matches opaque tokens only.

The tokens are computed in a key holder's browser (static/js/search.js): a search key derived
from the organisation secret key (``crypto_kdf_derive_from_key``, context "RfSearch"), then a
keyed BLAKE2b of each normalised word, CJK character and bigram, and phone-number digit string.
The server checks their shape (fixed-length hex), ties them to the organisation key they were
keyed with, and answers "which cases hold all of these tokens". It cannot tell which word a
token stands for; what it can learn is in the README ("Search on encrypted cases").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseMessage,
    CaseSearchIndex,
    CaseSearchToken,
    MessageKind,
    User,
)
from intake.services import audit
from intake.services.errors import CodedError
from intake.services.keys import current_org_key
from intake.services.transactions import transactional

# The messages whose text is searched with the answers (search.js SEARCHABLE_KINDS): what the
# submitter adds later and the staff's own notes. Replies are sealed to the submitter.
SEARCHABLE_KINDS = (MessageKind.SUBMITTER_FOLLOW_UP, MessageKind.INTERNAL_NOTE)
TOKEN_HEX = re.compile(r"^[0-9a-f]{32}$")  # 16 bytes of keyed BLAKE2b, lower-case hex
MAX_TOKENS = 6000  # search.js MAX_TOKENS: a long case keeps its first (most telling) tokens
# The cases a key holder's browser indexes in the background per request (search-backlog.js):
# small, so that each answer is quick and the page stays responsive while it works.
BACKLOG_BATCH = 10
MAX_BACKLOG_BATCH = 25


class SearchError(CodedError):
    status = 400
    MESSAGES = {  # noqa: RUF012  (class-level table, read only)
        "shape": _l("Search tokens must be up to 6000 values of 32 hexadecimal digits."),
        "stale_key": _l(
            "These search tokens were made with an organisation key that is no longer current."
            " Reload the page."
        ),
    }


def valid_tokens(raw: Sequence[str]) -> list[str]:
    """The distinct tokens, in order; SearchError("shape") when any is not a token."""
    tokens = list(dict.fromkeys(raw))
    if len(tokens) > MAX_TOKENS or not all(TOKEN_HEX.match(t) for t in tokens):
        raise SearchError("shape")
    return tokens


def needs_reindex(case_id: int) -> None:
    """The case gained searchable sealed text (a follow-up, a note): its tokens no longer
    cover it. They stay, so what was findable still is, but the case reads as not indexed and
    the next key holder who opens it (its page, or its row in the queue) computes them again.
    Part of the caller's transaction."""
    db.session.execute(sa.delete(CaseSearchIndex).where(CaseSearchIndex.case_id == case_id))


@transactional
def store_tokens(
    case: Case,
    org_key_id: int,
    raw_tokens: Sequence[str],
    actor: User,
    through_message_id: int = 0,
) -> int:
    """Replace the case's search tokens with these, keyed with the current organisation key.
    ``through_message_id``: the newest searchable message the browser read into them; if a
    newer one has come since, the tokens are stored but the case stays to be indexed again.

    All or nothing: a refusal leaves the previous tokens in place. Audited with the count only.
    """
    tokens = valid_tokens(raw_tokens)
    current = current_org_key()
    if current is None or current.id != org_key_id:
        raise SearchError("stale_key", status=409)
    db.session.execute(sa.delete(CaseSearchToken).where(CaseSearchToken.case_id == case.id))
    if tokens:
        db.session.execute(
            sa.insert(CaseSearchToken),
            [{"case_id": case.id, "token": t, "org_key_id": org_key_id} for t in tokens],
        )
    index = db.session.get(CaseSearchIndex, case.id)
    if _unread_message(case.id, through_message_id):
        if index is not None:
            db.session.delete(index)
    else:
        if index is None:
            index = CaseSearchIndex(case_id=case.id)
            db.session.add(index)
        index.org_key_id = org_key_id
        index.token_count = len(tokens)
        index.indexed_at = utcnow()
    audit.record("case.search_index", "case", case.id, actor=actor, detail={"tokens": len(tokens)})
    return len(tokens)


def _unread_message(case_id: int, through_message_id: int) -> bool:
    """Whether the case has a searchable message newer than ``through_message_id``."""
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists().where(
                    CaseMessage.case_id == case_id,
                    CaseMessage.kind.in_(SEARCHABLE_KINDS),
                    CaseMessage.id > through_message_id,
                )
            )
        )
    )


def is_indexed(case: Case, org_key_id: int | None) -> bool:
    """Whether the case's tokens, under ``org_key_id``, cover everything it says."""
    return case.id in indexed_cases([case.id], org_key_id)


def cases_with_all(tokens: Collection[str], org_key_id: int) -> sa.Select[Any]:
    """The ids of cases whose tokens (under this key) include every one of ``tokens``."""
    distinct = sorted(set(tokens))
    return (
        sa.select(CaseSearchToken.case_id)
        .where(CaseSearchToken.org_key_id == org_key_id, CaseSearchToken.token.in_(distinct))
        .group_by(CaseSearchToken.case_id)
        .having(sa.func.count(CaseSearchToken.token) == len(distinct))
    )


def indexed_cases(case_ids: Collection[int], org_key_id: int | None) -> set[int]:
    """Which of these cases already have tokens under ``org_key_id``."""
    if not case_ids or org_key_id is None:
        return set()
    return set(
        db.session.scalars(
            sa.select(CaseSearchIndex.case_id).where(
                CaseSearchIndex.case_id.in_(case_ids), CaseSearchIndex.org_key_id == org_key_id
            )
        )
    )


@dataclass(frozen=True)
class Backlog:
    """How many cases there are, and how many of them are not (or no longer) searchable under
    the current organisation key: a search cannot find those yet."""

    total: int
    unindexed: int

    @property
    def indexed(self) -> int:
        return self.total - self.unindexed


def backlog(org_key_id: int | None) -> Backlog:
    """The cases, and those without search tokens under ``org_key_id`` (all, with no key)."""
    total = db.session.scalar(sa.select(sa.func.count(Case.id))) or 0
    if org_key_id is None:
        return Backlog(total, total)
    indexed = (
        db.session.scalar(
            sa.select(sa.func.count(CaseSearchIndex.case_id)).where(
                CaseSearchIndex.org_key_id == org_key_id
            )
        )
        or 0
    )
    return Backlog(total, max(0, total - indexed))


@transactional
def unindexed_batch(
    org_key_id: int, after: str | None, limit: int, actor: User
) -> list[dict[str, Any]]:
    """The next ``limit`` cases (by reference, after ``after``) without search tokens under
    ``org_key_id``, as ciphertext for a key holder's browser to index (search-backlog.js):
    the sealed answers and the searchable messages (SEARCHABLE_KINDS), no plaintext. Each
    case's ciphertext going out is audited as a view of it, as /cases/<ref>/sealed is."""
    query = (
        sa.select(Case.id, Case.ref, Case.org_key_id, Case.sealed_answers)
        .where(
            ~sa.exists().where(
                CaseSearchIndex.case_id == Case.id, CaseSearchIndex.org_key_id == org_key_id
            )
        )
        .order_by(Case.ref)
        .limit(limit)
    )
    if after:
        query = query.where(Case.ref > after)
    cases = list(db.session.execute(query))
    if not cases:
        return []
    messages: dict[int, list[dict[str, Any]]] = {case.id: [] for case in cases}
    for message in db.session.execute(
        sa.select(
            CaseMessage.id,
            CaseMessage.case_id,
            CaseMessage.kind,
            CaseMessage.org_key_id,
            CaseMessage.sealed_body,
        )
        .where(CaseMessage.case_id.in_(list(messages)), CaseMessage.kind.in_(SEARCHABLE_KINDS))
        .order_by(CaseMessage.id)
    ):
        messages[message.case_id].append(
            {
                "id": message.id,
                "kind": message.kind.value,
                "org_key_id": message.org_key_id,
                "sealed_body": message.sealed_body,
            }
        )
    audit.record_all(
        [
            audit.Entry(
                "case.view",
                "case",
                case.id,
                actor_label=f"user:{actor.email}",
                actor_id=actor.id,
                detail={"part": "search_backlog"},
            )
            for case in cases
        ]
    )
    return [
        {
            "ref": case.ref,
            "org_key_id": case.org_key_id,
            "sealed_answers": case.sealed_answers,
            "messages": messages[case.id],
        }
        for case in cases
    ]
