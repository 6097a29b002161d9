"""The queue: what needs action, in which order, and the filters, search and pages around it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    Urgency,
)
from intake.models.directory import DirectoryEntry
from tests.builders import OrgKeyPair, make_case, make_entry, make_org_key, make_user, sign_in


def refs_in(html: str) -> list[str]:
    return re.findall(r'class="case-ref" href="/cases/([^"]+)"', html)


def queue(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return refs_in(response.get_data(as_text=True))


def refer(case: Case, due_in: timedelta, state: ReferralState = ReferralState.SENT) -> Referral:
    if db.session.get(DirectoryEntry, "ngo-x") is None:
        make_entry("ngo-x", name="NGO X")
    referral = Referral(
        case_id=case.id,
        entry_id="ngo-x",
        kind=ReferralKind.NGO_REFERRAL,
        state=state,
        due_at=utcnow() + due_in,
    )
    db.session.add(referral)
    db.session.commit()
    return referral


def aged(org: OrgKeyPair, ref: str, hours: float, **fields: Any) -> Case:
    return make_case(org, ref=ref, received_at=utcnow() - timedelta(hours=hours), **fields)


def test_cases_are_ordered_by_urgency_then_nearest_deadline_then_waiting_longest(
    any_app: Flask,
) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-WEEKS", 24, urgency=Urgency.WEEKS)
    aged(org, "RF-IMM-2H", 2, urgency=Urgency.IMMEDIATE)
    aged(org, "RF-IMM-5H", 5, urgency=Urgency.IMMEDIATE)
    due_late = aged(org, "RF-IMM-DUE5", 1, urgency=Urgency.IMMEDIATE, assignee_id=me.id)
    due_soon = aged(org, "RF-IMM-DUE2", 0.5, urgency=Urgency.IMMEDIATE)
    days = aged(org, "RF-DAYS-DUE1", 3, urgency=Urgency.DAYS)
    refer(due_late, timedelta(days=5))
    refer(due_soon, timedelta(days=2))
    refer(due_soon, timedelta(days=-30), ReferralState.CLOSED)  # a finished one: no deadline
    refer(days, timedelta(days=1))
    aged(org, "RF-CLOSED", 10, urgency=Urgency.IMMEDIATE, status=CaseStatus.CLOSED)

    expected = ["RF-IMM-DUE2", "RF-IMM-DUE5", "RF-IMM-5H", "RF-IMM-2H", "RF-DAYS-DUE1", "RF-WEEKS"]
    assert queue(client) == expected
    # Closed cases only in "all"; received 10 h ago, it has waited longest of the immediate.
    assert queue(client, "view=all") == [*expected[:2], "RF-CLOSED", *expected[2:]]
    html = client.get("/cases/").get_data(as_text=True)
    assert "Due soon" in html
    # The other sorts.
    newest = queue(client, "view=all&sort=received_desc")
    assert newest[0] == "RF-IMM-DUE2"
    assert newest[-1] == "RF-WEEKS"
    assert queue(client, "view=all&sort=received_asc") == list(reversed(newest))
    # Nearest deadline first, whatever the urgency; cases without one by waiting time.
    assert queue(client, "view=all&sort=deadline") == [
        "RF-DAYS-DUE1",
        "RF-IMM-DUE2",
        "RF-IMM-DUE5",
        "RF-WEEKS",
        "RF-CLOSED",
        "RF-IMM-5H",
        "RF-IMM-2H",
    ]


def test_action_needed_is_new_unassigned_or_near_a_deadline_never_closed(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-NEW-MINE", 1, assignee_id=me.id)  # new
    aged(org, "RF-UNASSIGNED", 1, status=CaseStatus.ASSESSING)  # nobody owns it
    quiet = aged(org, "RF-QUIET", 1, status=CaseStatus.ASSESSING, assignee_id=me.id)
    late = aged(org, "RF-LATE", 1, status=CaseStatus.REFERRED, assignee_id=me.id)
    refer(quiet, timedelta(days=30))  # far away: no action
    refer(late, timedelta(hours=-2))  # overdue
    aged(org, "RF-DONE", 1, status=CaseStatus.CLOSED)
    action = queue(client)
    assert sorted(action) == ["RF-LATE", "RF-NEW-MINE", "RF-UNASSIGNED"]
    html = client.get("/cases/").get_data(as_text=True)
    assert "Overdue" in html
    assert "Unassigned" in html
    assert sorted(queue(client, "view=all")) == sorted([*action, "RF-QUIET", "RF-DONE"])


def test_a_new_case_past_its_first_response_time_is_overdue(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    aged(org, "RF-IMM-OLD", 30, urgency=Urgency.IMMEDIATE)  # > 24 h
    aged(org, "RF-IMM-FRESH", 3, urgency=Urgency.IMMEDIATE)
    aged(org, "RF-WEEKS-OLD", 30, urgency=Urgency.WEEKS)  # < 14 days
    assert queue(client, "overdue=1") == ["RF-IMM-OLD"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("view=all&status=assessing", ["RF-B"]),
        ("view=all&urgency=immediate", ["RF-A"]),
        ("view=all&threat=lawsuit", ["RF-B"]),
        ("view=all&threat=detention", ["RF-A", "RF-C"]),
        ("view=all&country=ke", ["RF-C"]),
        ("view=all&assignee=me", ["RF-B"]),
        ("view=all&assignee=unassigned", ["RF-A", "RF-C"]),
        ("view=all&q=rf-c", ["RF-C"]),
        ("view=all&q=B", ["RF-B"]),
        ("view=all&q=RF-", ["RF-A", "RF-B", "RF-C"]),
        ("view=all&status=closed", []),
        ("view=all&threat=digital", []),
    ],
)
def test_filters_and_search(any_app: Flask, query: str, expected: list[str]) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-A", 3, urgency=Urgency.IMMEDIATE, threats=["detention"], country="MX")
    aged(
        org,
        "RF-B",
        2,
        status=CaseStatus.ASSESSING,
        threats=["lawsuit", "violence_threat"],
        assignee_id=me.id,
        country="MX",
    )
    aged(org, "RF-C", 1, threats=["digital_x", "detention"], country="KE")
    found = queue(client, query)
    assert sorted(found) == sorted(expected)
    if not expected:
        assert "No case matches these filters." in client.get(f"/cases/?{query}").get_data(
            as_text=True
        )


def test_assignee_filter_by_colleague(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    sign_in(client, Role.VIEWER)
    colleague = make_user(Role.CASEWORKER)
    aged(org, "RF-THEIRS", 1, assignee_id=colleague.id)
    aged(org, "RF-NOBODY", 1)
    assert queue(client, f"view=all&assignee={colleague.id}") == ["RF-THEIRS"]
    assert colleague.email in client.get("/cases/?view=all").get_data(as_text=True)


def test_pages_of_25_and_an_out_of_range_page_shows_the_last(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    for number in range(30):
        aged(org, f"RF-P{number:02d}", 100 - number)
    first = queue(client)
    second = queue(client, "page=2")
    assert len(first) == 25
    assert len(second) == 5
    assert first + second == [f"RF-P{n:02d}" for n in range(30)]
    assert queue(client, "page=99") == second
    html = client.get("/cases/?page=2&urgency=days").get_data(as_text=True)
    assert "page 2 of 2" in html
    assert 'href="/cases/?urgency=days&amp;page=1"' in html


def test_the_queue_shows_routing_and_top_triage_without_content(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    make_case(
        org,
        {"what_happened": "CANARY-queue-text"},
        ref="RF-TRIAGE",
        triage=[
            {"id": "a", "name": "Front Line Defenders", "score": 9, "reasons": [], "caveats": []},
            {"id": "b", "name": "<i>UN WGAD</i>", "score": 5, "reasons": [], "caveats": []},
            {"id": "c", "name": "Third Choice", "score": 1, "reasons": [], "caveats": []},
        ],
    )
    html = client.get("/cases/").get_data(as_text=True)
    assert "Front Line Defenders" in html
    assert "&lt;i&gt;UN WGAD&lt;/i&gt;" in html
    assert "Third Choice" not in html  # the top two only
    assert "CANARY-queue-text" not in html
    assert "Detention" in html


def test_empty_states(app: Flask, client: FlaskClient) -> None:
    sign_in(client, Role.CASEWORKER)
    assert "No cases yet" in client.get("/cases/?view=all").get_data(as_text=True)
    assert "Nothing needs action right now" in client.get("/cases/").get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "view=secret",
        "status=archived",
        "urgency=yesterday",
        "threat=%3Cscript%3E",
        "country=Mexico",
        "country=M1",
        "assignee=1%3BDROP",
        "assignee=-1",
        "q=%25%27%20OR%201%3D1",
        "q=" + "A" * 30,
        "sort=password",
        "page=abc",
        "page=-1",
        "page=99999999",
        "overdue=yes",
    ],
)
def test_values_we_do_not_offer_are_a_clear_400(
    app: Flask, client: FlaskClient, query: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "has a value we do not offer" in body
    assert "<script>" not in body


def test_each_listing_is_audited_without_content(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    viewer = make_user(Role.VIEWER)
    sign_in(client, viewer)
    make_case(org)
    client.get("/cases/?view=all")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.list")).one()
    assert event.actor_id == viewer.id
    assert event.detail == {"view": "all", "page": 1, "shown": 1, "total": 1}


def test_the_queue_at_360_px_has_no_table_and_a_viewport(app: Flask, client: FlaskClient) -> None:
    make_case(make_org_key())
    sign_in(client, Role.CASEWORKER)
    html = client.get("/cases/").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width' in html
    assert "<table" not in html  # cards, which reflow to one column
