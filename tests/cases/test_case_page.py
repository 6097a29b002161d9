"""The case page around the next action: assign to me, one conversation with each reply once,
triage in score order with Refer buttons, and the next due action in words."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseStatus,
    MessageKind,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    Urgency,
)
from intake.services import casework
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
)
from tests.cases.test_routes import csrf_from


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


@pytest.fixture
def case(org: OrgKeyPair) -> Case:
    return make_case(org, {"what_happened": "sealed"})


def test_assign_to_me_assigns_the_signed_in_caseworker(
    client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    page = client.get(f"/cases/{case.ref}")
    html = page.get_data(as_text=True)
    # Its own form: one assignee value, never the select's empty value as well.
    form = re.search(r"<form[^>]*/assign[^>]*>(.*?)</form>", html, re.S)
    assert form is not None
    assert re.findall(r'name="assignee"[^>]*value="([^"]*)"', form.group(1)) == ["me"]
    response = client.post(
        f"/cases/{case.ref}/assign", data={"assignee": "me", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.assignee_id == user.id


def test_two_assignee_values_are_refused_and_change_nothing(
    client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    colleague = give_key(make_user(Role.CASEWORKER), org)
    casework.assign(case, colleague.id, colleague)
    sign_in(client, Role.CASEWORKER)
    token = csrf_from(client.get(f"/cases/{case.ref}"))
    response = client.post(
        f"/cases/{case.ref}/assign",
        data={"assignee": ["", "me"], "csrf_token": token},
    )
    assert response.status_code == 400
    db.session.refresh(case)
    assert case.assignee_id == colleague.id


def test_each_reply_is_shown_once_in_one_thread_in_time_order(
    client: FlaskClient, org: OrgKeyPair, case: Case
) -> None:
    user = make_user(Role.CASEWORKER)
    casework.add_note(case, crypto.seal_answers({"body": "n"}, org.public), org.key.id, user)
    reply = casework.add_reply(
        case,
        crypto.seal_answers({"body": "r"}, case.reply_public_key or ""),
        user,
        sealed_copy=crypto.seal_answers({"body": "r", "copy_of_reply": True}, org.public),
        org_key_id=org.key.id,
    )
    copy = next(m for m in case.messages if m.kind == MessageKind.INTERNAL_NOTE and m.id > reply.id)
    sign_in(client, user)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    kinds = re.findall(r'<li class="message[^"]*"\s+data-kind="([a-z_]+)"', html)
    assert kinds == ["request", "note", "reply"]
    # The reply is read through its copy: the copy is not a second item.
    assert f'data-message-id="{copy.id}"' in html
    assert html.count(f'data-message-id="{copy.id}"') == 1
    assert "Encrypted to the submitter: only they can read it" not in html


def test_triage_is_shown_in_triage_order_with_refer_buttons_preselecting_entry_and_kind(
    client: FlaskClient, org: OrgKeyPair
) -> None:
    immediate_only = [{"id": "immediate_only", "text": ""}]
    no_cases = [{"id": "no_direct_casework", "text": ""}]
    make_entry(
        "embassies",
        name="Embassies",
        referral_kinds=["embassy_contact"],
        conditions=immediate_only,
    )
    make_entry(
        "uaf",
        name="Urgent Action Fund",
        referral_kinds=["ngo_referral", "follow_up"],
        regions=["latin_america"],
        countries=["MX"],
        accepts_urgent_appeals=True,
    )
    make_entry(
        "un-sr-hrds",
        name="UN SR HRDs",
        referral_kinds=["sp_urgent_appeal"],
        accepts_urgent_appeals=True,
    )
    make_entry("small", name="Small NGO")
    make_entry("tiny", name="Tiny NGO", conditions=no_cases)
    case = make_case(org, urgency=Urgency.IMMEDIATE)
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    # In triage's order, as /referrals/new lists them: the embassy advice of an Immediate
    # request first (re-sorted by score it came fourth, folded away, on a reviewer's case).
    shown = re.findall(r'data-suggestion="([^"]+)" data-score="(\d+)"', html)
    assert [entry for entry, _score in shown] == ["embassies", "uaf", "un-sr-hrds", "small", "tiny"]
    scores = [int(score) for _entry, score in shown]
    assert scores[0] < scores[1]  # not by score
    top, _sep, folded = html.partition('<details class="triage-more">')
    assert 'data-suggestion="embassies"' in top
    assert 'data-suggestion="small"' in folded
    assert "<summary>2 more suggestions</summary>" in folded
    # Against the directory as it is now: an entry retired since triage is gone at once.
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/cases/"))})
    sign_in(client, Role.ADMIN)
    retired = client.post(
        "/directory/tiny/retire",
        data={"csrf_token": csrf_from(client.get("/directory/tiny")), "confirmed": "yes"},
    )
    assert retired.status_code in (302, 303)
    one_more = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "<summary>1 more suggestion</summary>" in one_more  # not "1 more suggestions"
    assert 'data-suggestion="tiny"' not in one_more
    refers = re.findall(r'href="(/referrals/new\?[^"]+)"\s+aria-label="Refer to ([^"]+)"', html)
    hrefs = {name: href.replace("&amp;", "&") for href, name in refers}
    assert f"ref={case.ref}" in hrefs["Urgent Action Fund"]
    assert "entry=uaf" in hrefs["Urgent Action Fund"]
    assert "kind=ngo_referral" in hrefs["Urgent Action Fund"]
    assert "kind=sp_urgent_appeal" in hrefs["UN SR HRDs"]
    # A name in another script (an Arabic one on an English page) keeps its own direction.
    # Each name links to its directory entry, to read its contacts and conditions first.
    assert re.findall(
        r'<strong dir="auto"><a href="/directory/([^"]+)">([^<]+)</a></strong>', html
    )[:3] == [
        ("embassies", "Embassies"),
        ("uaf", "Urgent Action Fund"),
        ("un-sr-hrds", "UN SR HRDs"),
    ]
    assert "kind=embassy_contact" in hrefs["Embassies"]
    # The Refer button opens the form with both preselected.
    form = client.get(hrefs["UN SR HRDs"]).get_data(as_text=True)
    assert re.search(
        r'<option selected value="un-sr-hrds">|<option value="un-sr-hrds" selected', form
    )
    assert re.search(
        r'<option selected value="sp_urgent_appeal">|<option value="sp_urgent_appeal" selected',
        form,
    )


def _selected_kind(page: str) -> str | None:
    found = re.search(
        r'<select[^>]*name="kind".*?<option (?:selected value="([a-z_]+)"|value="([a-z_]+)" '
        r"selected)",
        page,
        re.S,
    )
    return (found.group(1) or found.group(2)) if found else None


@pytest.mark.parametrize(
    ("urgency", "wgad", "unlisted"),
    [
        (Urgency.IMMEDIATE, "sp_urgent_appeal", "ngo_referral"),
        (Urgency.DAYS, "sp_urgent_appeal", "ngo_referral"),
        (Urgency.WEEKS, "wgad_opinion", "ngo_referral"),
    ],
)
def test_an_urgent_case_is_referred_first_as_an_urgent_appeal_where_the_entry_takes_one(
    client: FlaskClient, org: OrgKeyPair, urgency: Urgency, wgad: str, unlisted: str
) -> None:
    """Refer on an Immediate detention case preselected the Working Group's opinion procedure
    (its first listed kind, months long) though the Working Group takes urgent appeals. An
    entry that lists no kinds takes any, and is not guessed into an appeal."""
    make_entry("un-wgad", name="WGAD", referral_kinds=["wgad_opinion", "sp_urgent_appeal"])
    make_entry("open", name="Open NGO", referral_kinds=[])
    case = make_case(org, urgency=urgency)  # triage suggests both (global, detention)
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    refers = re.findall(r'href="(/referrals/new\?[^"]+)"\s+aria-label="Refer to ([^"]+)"', html)
    hrefs = {name: href.replace("&amp;", "&") for href, name in refers}
    assert f"kind={wgad}" in hrefs["WGAD"]
    assert f"kind={unlisted}" in hrefs["Open NGO"]
    # The form opened for the entry alone suggests the same, and lists it first for the script.
    page = client.get(f"/referrals/new?ref={case.ref}&entry=un-wgad").get_data(as_text=True)
    assert _selected_kind(page) == wgad
    table = re.search(r'<script type="application/json" id="referral-kinds">(.*?)</script>', page)
    assert table is not None
    assert json.loads(table.group(1))["un-wgad"][0]["kind"] == wgad


def test_the_next_action_names_the_nearest_deadline_and_what_it_is(
    client: FlaskClient, case: Case
) -> None:
    make_entry("un-wgad", name="UN Working Group on Arbitrary Detention")
    case.status = CaseStatus.ASSESSING
    db.session.add(
        Referral(
            case_id=case.id,
            entry_id="un-wgad",
            kind=ReferralKind.WGAD_OPINION,
            state=ReferralState.SENT,
            due_at=utcnow() + timedelta(hours=47),
        )
    )
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    block = html[html.index("data-next-action") : html.index('class="case-controls"')]
    assert "referral to UN Working Group on Arbitrary Detention" in block
    assert "in 1 day 2" in block  # 47 h less the seconds the request took: "in 1 day 22/23 h"
    assert "1 d<" not in block


def test_the_case_page_says_which_language_the_form_was_filled_in(
    client: FlaskClient, org: OrgKeyPair
) -> None:
    """Staff saw "Languages —" for a request filled in French, and had to read it to know."""
    case = make_case(org, locale="fr", languages=[])
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "<dd data-form-language>French</dd>" in html
    chinese = client.get(f"/cases/{case.ref}?lang=zh_Hant").get_data(as_text=True)
    assert "<dt>表單語言</dt><dd data-form-language>法文</dd>" in chinese
