"""The figures of intake.services.reports on known data, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import ReferralKind, ReferralState
from intake.services import reports
from intake.services.reports import Period, year_period
from tests.builders import make_entry, make_org_key
from tests.reports.conftest import (
    NOW,
    TAIPEI,
    add_case,
    add_referral,
    seed_year,
    taipei,
    utc,
)

EXPECTED_MONTHS = {1: 2, 3: 1, 4: 1, 5: 1, 6: 1, 8: 1, 11: 1, 12: 2}


@pytest.fixture
def statements(any_app: Flask) -> Iterator[list[str]]:
    """Every SQL statement sent while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_requests_received_in_2025(any_app: Flask) -> None:
    seed_year()
    figures = reports.case_figures(year_period(2025, TAIPEI))
    assert figures.total == 10
    assert {m.month: n for m, n in figures.per_month if n} == EXPECTED_MONTHS
    assert [m.month for m, _ in figures.per_month] == list(range(1, 13))
    assert figures.countries == {"TW": 6, "HK": 3, "MX": 1}
    assert figures.profiles == {"lawyer": 6, "woman_hrd": 5, "journalist": 2}
    assert figures.threats == {"detention": 10, "digital": 3}
    assert figures.urgency == {"immediate": 2, "days": 5, "weeks": 3}
    assert figures.sealed_by == {"browser": 7, "server": 3}
    assert figures.consent == {True: 8, False: 2}
    assert figures.status == {"new": 3, "referred": 4, "closed": 3}
    assert figures.outcome == {"resolved": 2, "out_of_scope": 1}
    # First referral sent 2, 4, 10 and 6 days after the request: median 5.
    assert figures.referred == 4
    assert figures.median_days_to_referral == pytest.approx(5.0, abs=1e-6)


def test_referrals_and_reminders_of_2025(any_app: Flask) -> None:
    seed_year()
    report = reports.build_report(year_period(2025, TAIPEI), NOW)
    referrals = report.referrals
    assert referrals.total == 6  # the one sent in December 2024 is last year's
    assert referrals.kind == {
        "ngo_referral": 2,
        "sp_urgent_appeal": 1,
        "wgad_opinion": 1,
        "sp_allegation_letter": 1,
        "embassy_contact": 1,
    }
    assert referrals.state == {
        "replied": 2,
        "sent": 2,
        "no_reply": 1,
        "draft": 1,
    }
    assert [(e.entry_id, e.count) for e in referrals.entries] == [
        ("alpha-ngo", 4),
        ("beta-desk", 2),
    ]
    assert referrals.entries[0].name_zh == "阿爾法捍衛者網絡"
    assert referrals.adherence == {
        "on_time": 1,
        "late": 1,
        "overdue": 1,
        "not_yet_due": 1,
        "ended_without_reply": 1,
        "no_deadline": 1,
    }
    assert report.reminders == {"reminder": 2, "digest": 1}
    assert not report.empty


def test_a_later_now_turns_waiting_referrals_overdue(any_app: Flask) -> None:
    seed_year()
    later = NOW.replace(year=2027)
    adherence = reports.build_report(year_period(2025, TAIPEI), later).referrals.adherence
    assert adherence["overdue"] == 2
    assert "not_yet_due" not in adherence


def test_an_acknowledged_referral_still_waiting_past_its_due_date_is_overdue(
    any_app: Flask,
) -> None:
    """As /referrals and its own page count it: an acknowledged UN appeal awaiting the
    government's reply was "acknowledged by the due date" here (a review: 20 overdue here,
    23 on /referrals at the same moment)."""
    year = seed_year()
    waiting = year.referrals["on_time"]
    waiting.state = ReferralState.ACKNOWLEDGED
    waiting.replied_at = None
    db.session.commit()
    adherence = reports.build_report(year_period(2025, TAIPEI), NOW).referrals.adherence
    assert adherence["overdue"] == 2
    assert "on_time" not in adherence
    assert adherence["overdue"] == referrals_overdue_in_2025(NOW)


def referrals_overdue_in_2025(now: Any) -> int:
    """What /referrals' overview counts as overdue, among the referrals of 2025's report."""
    from intake.services import referrals as referral_service

    outside = 1  # the seed's "outside" referral (sent in 2024) is overdue too
    return referral_service.overview(now).overdue - outside


def test_new_years_edges_in_taipei(any_app: Flask) -> None:
    seed_year()
    last = reports.case_figures(year_period(2024, TAIPEI))
    following = reports.case_figures(year_period(2026, TAIPEI))
    assert (last.total, last.countries) == (1, {"TW": 1})
    assert (following.total, following.countries) == (1, {"TW": 1})
    assert {m.month: n for m, n in following.per_month if n} == {1: 1}
    assert reports.reminders_sent(year_period(2024, TAIPEI)) == {"reminder": 1}
    # In UTC the same instants fall on the other side of midnight: TW1 leaves January 2025,
    # OUT2026 joins December 2025.
    in_utc = reports.case_figures(year_period(2025, ZoneInfo("UTC")))
    by_month = {m.month: n for m, n in in_utc.per_month}
    assert (by_month[1], by_month[12]) == (1, 3)


def test_one_day_periods_at_the_edge(any_app: Flask) -> None:
    seed_year()
    eve = Period(date(2025, 12, 31), date(2025, 12, 31), TAIPEI)
    assert reports.case_figures(eve).total == 1  # HK2 at 23:30, not OUT2026 at 00:05 next day
    new_year = Period(date(2025, 1, 1), date(2025, 1, 1), TAIPEI)
    assert reports.case_figures(new_year).countries == {"TW": 1}


def test_custom_period_across_years(any_app: Flask) -> None:
    seed_year()
    period = Period(date(2024, 12, 1), date(2026, 1, 31), TAIPEI)
    figures = reports.case_figures(period)
    assert figures.total == 12
    months = [(m.year, m.month, n) for m, n in figures.per_month]
    assert len(months) == 14
    assert months[0] == (2024, 12, 1)
    assert months[-1] == (2026, 1, 1)
    assert sum(n for *_, n in months) == 12


def test_python_and_sql_tag_counts_agree(any_app: Flask) -> None:
    seed_year()
    period = year_period(2025, TAIPEI)
    in_sql = reports.case_figures(period, tags="sql")
    in_python = reports.case_figures(period, tags="python")
    assert (in_sql.threats, in_sql.profiles) == (in_python.threats, in_python.profiles)


def test_nothing_sealed_is_read_and_queries_stay_few(any_app: Flask, statements: list[str]) -> None:
    seed_year()
    statements.clear()
    reports.build_report(year_period(2025, TAIPEI), NOW)
    joined = "\n".join(statements).lower()
    assert statements, "the report ran no query"
    for sealed in ("sealed_answers", "sealed_note", "sealed_body", "sealed_content"):
        assert sealed not in joined
    assert "receipt_lookup" not in joined
    assert len(statements) <= 7, statements  # one statement for every request breakdown


def test_an_empty_year(any_app: Flask) -> None:
    report = reports.build_report(year_period(2019, TAIPEI), NOW)
    assert report.empty
    assert report.cases.total == 0
    assert report.cases.median_days_to_referral is None
    assert [n for _, n in report.cases.per_month] == [0] * 12


def test_suppress() -> None:
    assert [reports.suppress(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]


def test_a_referral_belongs_to_the_period_it_was_sent_in(any_app: Flask) -> None:
    case = add_case(make_org_key(), "X", utc(2024, 12, 29, 4), country="TW")
    make_entry("alpha-ngo", name="Alpha")
    # Drafted on 30 December 2024, sent on 2 January 2025 (Taipei).
    add_referral(
        case,
        "alpha-ngo",
        ReferralKind.NGO_REFERRAL,
        state=ReferralState.SENT,
        created_at=utc(2024, 12, 30, 4),
        sent_at=taipei(2025, 1, 2, 9),
        due_at=taipei(2025, 1, 16, 9),
    )
    add_referral(case, "alpha-ngo", ReferralKind.FOLLOW_UP, created_at=utc(2024, 12, 31, 4))
    in_2024 = reports.referral_figures(year_period(2024, TAIPEI), NOW)
    in_2025 = reports.referral_figures(year_period(2025, TAIPEI), NOW)
    assert (in_2024.total, in_2024.kind) == (1, {"follow_up": 1})  # the draft
    assert (in_2025.total, in_2025.kind) == (1, {"ngo_referral": 1})
    assert in_2025.adherence == {"overdue": 1}
    # The request itself is 2024's: 3 days 21 hours from request to first referral sent.
    figures = reports.case_figures(year_period(2024, TAIPEI))
    assert figures.referred == 1
    assert figures.median_days_to_referral == pytest.approx(3.875, abs=1e-6)
