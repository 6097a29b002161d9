"""Builders for referral tests: a case with an owner and a sent referral; two colleagues
acting at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    UnStepKind,
    User,
)
from intake.services import audit, referrals, un_steps
from intake.services.deadlines import UN_KINDS
from intake.services.keys import current_org_key
from intake.services.un_steps import CLOCK_STEP
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
)

CANARY = "CANARY-7f3a-referral-plaintext"
RECEIVED_BEFORE = timedelta(days=400)


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The referral pages on SQLite, CSRF off (tests that check CSRF make their own app)."""
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


def draft_un_referral(kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL) -> Referral:
    """A UN referral not yet submitted, owned by a caseworker who holds the key."""
    org = make_org_key()
    make_entry("sr-hrd")
    owner = give_key(make_user(Role.CASEWORKER), org)
    # Received long enough ago for any step a test dates in the past (none can precede it).
    case = make_case(org, received_at=utcnow() - RECEIVED_BEFORE)
    return referrals.create(case.id, "sr-hrd", kind, owner, owner_id=owner.id)


def sent_referral(
    kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL,
    sent_at: datetime | None = None,
    owner: User | None = None,
    org: OrgKeyPair | None = None,
    entry_id: str = "test-ngo",
) -> Referral:
    org = org or make_org_key()
    owner = owner or make_user(Role.CASEWORKER)
    give_key(owner, org)  # a referral's owner can open its case
    if db.session.get(DirectoryEntry, entry_id) is None:
        make_entry(entry_id)
    moment = sent_at or utcnow()
    case = make_case(
        org,
        {"what_happened": CANARY, "victims": [{"name": CANARY}]},
        received_at=min(moment, utcnow()) - timedelta(days=1),  # a request comes first
    )
    referral = referrals.create(case.id, entry_id, kind, owner, owner_id=owner.id)
    referral = referrals.transition(referral.id, "send", owner, at=moment)
    if kind in UN_KINDS:
        # Most tests want the government's clock running: the mandate wrote the same day.
        step = CLOCK_STEP[kind]
        fields = (
            un_steps.StepFields(communication_type="urgent_appeal")
            if step == UnStepKind.COMMUNICATION_SENT
            else None
        )
        un_steps.record(referral.id, step, owner, at=moment, fields=fields)
        db.session.refresh(referral)
    assert referral.state == ReferralState.SENT
    return referral


def sealed_fact(text: str) -> str:
    """A UN reference or link as js/un-steps.js posts it: {"body": text} padded and sealed to
    the organisation's current key (send its id as org_key_id)."""
    key = current_org_key()
    assert key is not None
    payload = json.dumps({"body": text}, separators=(",", ":")).encode()
    return crypto.b64(crypto.seal(crypto.pad(payload), key.public_key))


def opened_fact(sealed: str, org: OrgKeyPair) -> str:
    """What a sealed reference or link says, opened with the organisation secret."""
    body: str = crypto.open_answers(sealed, org.secret)["body"]
    return body


def two_colleagues_at_once(
    app: Flask, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    """Run ``first`` and ``second`` in two threads, each in its own app context (its own
    connection: PostgreSQL's READ COMMITTED, as under gunicorn), and return what each returned
    or the exception it raised (a service's refusal, or what would have been a 500).

    The first holds its transaction open a moment after its checks and writes (every audit
    event is slowed, and the audit comes last); the second starts then. Without a lock the
    second reads what was committed before the first, passes the same checks, and both
    land; with one it waits for the first to commit and sees what it did."""
    record = audit.record
    first_writing = threading.Event()
    threads: list[threading.Thread] = []

    def audit_taking_its_time(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threads[0]:
            first_writing.set()
        time.sleep(0.3)
        return record(*args, **kwargs)

    outcomes: list[Any] = [None, None]

    def attempt(index: int, action: Callable[[], Any]) -> None:
        with app.app_context():
            if index == 1:
                first_writing.wait(timeout=10)
            try:
                outcomes[index] = action()
            except Exception as error:  # a refusal, or what would have been a 500
                outcomes[index] = error
            finally:
                if index == 0:
                    first_writing.set()  # refused before its audit: the second goes on
                db.session.remove()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "record", audit_taking_its_time)
        threads += [
            threading.Thread(target=attempt, args=(index, action))
            for index, action in enumerate((first, second))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return outcomes[0], outcomes[1]
