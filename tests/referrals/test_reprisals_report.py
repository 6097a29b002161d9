"""The reprisals report each year: from 1 March the matching cases (threat ``reprisal``,
received 1 May - 30 April in the organisation's zone) with their consent, on /referrals and in
the digest; nothing outside the season or the period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import ConsentChannel, ConsentGiver, ConsentPurpose, ConsentRecord, Role
from intake.services import reminders, reprisals, settings
from tests.builders import make_case, make_org_key, make_user, sign_in

MARCH_2027 = datetime(2027, 3, 2, 9, tzinfo=UTC)


def cases_for_2027() -> dict[str, str]:
    org = make_org_key()
    made = {
        "inside": make_case(
            org, threats=["reprisal"], received_at=datetime(2026, 6, 1, tzinfo=UTC)
        ),
        "no_consent": make_case(
            org,
            threats=["detention", "reprisal"],
            received_at=datetime(2027, 2, 1, tzinfo=UTC),
            consent_given=False,
        ),
        "before_period": make_case(
            org, threats=["reprisal"], received_at=datetime(2026, 4, 20, tzinfo=UTC)
        ),
        "other_threat": make_case(
            org, threats=["detention"], received_at=datetime(2026, 6, 1, tzinfo=UTC)
        ),
    }
    # Consent for the report is a record of its own (issue 12): given for one case, given then
    # withdrawn for another; the others were never asked (None). Written as rows: these cases
    # lie partly in the future of the real clock, which the consent service rightly refuses.
    for name, withdrawn in (("inside", None), ("no_consent", datetime(2027, 2, 10, tzinfo=UTC))):
        received = made[name].received_at
        db.session.add(
            ConsentRecord(
                case_id=made[name].id,
                purpose=ConsentPurpose.REPRISALS_REPORT,
                given_by=ConsentGiver.FAMILY,
                given_via=ConsentChannel.CALL_NOTE,
                given_at=received,
                withdrawn_at=withdrawn,
                withdrawn_by=ConsentGiver.FAMILY if withdrawn else None,
                withdrawn_via=ConsentChannel.CALL_NOTE if withdrawn else None,
            )
        )
    db.session.commit()
    return {name: case.ref for name, case in made.items()}


def test_matching_cases_with_their_consent_from_1_march(web: Flask) -> None:
    refs = cases_for_2027()
    assert reprisals.season(datetime(2027, 2, 27, 12, tzinfo=UTC)) is None
    season = reprisals.season(MARCH_2027)
    assert season is not None
    assert season.report_year == 2027
    listed = {row.case.ref: row.consent for row in season.cases}
    assert listed == {refs["inside"]: True, refs["no_consent"]: False}
    assert reprisals.season(datetime(2027, 4, 16, 12, tzinfo=UTC)) is None


def test_the_period_follows_the_organisations_zone(web: Flask) -> None:
    org = make_org_key()
    # 30 April 2026 20:00 UTC: 1 May in Taipei (next report), still 30 April in Mexico City.
    edge = make_case(org, threats=["reprisal"], received_at=datetime(2026, 4, 30, 20, tzinfo=UTC))
    settings.set_timezone("Asia/Taipei", make_user(Role.ADMIN))
    taipei = reprisals.season(datetime(2027, 3, 2, tzinfo=UTC))
    assert taipei is not None
    assert [row.case.ref for row in taipei.cases] == [edge.ref]
    settings.set_timezone("America/Mexico_City", make_user(Role.ADMIN))
    mexico = reprisals.season(datetime(2027, 3, 2, 12, tzinfo=UTC))
    assert mexico is not None
    assert mexico.cases == []
    mexico_2026 = reprisals.season(datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert mexico_2026 is not None
    assert [row.case.ref for row in mexico_2026.cases] == [edge.ref]


def test_referrals_page_and_digest_show_the_report_from_1_march(
    web: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = cases_for_2027()
    client = web.test_client()
    user = sign_in(client, Role.CASEWORKER)
    monkeypatch.setattr("intake.referrals.routes.utcnow", lambda: datetime(2027, 2, 20, tzinfo=UTC))
    assert "reprisals-report" not in client.get("/referrals/").get_data(as_text=True)
    assert "reprisals_report_cases" not in reminders.digest_counts(
        user.id, datetime(2027, 2, 20, tzinfo=UTC)
    )
    monkeypatch.setattr("intake.referrals.routes.utcnow", lambda: MARCH_2027)
    page = client.get("/referrals/").get_data(as_text=True)
    assert 'id="reprisals-report"' in page
    assert f'data-reprisals-case="{refs["inside"]}"' in page
    assert f'data-reprisals-case="{refs["no_consent"]}"' in page
    assert refs["before_period"] not in page
    assert refs["other_threat"] not in page
    assert "Withdrawn: do not include" in page
    assert reminders.digest_counts(user.id, MARCH_2027)["reprisals_report_cases"] == 2
