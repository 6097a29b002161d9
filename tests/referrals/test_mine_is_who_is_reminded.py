"""A person's referrals ("yours" on /referrals, its "mine" filter, their daily digest) are
exactly those whose reminders reach them, whoever owns or holds what.

They counted only referrals owned by the person and unowned ones on cases they held. A
deactivation whose successor cannot act on a referral leaves it with its deactivated owner
(services.handover), and its reminders then go to the case's holder or the first admin: they
were reminded of referrals that their "yours", their filter and their digest left out."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    DirectoryEntry,
    Referral,
    ReferralKind,
    ReferralState,
    ReminderOutbox,
    Role,
    User,
)
from intake.services import counting, referrals, reminders
from tests.builders import make_case, make_org_key, make_user


def _staff() -> dict[str, User]:
    people = {
        "admin": make_user(Role.ADMIN, email="first-admin@example.org"),
        "me": make_user(Role.CASEWORKER, email="me@example.org"),
        "other": make_user(Role.CASEWORKER, email="other@example.org"),
        "second admin": make_user(Role.ADMIN, email="second-admin@example.org"),
        "left": make_user(Role.CASEWORKER, email="left@example.org"),
        "viewer": make_user(Role.VIEWER, email="viewer@example.org"),
    }
    people["left"].is_active_account = False
    db.session.commit()
    return people


def _every_pairing(people: dict[str, User]) -> list[Referral]:
    """One overdue referral for each (owner, case holder) pair, nobody included on both sides."""
    org = make_org_key()
    db.session.add(DirectoryEntry(id="test-ngo", name="Test NGO"))
    holders: list[User | None] = [None, *people.values()]
    made = []
    for holder in holders:
        case = make_case(org, assignee_id=holder.id if holder else None)
        for owner in holders:
            made.append(
                Referral(
                    case_id=case.id,
                    entry_id="test-ngo",
                    kind=ReferralKind.NGO_REFERRAL,
                    state=ReferralState.SENT,
                    due_at=utcnow() - timedelta(days=10),
                    clock_started_at=utcnow() - timedelta(days=70),
                    owner_id=owner.id if owner else None,
                )
            )
    db.session.add_all(made)
    db.session.commit()
    return made


@pytest.mark.parametrize("cap", [100, 3])
def test_yours_are_exactly_the_referrals_whose_reminders_reach_you(
    any_app: Flask, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """Against both scans (SQL on PostgreSQL, Python on SQLite): who each referral's reminder
    went to is whose it is, for every person, in the filter and in the counts."""
    monkeypatch.setattr(counting, "COUNT_CAP", cap)
    any_app.config["DAILY_DIGEST"] = False
    people = _staff()
    made = _every_pairing(people)
    now = utcnow()
    reminders.scan(now, enqueue=lambda _id: None)
    reminded = dict(
        db.session.execute(
            sa.select(ReminderOutbox.referral_id, ReminderOutbox.recipient_id).where(
                ReminderOutbox.kind == "reminder"
            )
        ).all()
    )
    assert set(reminded) == {referral.id for referral in made}  # each one, to someone
    assert reminders.first_admin() == people["admin"]
    for name, person in people.items():
        expected = {referral for referral, recipient in reminded.items() if recipient == person.id}
        found = set(
            db.session.scalars(sa.select(Referral.id).where(referrals.mine(person.id))).all()
        )
        assert found == expected, name
        counted = referrals.overview(now, owner_id=person.id, bounded=True).overdue
        assert counted == min(len(expected), cap + 1), name
        assert referrals.overview(now, owner_id=person.id).overdue == len(expected), name
    # Those whose owner left reach whoever holds their case; those nobody reachable owns or
    # holds reach the first admin, and no one else counts them.
    left_on_mine = {
        referral.id
        for referral in made
        if referral.owner_id == people["left"].id and referral.case.assignee_id == people["me"].id
    }
    assert left_on_mine
    assert left_on_mine <= {r for r, who in reminded.items() if who == people["me"].id}
    viewer = sa.select(Referral.id).where(referrals.mine(people["viewer"].id))
    assert not db.session.scalars(viewer).all()


def test_the_digest_counts_what_the_first_admin_is_reminded_of(any_app: Flask) -> None:
    people = _staff()
    _every_pairing(people)
    counts = reminders.digest_counts(people["admin"].id, utcnow())
    # Owners: nobody, the admin, the one who left, the viewer (4 of 7); holders: nobody, the
    # admin, the one who left, the viewer — of which the admin's own 7 cases count whatever
    # their owner but those of the reachable owners (me, other, second admin: 3).
    standing_in = 3 * 3  # owner unreachable (nobody, left, viewer) × holder unreachable
    owned = 7  # the admin owns one on every case
    held = 3  # on the admin's case: owner nobody, left or viewer
    assert counts["overdue"] == standing_in + owned + held
