"""Realistic sample data for trying the product and for benchmarks (`flask demo --cases N`).

Cases are sealed to the organisation's current public key exactly as the intake form seals
them, so a caseworker who unlocks the organisation key can read them; referrals are spread so
that their deadlines lie around today (some overdue, some due this week, some later).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseStatus,
    DirectoryEntry,
    OrgKey,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    SealedBy,
    Urgency,
    User,
)
from intake.services import keys, triage
from intake.services.deadlines import CLOCK_STARTS, due_at
from intake.services.settings import org_zone
from intake.services.triage import Routing

SITUATIONS: list[dict[str, Any]] = [
    {
        "threats": ["physical_attack", "violence_threat"],
        "profiles": ["freelance_journalist", "journalist"],
        "country": "MX",
        "languages": ["es", "en"],
        "urgency": Urgency.IMMEDIATE,
        "what": "A freelance reporter was beaten after publishing on local land sales.",
        "kinds": [ReferralKind.SP_URGENT_APPEAL, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["detention"],
        "profiles": ["lawyer"],
        "country": "CN",
        "languages": ["zh"],
        "urgency": Urgency.IMMEDIATE,
        "what": "一名人權律師被以「煽動顛覆」罪名羈押，家屬無法會見。",
        "kinds": [ReferralKind.WGAD_OPINION, ReferralKind.SP_URGENT_APPEAL],
    },
    {
        "threats": ["violence_threat", "digital"],
        "profiles": ["woman_hrd"],
        "country": "PH",
        "languages": ["en", "tl"],
        "urgency": Urgency.DAYS,
        "what": "A woman defender receives threats online after a protest.",
        "kinds": [ReferralKind.NGO_REFERRAL, ReferralKind.SP_ALLEGATION_LETTER],
    },
    {
        "threats": ["legislation", "expression"],
        "profiles": ["organisation"],
        "country": "IN",
        "languages": ["en", "hi"],
        "urgency": Urgency.DAYS,
        "what": "A draft law would force NGOs receiving foreign funds to register as agents.",
        "kinds": [ReferralKind.SP_LEGISLATION],
    },
    {
        "threats": ["reprisal"],
        "profiles": ["environmental_land", "indigenous"],
        "country": "BR",
        "languages": ["pt"],
        "urgency": Urgency.WEEKS,
        "what": "A community leader was questioned after speaking at the UN.",
        "kinds": [ReferralKind.REPRISALS_REPORT, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["disappearance"],
        "profiles": ["family_member"],
        "country": "BD",
        "languages": ["bn", "en"],
        "urgency": Urgency.IMMEDIATE,
        "what": "A student activist has not been seen since being taken from home at night.",
        "kinds": [ReferralKind.EMBASSY_CONTACT, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["health", "aid_worker_security"],
        "profiles": ["aid_worker"],
        "country": "SD",
        "languages": ["ar", "en"],
        "urgency": Urgency.DAYS,
        "what": "An aid worker needs medical evacuation after an attack on a clinic.",
        "kinds": [ReferralKind.NGO_REFERRAL, ReferralKind.FOLLOW_UP],
    },
    {
        "threats": ["lawsuit"],
        "profiles": ["journalist"],
        "country": "TW",
        "languages": ["zh", "en"],
        "urgency": Urgency.NOT_URGENT,
        "what": "一名記者因報導財團開發案遭提起誹謗訴訟。",
        "kinds": [ReferralKind.NGO_REFERRAL],
    },
]
STATE_MIX = (
    [ReferralState.SENT] * 5
    + [ReferralState.ACKNOWLEDGED] * 2
    + [
        ReferralState.DRAFT,
        ReferralState.REPLIED,
    ]
)


class DemoError(RuntimeError):
    """Demo data cannot be made (the message says what to do first)."""


def _current_org_key() -> OrgKey:
    key = keys.current_org_key()
    if key is None:
        raise DemoError(
            "No organisation key yet: complete /setup or run `flask keys init` first, "
            "so that demo cases are sealed to a key someone can open."
        )
    return key


def _suggestions(situation: dict[str, Any]) -> list[dict[str, Any]]:
    return triage.suggestions_for(
        Routing(
            urgency=situation["urgency"],
            threats=situation["threats"],
            profiles=situation["profiles"],
            country=situation["country"],
            languages=situation["languages"],
        )
    )


def _entry_for(
    kind: ReferralKind, suggestions: list[dict[str, Any]], kinds_by_entry: dict[str, list[str]]
) -> str | None:
    """The best-ranked suggestion that takes this kind of referral, else any entry that does."""
    for suggestion in suggestions:
        if kind.value in kinds_by_entry.get(str(suggestion.get("id")), []):
            return str(suggestion["id"])
    for entry_id, kinds in sorted(kinds_by_entry.items()):
        if kind.value in kinds:
            return entry_id
    return None


def _answers(situation: dict[str, Any], number: int, rng: random.Random) -> dict[str, str]:
    """Answers in the intake form's own shape (intake.public.forms.SEALED_FIELDS)."""
    return {
        "sender_name": f"Sample sender {number}",
        "sender_role": rng.choice(["self", "family", "lawyer", "organisation"]),
        "sender_organisation": "",
        "sender_contact": "Signal only, after 20:00 local time",
        "safe_to_contact": "yes",
        "safe_contact_notes": "Never by phone.",
        "others_at_risk": "Family members living at the same address.",
        "reprisal_concerns": "Do not share the home address with the authorities.",
        "urgency_reason": "Hearing scheduled within two weeks."
        if situation["urgency"] != Urgency.NOT_URGENT
        else "",
        "victim_name": f"Sample person {number}",
        "victim_age": str(rng.randint(19, 70)),
        "victim_gender": rng.choice(["woman", "man", "non-binary"]),
        "victim_origin": situation["country"],
        "victim_residence": situation["country"],
        "other_victims": "",
        "consent": "yes",
        "consent_by": "The person themselves",
        "referral_consent": "yes",
        "what_happened": situation["what"],
        "when_happened": "Last month",
        "where_happened": "The capital",
        "perpetrators": "Plain-clothes police officers",
        "context": "Part of a wider pattern against defenders in the region.",
        "actions_taken": "A complaint to the local prosecutor, unanswered.",
        "wanted_actions": "Urgent intervention with the authorities.",
    }


def create(count: int, *, seed: int = 2026, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    rng = random.Random(seed)  # noqa: S311  (sample data, not secrets)
    key = _current_org_key()
    rows = db.session.execute(
        sa.select(DirectoryEntry.id, DirectoryEntry.referral_kinds).where(
            DirectoryEntry.retired_at.is_(None)
        )
    ).all()
    kinds_by_entry = {entry_id: list(kinds or []) for entry_id, kinds in rows}
    if not kinds_by_entry:
        raise DemoError("The directory is empty: run `flask directory import` first.")
    staff = list(
        db.session.scalars(
            sa.select(User).where(User.role.in_([Role.ADMIN, Role.CASEWORKER])).order_by(User.id)
        )
    )
    zone = org_zone()
    suggestions_by_situation = [_suggestions(situation) for situation in SITUATIONS]
    made_cases = made_referrals = 0
    for index in range(count):
        which = rng.randrange(len(SITUATIONS))
        situation = SITUATIONS[which]
        received = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1439))
        code = crypto.normalise_receipt_code(crypto.new_receipt_code()) or ""
        answers = _answers(situation, index + 1, rng)
        assignee = staff[index % len(staff)] if staff else None
        case = Case(
            ref=f"RF-{crypto.new_receipt_code().replace('-', '')[:8]}",
            status=rng.choice([CaseStatus.NEW, CaseStatus.ASSESSING, CaseStatus.REFERRED]),
            urgency=situation["urgency"],
            threats=situation["threats"],
            profiles=situation["profiles"],
            country=situation["country"],
            languages=situation["languages"],
            consent_given=rng.random() > 0.1,
            locale="en",
            sealed_by=SealedBy.SERVER,
            org_key_id=key.id,
            sealed_answers=crypto.seal_answers(answers, key.public_key),
            receipt_lookup=crypto.receipt_lookup(code, _secret()),
            reply_public_key=crypto.reply_keypair(code)[0],
            assignee_id=assignee.id if assignee else None,
            triage=suggestions_by_situation[which],
            received_at=received,
        )
        db.session.add(case)
        db.session.flush()
        made_cases += 1
        for kind in situation["kinds"]:
            entry_id = _entry_for(kind, suggestions_by_situation[which], kinds_by_entry)
            if entry_id is None:
                continue
            clock_kind = CLOCK_STARTS[kind]
            state = rng.choice(STATE_MIX)
            if clock_kind == "case_received" and received < now - timedelta(days=2):
                state = ReferralState.REPLIED  # an embassy is called the first day, or never
            # Sent so that deadlines fall from three weeks ago to seven weeks ahead.
            sent = now - timedelta(days=rng.randint(0, 70), hours=rng.randint(0, 23))
            sent = max(sent, received)
            referral = Referral(
                case_id=case.id,
                entry_id=entry_id,
                kind=kind,
                state=state,
                owner_id=case.assignee_id,
                created_at=received,
            )
            clock = {"sent": sent, "case_received": received, "created": received}[clock_kind]
            if state != ReferralState.DRAFT or clock_kind != "sent":
                referral.clock_started_at = clock
                referral.due_at = due_at(kind, clock, zone)
            if state != ReferralState.DRAFT:
                referral.sent_at = sent
            if state == ReferralState.ACKNOWLEDGED:
                referral.acknowledged_at = min(now, sent + timedelta(days=2))
            if state == ReferralState.REPLIED:
                referral.replied_at = min(now, sent + timedelta(days=20))
            db.session.add(referral)
            made_referrals += 1
        if index % 500 == 499:
            db.session.commit()
    db.session.commit()
    return {"cases": made_cases, "referrals": made_referrals, "org_key_id": key.id}


def _secret() -> str:
    from flask import current_app

    return str(current_app.config["SECRET_KEY"])
