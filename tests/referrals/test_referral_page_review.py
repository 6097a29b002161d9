"""A usability review of the referral page and list: the UN submission draft comes before the
steps until the submission is recorded; the reply's summary is laid out as the other fields;
the deadline fact says which clock runs; the timeline names its weeks by their Monday and
shows each referral's owner; the Owner filter marks a deactivated account."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Referral, ReferralKind, Role, User
from intake.services import settings
from tests.builders import (
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
    signed_in_context,
)
from tests.referrals.conftest import draft_un_referral, sent_referral


def page_of(client: FlaskClient, referral: Referral, lang: str = "en") -> str:
    response = client.get(f"/referrals/{referral.id}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def submit(client: FlaskClient, referral: Referral) -> None:
    at = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/referrals/{referral.id}/un-step",
        data={"step": "submitted", "at": at, "channel": "online_form"},
    )
    assert response.status_code == 303


def deadline_label(html: str) -> str:
    found = re.search(r"<dt data-deadline-label>(.*?)</dt>", html, re.S)
    assert found is not None
    return found.group(1).strip()


def test_the_sp_draft_comes_before_the_un_steps_until_the_submission_is_recorded(
    web: Flask,
) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    page = page_of(client, referral)
    assert page.count('id="sp-draft"') == 1
    assert page.index('id="sp-draft"') < page.index('id="un-steps"')
    assert '<details class="un-step-form" id="step-submitted" open>' in page

    submit(client, referral)
    page = page_of(client, referral)
    assert page.count('id="sp-draft"') == 1
    assert page.index('id="un-steps"') < page.index('id="sp-draft"')
    assert 'href="#sp-draft"' in page  # the timeline's link to the draft still lands


def test_a_wgad_referral_has_no_sp_draft_before_or_after(web: Flask) -> None:
    referral = draft_un_referral(ReferralKind.WGAD_OPINION)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    assert 'id="sp-draft"' not in page_of(client, referral)


def test_a_new_sp_referral_lands_on_its_draft(web: Flask) -> None:
    org = make_org_key()
    make_entry("sr-hrd")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "sr-hrd", "kind": "sp_allegation_letter", "owner_id": user.id},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#sp-draft")


def test_the_reply_summary_has_its_label_hint_and_textarea_in_order_with_unique_ids(
    web: Flask,
) -> None:
    org = make_org_key()
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    referral = sent_referral(org=org, owner=user)  # the government was written to
    page = page_of(client, referral)
    form = page[page.index('id="step-reply_received"') :]
    form = form[: form.index("</details>")]
    label = form.index('<label for="summary-reply_received">')
    hint = form.index('<p class="hint" id="summary-hint-reply_received">')
    textarea = re.search(r"<textarea[^>]*data-un-summary[^>]*>", form)
    assert textarea is not None
    assert label < hint < textarea.start()
    assert 'aria-describedby="summary-hint-reply_received"' in textarea.group(0)
    # The textarea is not inside a paragraph (where it flowed into the hint's sentence).
    before = form[: textarea.start()]
    assert before.rfind("<p") < before.rfind("</p>")
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [name for name, n in ids.items() if n > 1] == []


def test_the_deadline_fact_says_which_clock_runs(web: Flask) -> None:
    org = make_org_key()
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    written = sent_referral(org=org, owner=user)  # the government was written to
    assert deadline_label(page_of(client, written)) == "Government's reply due"
    assert deadline_label(page_of(client, written, "zh_Hant")) == "政府回覆期限"

    referral = draft_un_referral()
    assert deadline_label(page_of(client, referral)) == "Deadline"  # no date yet
    submit(client, referral)
    page = page_of(client, referral)
    assert deadline_label(page) == "Check with the mandate by"
    assert "check with the mandate by" in page  # as the UN steps say it
    assert deadline_label(page_of(client, referral, "zh_Hans")) == "向任务负责人查询的期限"

    ngo = sent_referral(kind=ReferralKind.NGO_REFERRAL, org=org, owner=user)
    assert deadline_label(page_of(client, ngo)) == "Deadline"


def week_headings(html: str) -> list[str]:
    return [h.strip() for h in re.findall(r'<h2 class="timeline-week">(.*?)</h2>', html, re.S)]


def test_the_timeline_names_each_week_by_its_monday_in_the_readers_language(
    web: Flask,
) -> None:
    org = make_org_key()
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    referral = sent_referral(kind=ReferralKind.NGO_REFERRAL, org=org, owner=user)
    referral.due_at = datetime(2026, 10, 18, 20, 0, tzinfo=UTC)  # a Sunday evening in UTC
    db.session.commit()

    def headings(lang: str) -> list[str]:
        html = client.get(f"/referrals/?view=timeline&lang={lang}").get_data(as_text=True)
        return week_headings(html)

    assert headings("en") == ["Week of 12 Oct 2026"]
    assert headings("zh_Hant") == ["2026年10月12日 起的一週"]
    # In Taipei it is already Monday morning: the next week.
    settings.set_timezone("Asia/Taipei", make_user(Role.ADMIN))
    db.session.commit()
    assert headings("en") == ["Week of 19 Oct 2026"]
    assert headings("zh_Hans") == ["2026年10月19日 起的一周"]


def timeline_item(html: str, referral: Referral) -> str:
    found = re.search(
        rf'<li>\s*(?:(?!</li>).)*href="/referrals/{referral.id}"(?:(?!</li>).)*</li>', html, re.S
    )
    assert found is not None, "the referral is not on the timeline"
    return found.group(0)


def test_the_timeline_shows_each_owner_and_marks_a_deactivated_account(web: Flask) -> None:
    org = make_org_key()
    client = web.test_client()
    sign_in(client, give_key(make_user(Role.CASEWORKER), org))
    owner = give_key(make_user(Role.CASEWORKER, email="bob@example.org"), org)
    referral = sent_referral(kind=ReferralKind.NGO_REFERRAL, org=org, owner=owner)

    def item(lang: str = "en") -> str:
        html = client.get(f"/referrals/?view=timeline&lang={lang}").get_data(as_text=True)
        return timeline_item(html, referral)

    # The label and the address are kept together on one line (refuge.css: .owner-said).
    said = '<span class="owner-said">Owner: <span class="owner-address">bob@example.org</span>'
    assert said in item()
    assert "data-owner-deactivated" not in item()
    db.session.get_one(User, owner.id).is_active_account = False
    db.session.commit()
    assert (
        '<span class="badge badge-overdue" data-owner-deactivated>(account deactivated)</span>'
        in item()
    )
    chinese = item("zh_Hant")
    assert '負責人：<span class="owner-address">bob@example.org</span>' in chinese
    assert "（帳號已停用）" in chinese


def owner_options(client: FlaskClient, lang: str = "en") -> dict[str, str]:
    html = client.get(f"/referrals/?lang={lang}").get_data(as_text=True)
    select = re.search(r'<select id="filter-owner".*?</select>', html, re.S)
    assert select is not None
    return {
        value: " ".join(text.split())
        for value, text in re.findall(
            r'<option value="([^"]*)"[^>]*>(.*?)</option>', select.group(0), re.S
        )
    }


def test_the_owner_filter_marks_people_whose_account_is_deactivated(web: Flask) -> None:
    org = make_org_key()
    client = web.test_client()
    sign_in(client, give_key(make_user(Role.CASEWORKER), org))
    gone = give_key(make_user(Role.CASEWORKER, email="gone@example.org"), org)
    here = give_key(make_user(Role.CASEWORKER, email="here@example.org"), org)
    sent_referral(org=org, owner=gone)
    gone.is_active_account = False
    db.session.commit()
    options: dict[str, Any] = owner_options(client)
    assert options[str(gone.id)] == "gone@example.org (account deactivated)"
    assert options[str(here.id)] == "here@example.org"
    assert owner_options(client, "zh_Hant")[str(gone.id)] == "gone@example.org （帳號已停用）"


@pytest.mark.browser
def test_at_1280_px_the_reply_summary_starts_below_its_hint(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Reviewer: the textarea sat inside the hint's paragraph and showed in the middle of its
    sentence at 1280 px."""
    org = make_org_key()
    user = give_key(make_user(Role.CASEWORKER), org)
    referral = sent_referral(org=org, owner=user)
    context = signed_in_context(
        browser, app, live_server.url, user, viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/referrals/{referral.id}?lang=en")
        page.click("#step-reply_received > summary")
        label = page.locator("label[for=summary-reply_received]").bounding_box()
        hint = page.locator("#summary-hint-reply_received").bounding_box()
        area = page.locator("#summary-reply_received").bounding_box()
        assert label is not None
        assert hint is not None
        assert area is not None
        assert label["y"] + label["height"] <= hint["y"] + 1
        assert hint["y"] + hint["height"] <= area["y"] + 1
        assert abs(area["x"] - hint["x"]) < 2  # the textarea starts its own line
    finally:
        context.close()
