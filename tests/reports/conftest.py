"""A year of known casework (2025, organisation in Asia/Taipei) with every figure worked out
by hand, including requests on both sides of each New Year's midnight in Taipei."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from intake.extensions import db
from intake.models import (
    Case,
    CaseStatus,
    OutboxStatus,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    SealedBy,
    Urgency,
    User,
)
from tests.builders import OrgKeyPair, make_case, make_entry, make_org_key, make_user

TAIPEI = ZoneInfo("Asia/Taipei")
# "Now" for the figures that depend on it (overdue or not yet due).
NOW = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def taipei(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TAIPEI).astimezone(UTC)


@dataclass
class Year:
    cases: dict[str, Case] = field(default_factory=dict)
    referrals: dict[str, Referral] = field(default_factory=dict)
    owner: User | None = None


def add_case(org: OrgKeyPair, name: str, received_at: datetime, **fields: Any) -> Case:
    sealed_by = fields.pop("sealed_by", SealedBy.BROWSER)
    case = make_case(org, {"what_happened": f"CANARY {name}"}, received_at=received_at, **fields)
    case.sealed_by = sealed_by
    db.session.commit()
    return case


def add_referral(case: Case, entry_id: str, kind: ReferralKind, **fields: Any) -> Referral:
    sent_at = fields.get("sent_at")
    if sent_at is not None:
        fields.setdefault("created_at", sent_at - timedelta(hours=1))
    referral = Referral(case_id=case.id, entry_id=entry_id, kind=kind, **fields)
    db.session.add(referral)
    db.session.commit()
    return referral


def add_outbox(user: User, key: str, kind: str, status: OutboxStatus, sent_at: datetime) -> None:
    db.session.add(
        ReminderOutbox(
            dedupe_key=key,
            kind=kind,
            recipient_id=user.id,
            offset_key="d7" if kind == "reminder" else "digest",
            status=status,
            sent_at=sent_at if status == OutboxStatus.SENT else None,
        )
    )
    db.session.commit()


def seed_year() -> Year:
    """Ten requests in 2025 (Taipei time), two just outside it, seven referrals, reminders.

    Expected 2025 figures: total 10; per month Jan 2, Mar 1, Apr 1, May 1, Jun 1, Aug 1, Nov 1,
    Dec 2; TW 6, HK 3, MX 1; lawyer 6, woman_hrd 5, journalist 2; detention 10, digital 3;
    immediate 2, days 5, weeks 3; browser 7, server 3; consent 8 / 2; new 3, referred 4,
    closed 3 (resolved 2, out_of_scope 1). Referrals sent or started in 2025: 6 (alpha 4,
    beta 2); median days to first referral 5.0 over 4 requests; reminders 2, digests 1.
    """
    org = make_org_key()
    year = Year(owner=make_user(Role.CASEWORKER))
    make_entry("alpha-ngo", name="Alpha Defenders Network", name_zh="阿爾法捍衛者網絡")
    make_entry("beta-desk", name="Beta Legal Desk")
    make_entry("gamma-fund", name="Gamma Fund")
    c = year.cases
    lawyer_whrd = ["lawyer", "woman_hrd"]
    # 00:10 on 1 January in Taipei is still 31 December in UTC: it belongs to 2025.
    c["TW1"] = add_case(
        org,
        "TW1",
        taipei(2025, 1, 1, 0, 10),
        country="TW",
        urgency=Urgency.IMMEDIATE,
        profiles=lawyer_whrd,
        threats=["detention", "digital"],
        status=CaseStatus.REFERRED,
    )
    c["TW2"] = add_case(
        org,
        "TW2",
        utc(2025, 1, 15, 4),
        country="TW",
        profiles=lawyer_whrd,
        status=CaseStatus.REFERRED,
    )
    c["TW3"] = add_case(
        org,
        "TW3",
        utc(2025, 3, 10, 4),
        country="TW",
        profiles=lawyer_whrd,
        status=CaseStatus.REFERRED,
    )
    for name, when, outcome in (
        ("TW4", utc(2025, 4, 10, 4), "resolved"),
        ("TW5", utc(2025, 5, 5, 4), "resolved"),
    ):
        c[name] = add_case(
            org,
            name,
            when,
            country="TW",
            profiles=["lawyer"],
            status=CaseStatus.CLOSED,
            outcome=outcome,
            closed_at=when + timedelta(days=20),
        )
    c["TW6"] = add_case(org, "TW6", utc(2025, 6, 1, 4), country="TW", profiles=["lawyer"])
    c["HK1"] = add_case(
        org,
        "HK1",
        utc(2025, 11, 20, 4),
        country="HK",
        urgency=Urgency.IMMEDIATE,
        profiles=["woman_hrd"],
        threats=["detention", "digital"],
        status=CaseStatus.REFERRED,
    )
    # 23:30 on 31 December in Taipei (15:30 UTC): still 2025, in December.
    c["HK2"] = add_case(
        org,
        "HK2",
        taipei(2025, 12, 31, 23, 30),
        country="HK",
        urgency=Urgency.WEEKS,
        profiles=["woman_hrd"],
        sealed_by=SealedBy.SERVER,
        status=CaseStatus.CLOSED,
        outcome="out_of_scope",
    )
    c["HK3"] = add_case(
        org,
        "HK3",
        utc(2025, 12, 5, 4),
        country="HK",
        urgency=Urgency.WEEKS,
        profiles=["journalist"],
        sealed_by=SealedBy.SERVER,
        consent_given=False,
    )
    c["MX1"] = add_case(
        org,
        "MX1",
        utc(2025, 8, 8, 4),
        country="MX",
        urgency=Urgency.WEEKS,
        profiles=["journalist"],
        threats=["detention", "digital"],
        sealed_by=SealedBy.SERVER,
        consent_given=False,
    )
    # Just outside 2025 in Taipei, though both are 2025-12-31 or 2024-12-31 in UTC.
    c["OUT2024"] = add_case(org, "OUT2024", taipei(2024, 12, 31, 23, 50), country="TW")
    c["OUT2026"] = add_case(org, "OUT2026", taipei(2026, 1, 1, 0, 5), country="TW")

    r = year.referrals
    sent = c["TW1"].received_at + timedelta(days=2)
    r["on_time"] = add_referral(
        c["TW1"],
        "alpha-ngo",
        ReferralKind.NGO_REFERRAL,
        state=ReferralState.REPLIED,
        sent_at=sent,
        due_at=sent + timedelta(days=14),
        acknowledged_at=sent + timedelta(days=5),
        replied_at=sent + timedelta(days=9),
    )
    sent = c["TW2"].received_at + timedelta(days=4)
    r["late"] = add_referral(
        c["TW2"],
        "alpha-ngo",
        ReferralKind.SP_URGENT_APPEAL,
        state=ReferralState.REPLIED,
        sent_at=sent,
        due_at=sent + timedelta(days=60),
        replied_at=sent + timedelta(days=70),
    )
    sent = c["TW2"].received_at + timedelta(days=200)
    r["not_yet_due"] = add_referral(
        c["TW2"],
        "alpha-ngo",
        ReferralKind.WGAD_OPINION,
        state=ReferralState.SENT,
        sent_at=sent,
        due_at=sent + timedelta(days=182),
    )
    sent = c["TW3"].received_at + timedelta(days=10)
    r["no_reply"] = add_referral(
        c["TW3"],
        "beta-desk",
        ReferralKind.SP_ALLEGATION_LETTER,
        state=ReferralState.NO_REPLY,
        sent_at=sent,
        due_at=sent + timedelta(days=30),
    )
    sent = c["HK1"].received_at + timedelta(days=6)
    r["overdue"] = add_referral(
        c["HK1"],
        "alpha-ngo",
        ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT,
        sent_at=sent,
        due_at=sent + timedelta(days=14),
    )
    r["draft"] = add_referral(
        c["TW6"], "beta-desk", ReferralKind.EMBASSY_CONTACT, created_at=utc(2025, 6, 2, 4)
    )
    r["outside"] = add_referral(
        c["OUT2024"],
        "gamma-fund",
        ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT,
        sent_at=utc(2024, 12, 20, 4),
        due_at=utc(2025, 1, 3, 4),
    )

    owner = year.owner
    assert owner is not None
    add_outbox(owner, "reminder:1:d7", "reminder", OutboxStatus.SENT, utc(2025, 5, 1, 4))
    add_outbox(owner, "reminder:2:d7", "reminder", OutboxStatus.SENT, utc(2025, 5, 2, 4))
    add_outbox(owner, "digest:1:2025-06-01", "digest", OutboxStatus.SENT, utc(2025, 6, 1, 4))
    add_outbox(owner, "reminder:3:d7", "reminder", OutboxStatus.PENDING, utc(2025, 6, 1, 4))
    # 23:00 on 31 December 2024 in Taipei: last year.
    add_outbox(owner, "reminder:4:d7", "reminder", OutboxStatus.SENT, taipei(2024, 12, 31, 23))
    return year


def viewer_context(app: Any, browser: Any, live_server: Any, **options: Any) -> Any:
    """A Chromium context (``options``: viewport, locale, JavaScript…) signed in as a new
    viewer, the role that reads reports."""
    from tests.builders import session_cookie

    context = browser.new_context(**options)
    cookie = {
        "name": app.config["SESSION_COOKIE_NAME"],
        "value": session_cookie(app, make_user(Role.VIEWER)),
        "url": live_server.url,
    }
    context.add_cookies([cookie])
    return context
