"""The referral form cannot pick the wrong clock: the kind follows the chosen entry (the shipped
directory's kinds), a kind the entry does not take is refused, and the implied deadline is shown
before saving — computed by the same rule the referral gets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import DirectoryEntry, Referral, ReferralKind, Role
from intake.services import directory, referrals
from tests.builders import give_key, make_case, make_org_key, sign_in

FLD = "frontline-defenders"
SR_HRDS = "un-sr-hrds"


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False, ORG_TIMEZONE="Asia/Taipei")
    with app.app_context():
        directory.import_shipped()
        yield app


def kinds_table(html: str) -> dict[str, list[dict[str, str]]]:
    match = re.search(r'<script type="application/json" id="referral-kinds">(.*?)</script>', html)
    assert match is not None
    table: dict[str, list[dict[str, str]]] = json.loads(match.group(1))
    return table


def count_referrals() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) or 0)


def test_front_line_defenders_gets_an_ngo_referral_and_a_un_mechanism_only_its_kinds(
    web: Flask,
) -> None:
    case = make_case(make_org_key())
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    # No preset organisation.
    assert re.search(r'<option selected value="">|<option value="" selected', html)
    table = kinds_table(html)
    assert [k["kind"] for k in table[FLD]] == ["ngo_referral", "follow_up"]
    assert [k["kind"] for k in table[SR_HRDS]] == [
        "sp_urgent_appeal",
        "sp_allegation_letter",
        "sp_legislation",
    ]
    assert [k["kind"] for k in table["embassies"]] == ["embassy_contact"]
    # Choosing Front Line Defenders without JS: its usual kind is preselected by the server.
    chosen = client.get(f"/referrals/new?ref={case.ref}&entry={FLD}").get_data(as_text=True)
    assert re.search(
        r'<option selected value="ngo_referral">|value="ngo_referral" selected', chosen
    )


NOTICE = re.compile(
    r'<p class="notice" id="no-casework" role="note" data-no-casework="([^"]*)"( hidden)?>'
)


@pytest.mark.parametrize(("entry", "said"), [("us-cdc", True), ("a4id", True), (FLD, False)])
def test_an_entry_that_takes_no_individual_cases_is_said_before_saving(
    web: Flask, entry: str, said: bool
) -> None:
    """Chosen without JavaScript (a "Refer" link), an information source, a funder or a pro
    bono broker says it does not take individual cases; the notice names, for the script, the
    entries that do not, from the directory's conditions."""
    case = make_case(make_org_key())
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/new?ref={case.ref}&entry={entry}").get_data(as_text=True)
    found = NOTICE.search(html)
    assert found is not None
    assert (found.group(2) is None) == said
    listed = set(found.group(1).split())
    expected = {
        e.id
        for e in db.session.scalars(sa.select(DirectoryEntry))
        if "no_direct_casework" in e.condition_ids() and e.active
    }
    assert listed == expected
    assert "us-cdc" in listed
    assert FLD not in listed


def test_the_implied_deadline_is_the_one_the_referral_gets(web: Flask) -> None:
    case = make_case(make_org_key(), received_at=datetime(2027, 1, 1, tzinfo=UTC))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    table = kinds_table(html)
    embassy = table["embassies"][0]
    # 24 hours from the case's arrival, in the organisation's zone, written as every page writes it.
    assert embassy["due_utc"] == "2027-01-02T00:00:00Z"
    assert embassy["due"] == "2 Jan 2027, 08:00 (Taipei, UTC+8)"
    ngo = next(k for k in table[FLD] if k["kind"] == "ngo_referral")
    due = datetime.strptime(ngo["due_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    entry = db.session.get_one(DirectoryEntry, FLD)
    days = entry.response_days or 14  # its typical response time, else 14 days (DESIGN §5)
    assert abs(due - (datetime.now(UTC) + timedelta(days=days))) < timedelta(minutes=2)
    page = client.get(f"/referrals/new?ref={case.ref}&entry=embassies").get_data(as_text=True)
    implied = page[page.index('id="implied-due"') :][:400]
    assert "2 Jan 2027, 08:00 (Taipei, UTC+8)" in implied
    assert 'datetime="2027-01-02T00:00:00Z"' in implied


def test_a_deadline_already_past_is_said_before_saving(web: Flask) -> None:
    """An embassy's 24 hours from the arrival of a case ten days old are long gone: the form
    says so beside the deadline, with and without JavaScript, before the referral is
    started overdue; a clock from now is not."""
    case = make_case(make_org_key(), received_at=datetime.now(UTC) - timedelta(days=10))
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    table = kinds_table(client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True))
    assert table["embassies"][0]["passed"] is True
    assert not any(kind["passed"] for kind in table[FLD])
    warning = "Already passed: overdue as soon as it is started"
    for entry, said in (("embassies", True), (FLD, False)):
        page = client.get(f"/referrals/new?ref={case.ref}&entry={entry}").get_data(as_text=True)
        implied = page[page.index('id="implied-due"') :]
        implied = implied[: implied.index("</p>")]
        assert ("data-passed" in implied) is said, entry
        assert (warning in implied) is said, entry


@pytest.mark.parametrize(
    ("entry", "kind"),
    [(FLD, "sp_urgent_appeal"), (SR_HRDS, "ngo_referral"), ("embassies", "wgad_opinion")],
)
def test_a_kind_the_entry_does_not_take_is_a_form_error_and_creates_nothing(
    web: Flask, entry: str, kind: str
) -> None:
    org = make_org_key()
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)  # can own the referral
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": entry, "kind": kind, "owner_id": user.id},
    )
    assert response.status_code == 422
    assert "does not take this kind of referral" in response.get_data(as_text=True)
    assert count_referrals() == 0


def test_the_service_refuses_a_kind_the_entry_does_not_take(web: Flask) -> None:
    case = make_case(make_org_key())
    user = sign_in(web.test_client(), Role.CASEWORKER)
    with pytest.raises(referrals.ReferralError):
        referrals.create(case.id, FLD, ReferralKind.SP_URGENT_APPEAL, user)
    assert count_referrals() == 0


def test_front_line_defenders_with_its_usual_kind_gets_an_ngo_clock(web: Flask) -> None:
    org = make_org_key()
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)  # can own the referral
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": FLD, "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 302
    referral = db.session.scalars(sa.select(Referral)).one()
    assert referral.kind == ReferralKind.NGO_REFERRAL
    assert referral.due_at is None  # an NGO clock starts when it is sent, not a UN draft
