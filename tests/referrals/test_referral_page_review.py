"""A usability review of the referral page and list: the UN submission draft comes before the
steps until the submission is recorded; the reply's summary is laid out as the other fields;
the deadline fact says which clock runs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.models import Referral, ReferralKind, Role
from intake.services import referrals
from tests.builders import (
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
    signed_in_context,
)
from tests.referrals.conftest import sent_referral


@pytest.fixture
def web(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        yield app


def draft_un_referral(kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL) -> Referral:
    org = make_org_key()
    make_entry("sr-hrd")
    owner = give_key(make_user(Role.CASEWORKER), org)
    case = make_case(org)
    return referrals.create(case.id, "sr-hrd", kind, owner, owner_id=owner.id)


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
