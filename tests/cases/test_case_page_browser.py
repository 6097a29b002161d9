"""Real Chromium: "Assign to me" assigns; the referral form's kind follows the chosen entry and
shows the implied deadline; the case page and /referrals fit 360 px with no axe violations, in
English and 繁體中文."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from intake import vocab
from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, DirectoryEntry, Referral, ReferralKind, Role, Urgency, User
from intake.services import directory, referrals, triage
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_org_key,
    make_user,
    session_cookie,
    signed_in_context,
)
from tests.public.test_accessibility import AXE, assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser

MADE = re.compile(r".*/referrals/\d+$")  # where a referral just made is shown


def staff_page(browser: Any, app: Flask, live_server: Any, user: User, width: int = 1280) -> Any:
    context = signed_in_context(
        browser, app, live_server.url, user, viewport={"width": width, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def entry_name(entry_id: str) -> str:
    entry = db.session.get(DirectoryEntry, entry_id)
    assert entry is not None
    return vocab.entry_name(entry)


def a_case_with_triage(org: OrgKeyPair) -> Case:
    """An Immediate detention request from Mexico: against the shipped directory, triage
    puts the embassy advice first and Front Line Defenders among its suggestions."""
    return make_case(org, urgency=Urgency.IMMEDIATE)


def test_assign_to_me_in_real_chromium(app: Flask, live_server: Any, browser: Any) -> None:
    org = make_org_key()
    case = make_case(org)
    user = give_key(make_user(Role.CASEWORKER, email="me@example.org"), org)
    page = staff_page(browser, app, live_server, user)
    try:
        page.goto(f"{live_server.url}/cases/{case.ref}")
        assert page.locator("[data-assignee]").inner_text() == "Nobody yet"
        page.click("button[data-assign-me]")
        page.wait_for_selector(".flash, [role=status]")
        assert page.locator("[data-assignee]").inner_text() == "me@example.org"
        assert page.locator("button[data-assign-me]").count() == 0
    finally:
        page.context.close()
    db.session.refresh(case)
    assert case.assignee_id == user.id


def test_on_a_phone_the_request_comes_before_the_reply_and_note_boxes(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """At 390 px the request began about 1,750 px down, below the empty Reply and Note boxes:
    a caseworker met the reply box before what the person wrote. Read first, then answer."""
    org = make_org_key()
    case = make_case(org, {"what_happened": "Detained at the checkpoint."})
    case.reply_public_key = org.public  # any key: the reply box is shown
    db.session.commit()
    user = give_key(make_user(Role.CASEWORKER), org)
    page = staff_page(browser, app, live_server, user, width=390)
    try:
        page.goto(f"{live_server.url}/cases/{case.ref}")

        def top(selector: str) -> float:
            return float(page.locator(selector).bounding_box()["y"])

        assert top("#messages") < top("#reply-form") < top("#note-form")
        order = page.evaluate(
            "[...document.querySelectorAll('#messages-heading, #work-heading')].map(h => h.id)"
        )
        assert order == ["messages-heading", "work-heading"]  # the reading order too
    finally:
        page.context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_on_a_phone_the_page_says_under_its_title_where_each_part_is(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """At 360 px a demo case's page was 6,400 px, its referrals at the very end: a list of
    its parts under the title goes to each; a wide screen, with the side column, has none."""
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    user = give_key(make_user(Role.CASEWORKER), org)
    referrals.create(case.id, "frontline-defenders", ReferralKind.NGO_REFERRAL, user)
    page = staff_page(browser, app, live_server, user, width=360)
    try:
        page.goto(f"{live_server.url}/cases/{case.ref}?lang={locale}")
        jump = page.locator("nav.case-jump")
        assert jump.is_visible()
        words = {"en": "On this page", "zh_Hant": "本頁內容"}[locale]
        assert jump.get_attribute("aria-label") == words
        links = jump.locator("a")
        targets = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert targets == [
            "#messages-heading",
            "#work-heading",
            "#triage-heading",
            "#referrals-heading",
        ]
        assert links.last.locator(".jump-count").inner_text() == "1"
        assert page.locator("h1").bounding_box()["y"] < jump.bounding_box()["y"] < 400
        links.last.click()
        expect(page.locator("#referrals-heading")).to_be_in_viewport()
        assert page.evaluate("window.scrollY") > 1500
        page.set_viewport_size({"width": 1280, "height": 800})
        assert jump.is_hidden()
    finally:
        page.context.close()


def new_referral_page(browser: Any, app: Flask, live_server: Any, **case_fields: Any) -> Any:
    """/referrals/new, in Chromium, for a new case (``case_fields``), against the shipped
    directory, as a caseworker who holds the key."""
    directory.import_shipped()
    org = make_org_key()
    case = make_case(org, **case_fields)
    page = staff_page(browser, app, live_server, give_key(make_user(Role.CASEWORKER), org))
    page.goto(f"{live_server.url}/referrals/new?ref={case.ref}")
    return page


def test_a_deadline_already_past_is_said_before_the_referral_is_started(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """An embassy's 24 hours run from the case's arrival: on a case five days old, choosing
    the embassies (triage's first suggestion for an Immediate request) says the referral
    would be overdue from the start; another choice takes the warning away."""
    page = new_referral_page(
        browser,
        app,
        live_server,
        urgency=Urgency.IMMEDIATE,
        received_at=utcnow() - timedelta(days=5),
    )
    try:
        passed = page.locator("#implied-due [data-passed]")
        page.select_option("#entry_id", "embassies")
        expect(passed).to_have_text("Already passed: overdue as soon as it is started")
        page.select_option("#entry_id", "frontline-defenders")
        expect(passed).to_have_count(0)
    finally:
        page.context.close()


def test_a_list_refused_empty_takes_its_error_back_once_chosen(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Sent with no organisation, the form says "This field is required." beside the list;
    choosing one takes the error back (it stayed, as if the choice were wrong too)."""
    page = new_referral_page(browser, app, live_server)
    try:
        page.click('main form[action*="/referrals/new"] button[type=submit]')
        error = page.locator("#entry_id-error")
        expect(error).to_be_visible()
        assert page.get_attribute("#entry_id", "aria-invalid") == "true"
        assert "entry_id-error" in (page.get_attribute("#entry_id", "aria-describedby") or "")
        page.select_option("#entry_id", "frontline-defenders")
        expect(error).to_be_hidden()
        assert page.get_attribute("#entry_id", "aria-invalid") is None
        assert "entry_id-error" not in (page.get_attribute("#entry_id", "aria-describedby") or "")
    finally:
        page.context.close()


def test_the_hours_field_says_what_its_hours_count_for_the_chosen_kind(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """For an embassy, hours from the case's arrival; for a draft law, the government's time
    once the mandate writes, the date shown staying the check with the mandate (the one
    label for both read as contradicting that date). The input is described by the line
    shown."""
    page = new_referral_page(browser, app, live_server)
    try:
        embassy = page.locator("[data-hours-for='embassy_contact']")
        draft_law = page.locator("[data-hours-for='sp_legislation']")
        page.select_option("#entry_id", "embassies")
        expect(embassy).to_be_visible()
        expect(draft_law).to_be_hidden()
        expect(page.locator("#due_hours")).to_have_accessible_description(
            re.compile("counted from the case's arrival")
        )
        page.select_option("#entry_id", "un-sr-hrds")
        page.select_option("#kind", "sp_legislation")
        expect(draft_law).to_be_visible()
        expect(embassy).to_be_hidden()
        expect(draft_law).to_contain_text("the deadline above is when to check with the mandate")
        page.select_option("#kind", "sp_urgent_appeal")
        expect(page.locator("[data-hours-field]")).to_be_hidden()
    finally:
        page.context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_an_entry_that_takes_no_individual_cases_is_said_when_chosen(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """A walkthrough could choose the US CDC (health information) as a case's referral, with
    nothing said: its "does not take individual cases" was only in the directory."""
    page = new_referral_page(browser, app, live_server)
    notice = page.locator("#no-casework")
    words = {
        "en": "It does not take individual cases directly",
        "zh_Hant": "此單位不直接處理個案",
    }[locale]
    try:
        page.goto(page.url + f"&lang={locale}")
        expect(notice).to_be_hidden()  # nothing chosen yet
        page.select_option("#entry_id", "us-cdc")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text(words)
        page.select_option("#entry_id", "frontline-defenders")
        expect(notice).to_be_hidden()
        page.select_option("#entry_id", "a4id")  # a pro bono broker
        expect(notice).to_be_visible()
        page.select_option("#entry_id", "")
        expect(notice).to_be_hidden()
    finally:
        page.context.close()


def test_the_referral_form_kind_follows_the_entry_in_real_chromium(
    app: Flask, live_server: Any, browser: Any
) -> None:
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    user = give_key(make_user(Role.CASEWORKER), org)  # can own the referral
    page = staff_page(browser, app, live_server, user)
    try:
        page.goto(f"{live_server.url}/cases/{case.ref}")
        # Triage's order, as /referrals/new lists them (named as the directory names them
        # now), and Refer on a suggestion preselects its entry and kind.
        names = [n.strip() for n in page.locator(".triage-list > li > strong").all_text_contents()]
        ranked = [entry_name(s["id"]) for s in triage.current_suggestions(case)]
        assert names == ranked
        assert names[0] == "Embassies (first 24 hours)"
        assert "Front Line Defenders" in names
        if not page.locator("a[aria-label='Refer to Front Line Defenders']").is_visible():
            page.click(".triage-more > summary")
        page.click("a[data-refer][aria-label='Refer to Front Line Defenders']")
        page.wait_for_url("**/referrals/new**")
        assert page.input_value("#entry_id") == "frontline-defenders"
        assert page.input_value("#kind") == "ngo_referral"
        kinds = page.locator("#kind option").evaluate_all("els => els.map(e => e.value)")
        assert kinds == ["ngo_referral", "follow_up"]
        assert "UTC" in page.locator("#implied-due time").inner_text()
        # A UN mechanism offers its kinds only, its usual one chosen.
        page.select_option("#entry_id", "un-sr-hrds")
        kinds = page.locator("#kind option").evaluate_all("els => els.map(e => e.value)")
        assert kinds == ["sp_urgent_appeal", "sp_allegation_letter", "sp_legislation"]
        assert page.input_value("#kind") == "sp_urgent_appeal"
        # Back to Front Line Defenders: ngo_referral by default, and that is what is created.
        page.select_option("#entry_id", "frontline-defenders")
        assert page.input_value("#kind") == "ngo_referral"
        page.click('main form[action*="/referrals/new"] button[type=submit]')
        page.wait_for_url("**/referrals/*")
    finally:
        page.context.close()
    referral = db.session.scalars(sa.select(Referral)).one()
    assert (referral.entry_id, referral.kind) == ("frontline-defenders", ReferralKind.NGO_REFERRAL)


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_case_page_and_referrals_fit_360px_with_no_axe_violations(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    assert AXE.exists()
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    case.received_at = utcnow() - timedelta(days=62)  # the day before it was sent
    user = give_key(make_user(Role.CASEWORKER), org)  # can own the referral
    referral = referrals.create(case.id, "un-sr-hrds", ReferralKind.SP_URGENT_APPEAL, user)
    referrals.transition(referral.id, "send", user, at=utcnow() - timedelta(days=61))
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": session_cookie(app, user),
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        for path in (
            f"/cases/{case.ref}",
            "/referrals/?view=all",
            f"/referrals/new?ref={case.ref}",
        ):
            page.goto(f"{live_server.url}{path}{'&' if '?' in path else '?'}lang={locale}")
            assert page.locator("html").get_attribute("lang") in (locale, locale.replace("_", "-"))
            assert no_horizontal_scroll(page), f"{path} scrolls sideways at 360 px ({locale})"
            assert_accessible(page, f"{path} ({locale})")
    finally:
        context.close()


def test_the_referral_form_asks_only_what_the_chosen_kind_needs(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The usability pass found a red "No consent is recorded for: …" box above every new
    referral and a deadline-in-hours field for every kind. The consent notice now shows only
    when the chosen kind's purpose has no consent (the intake form's consent covers sharing
    and UN submissions, not the reprisals report), the hours field only for a kind that takes
    hours; with and without JavaScript."""
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    user = give_key(make_user(Role.CASEWORKER), org)  # can own the referral
    page = staff_page(browser, app, live_server, user)
    notice, hours = page.locator("#consent-needed"), page.locator("[data-hours-field]")
    try:
        page.goto(f"{live_server.url}/referrals/new?ref={case.ref}&entry=frontline-defenders")
        assert page.input_value("#kind") == "ngo_referral"
        assert not notice.is_visible()  # sharing: consent from the intake form
        assert not hours.is_visible()
        page.select_option("#entry_id", "un-sr-hrds")
        page.select_option("#kind", "sp_legislation")  # a draft-law letter: 48 hours or more
        assert hours.is_visible()
        assert not notice.is_visible()
        page.select_option("#entry_id", "ohchr-reprisals")
        assert page.input_value("#kind") == "reprisals_report"
        assert notice.is_visible()
        shown = notice.locator("[data-purpose]:visible").all_inner_texts()
        assert len(shown) == 1
        assert "UN reprisals report" in shown[0]
        assert not hours.is_visible()
    finally:
        page.context.close()
    no_script = signed_in_context(browser, app, live_server.url, user, java_script_enabled=False)
    try:
        page = no_script.new_page()
        base = f"{live_server.url}/referrals/new?ref={case.ref}"
        page.goto(f"{base}&entry=frontline-defenders")
        assert not page.locator("#consent-needed").is_visible()
        page.goto(f"{base}&entry=ohchr-reprisals")
        assert page.locator("#consent-needed").is_visible()
        page.goto(base)  # nothing chosen yet: nothing kind-specific (the next test)
        assert not page.locator("[data-hours-field]").is_visible()
        assert not page.locator("#consent-needed").is_visible()
    finally:
        no_script.close()


def test_consent_to_share_with_one_organisation_warns_when_another_is_chosen(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Consent recorded for sharing with one organisation only: choosing another showed no
    warning, and an admin's refused override had its reason field hidden (a review in
    Chromium). The warning and the reason now follow the chosen organisation."""
    from intake.models import ConsentChannel, ConsentGiver, ConsentPurpose
    from intake.services import consent

    directory.import_shipped()
    org = make_org_key()
    case = make_case(org, consent_given=False)  # no consent from the intake form
    admin = give_key(make_user(Role.ADMIN), org)
    consent.record(
        case.id,
        ConsentPurpose.SHARE_WITH_ORGANISATION,
        ConsentGiver.PERSON,
        ConsentChannel.CALL_NOTE,
        admin,
        entry_id="frontline-defenders",
    )
    page = staff_page(browser, app, live_server, admin)
    notice, reason = page.locator("#consent-needed"), page.locator("#consent_override_reason")
    try:
        page.goto(f"{live_server.url}/referrals/new?ref={case.ref}&entry=frontline-defenders")
        assert page.input_value("#kind") == "ngo_referral"
        assert not notice.is_visible()
        assert not reason.is_visible()
        page.select_option("#entry_id", "amnesty-international")
        assert page.input_value("#kind") == "ngo_referral"
        assert notice.is_visible()
        assert "covers other organisations" in notice.inner_text()
        assert reason.is_visible()
        page.select_option("#entry_id", "frontline-defenders")
        assert not notice.is_visible()
    finally:
        page.context.close()


def test_with_nothing_chosen_the_referral_form_warns_of_nothing_in_real_chromium(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """The review found "No consent recorded: reprisals report" and "…: publication", the
    hours field and the override reason on a new referral before anything was chosen. Until a
    kind is chosen none of them shows; choosing one that needs them shows them, and going back
    to nothing hides them again."""
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    admin = give_key(make_user(Role.ADMIN), org)  # can own the referral
    page = staff_page(browser, app, live_server, admin)
    notice, hours = page.locator("#consent-needed"), page.locator("[data-hours-field]")
    override = page.locator("[data-override-field]")
    try:
        page.goto(f"{live_server.url}/referrals/new?ref={case.ref}")
        assert page.input_value("#entry_id") == ""
        assert not notice.is_visible()
        assert not hours.is_visible()
        assert not override.is_visible()
        assert page.locator("[data-kind-needs-other]").count() == 0  # unfolded by the script
        # No kind of referral is for publication: its consent is never this form's concern.
        assert page.locator("[data-purpose=publication]").count() == 0
        page.select_option("#entry_id", "ohchr-reprisals")
        assert notice.is_visible()
        assert override.is_visible()
        page.select_option("#entry_id", "embassies")
        assert page.input_value("#kind") == "embassy_contact"
        assert hours.is_visible()
        assert not notice.is_visible()
        assert not override.is_visible()
        page.select_option("#entry_id", "")
        assert not notice.is_visible()
        assert not hours.is_visible()
        assert not override.is_visible()
    finally:
        page.context.close()


def test_without_javascript_what_some_kinds_need_is_folded_and_still_sent(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """Without JavaScript nothing shows or hides as the choice changes, so the page shows
    nothing kind-specific at first and folds the parts under "Only for some kinds", each
    saying which kinds it is for. Opening the fold, an admin sets an embassy contact's hours
    and refers to the reprisals report with a reason; both referrals are made."""
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    admin = give_key(make_user(Role.ADMIN), org)  # can own the referral
    context = signed_in_context(browser, app, live_server.url, admin, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    url = f"{live_server.url}/referrals/new?ref={case.ref}"
    fold = page.locator("details[data-kind-needs-other]")
    try:
        page.goto(url)
        assert not page.locator("#consent-needed").is_visible()
        assert not page.locator("#due_hours").is_visible()
        assert not page.locator("#consent_override_reason").is_visible()
        assert fold.locator("summary").inner_text() == "Only for some kinds"
        fold.locator("summary").click()
        folded = fold.inner_text()
        assert "draft law or policy (48 hours) and Embassy contact (24 hours)" in folded
        assert "For: Reprisals report (by 15 April)" in folded
        assert "No consent is recorded for: Publish" not in folded
        page.select_option("#entry_id", "embassies")
        page.select_option("#kind", "embassy_contact")
        page.fill("#due_hours", "36")
        page.click('main form[action*="/referrals/new"] button[type=submit]')
        page.wait_for_url(MADE)

        page.goto(url)
        fold.locator("summary").click()
        page.select_option("#entry_id", "ohchr-reprisals")
        page.select_option("#kind", "reprisals_report")
        page.select_option("#consent_override_reason", "asked_by_family_or_lawyer")
        page.click('main form[action*="/referrals/new"] button[type=submit]')
        page.wait_for_url(MADE)
    finally:
        context.close()
    made = db.session.scalars(sa.select(Referral).order_by(Referral.id)).all()
    assert [(r.kind, r.due_hours, r.consent_override_reason) for r in made] == [
        (ReferralKind.EMBASSY_CONTACT, 36, None),
        (ReferralKind.REPRISALS_REPORT, None, "asked_by_family_or_lawyer"),
    ]


def test_without_javascript_a_refused_kind_comes_back_with_what_it_needs(
    app: Flask, live_server: Any, browser: Any
) -> None:
    """A caseworker without JavaScript who chooses the reprisals report (no consent on record)
    is told why it is refused, and the page then shows that kind's notice, not a fold of it."""
    directory.import_shipped()
    org = make_org_key()
    case = a_case_with_triage(org)
    user = give_key(make_user(Role.CASEWORKER), org)  # can own the referral
    context = signed_in_context(browser, app, live_server.url, user, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/referrals/new?ref={case.ref}&lang=zh_Hant")
        assert not page.locator("#consent-needed").is_visible()
        assert page.locator("details[data-kind-needs-other] summary").inner_text() == (
            "僅適用於部分類型"
        )
        page.select_option("#entry_id", "ohchr-reprisals")
        page.select_option("#kind", "reprisals_report")
        page.click('main form[action*="/referrals/new"] button[type=submit]')
        page.wait_for_load_state("load")  # the click waits only for the answer to start
        notice = page.locator("#consent-needed")
        assert notice.is_visible()
        assert notice.locator("[data-purpose]:visible").count() == 1
        assert notice.locator("[data-purpose=reprisals_report]").is_visible()
    finally:
        context.close()
    assert db.session.scalars(sa.select(Referral)).all() == []
