"""The e-mail draft for the Secretary-General's reprisals report on a ``reprisals_report``
referral (issue 12).

Real Chromium: with consent for the report on record, a caseworker unlocks their key and the
page assembles the e-mail to ohchr-reprisals@un.org from the decrypted answers (sp-draft.js's
machinery) — and nothing of it is sent to the server. Without that consent the page says why and
builds nothing. Plus the server side: the clear facts handed to the script, publication consent,
withdrawn consent, and the 繁體中文 wording.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import (
    ConsentChannel,
    ConsentGiver,
    ConsentPurpose,
    Referral,
    ReferralKind,
    Role,
    User,
)
from intake.services import consent, referrals
from intake.services.settings import org_zone
from intake.web import asset_integrity
from tests import browser_steps as steps
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
)

CANARY = "CANARY-9b2c-reprisals-draft"
ANSWERS: dict[str, Any] = {
    "sender_name": f"{CANARY}-sender",
    "sender_role": "family",
    "sender_contact": f"{CANARY}-contact",
    "victim_name": f"{CANARY}-victim 林",
    "victim_age": "41",
    "victim_gender": "",
    "what_happened": f"{CANARY}-what travel ban after Geneva\nsecond line",
    "when_happened": "2026-09-14",
    "where_happened": f"{CANARY}-where",
    "context": f"{CANARY}-context spoke at the Human Rights Council",
    "perpetrators": f"{CANARY}-perpetrators",
    "consent": "yes",
    "consent_by": f"{CANARY}-consent-by",
    "reprisal_concerns": f"{CANARY}-secret",
    "others_at_risk": f"{CANARY}-others",
}
HEADINGS = [
    "1. WHO IS THE PERSON (OR GROUP) CONCERNED?",
    "2. WHAT HAPPENED, AND WHEN?",
    "3. WHICH UN BODY DID THEY COOPERATE WITH?",
    "4. THE REPRISAL",
    "5. CONSENT OF THE PERSON OR FAMILY FOR THE REPORT",
    "6. MAY IT BE PUBLISHED, OR MUST IT STAY CONFIDENTIAL?",
    "SOURCE OF THE INFORMATION",
    "OTHER ANSWERS",
    "BEFORE YOU SEND",
]
RECEIVED = datetime(2026, 6, 1, 9, tzinfo=UTC)


def reprisals_referral(
    org: OrgKeyPair,
    answers: dict[str, Any],
    *,
    consent_for_report: bool = True,
    publication: bool = False,
) -> Referral:
    """A reprisal case with an SP urgent appeal already submitted, and a reprisals_report
    referral (by an admin's audited override when the report has no consent)."""
    make_entry("sr-hrd", name="Special Rapporteur on human rights defenders", kind="un_mechanism")
    make_entry("ohchr-reprisals", name="OHCHR reprisals desk", kind="un_mechanism")
    case = make_case(
        org, answers, threats=["reprisal"], profiles=["lawyer"], country="CN", received_at=RECEIVED
    )
    caseworker = db.session.scalar(db.select(User).where(User.role == Role.CASEWORKER))
    caseworker = give_key(caseworker or make_user(Role.CASEWORKER), org)  # owns the referrals
    appeal = referrals.create(case.id, "sr-hrd", ReferralKind.SP_URGENT_APPEAL, caseworker)
    referrals.transition(appeal.id, "send", caseworker, at=datetime(2026, 6, 10, 9, tzinfo=UTC))
    for wanted, purpose in (
        (consent_for_report, ConsentPurpose.REPRISALS_REPORT),
        (publication, ConsentPurpose.PUBLICATION),
    ):
        if wanted:
            consent.record(
                case.id, purpose, ConsentGiver.FAMILY, ConsentChannel.CALL_NOTE, caseworker
            )
    if consent_for_report:
        return referrals.create(
            case.id, "ohchr-reprisals", ReferralKind.REPRISALS_REPORT, caseworker
        )
    return referrals.create(
        case.id,
        "ohchr-reprisals",
        ReferralKind.REPRISALS_REPORT,
        make_user(Role.ADMIN),
        owner_id=caseworker.id,
        consent_override_reason="asked_by_family_or_lawyer",
    )


def section(draft: str, index: int) -> str:
    start = draft.index(HEADINGS[index])
    end = draft.index(HEADINGS[index + 1]) if index + 1 < len(HEADINGS) else len(draft)
    return draft[start:end]


def today() -> str:
    return datetime.now(UTC).astimezone(org_zone()).date().isoformat()


def watch(page: Any) -> tuple[list[tuple[str, str, str]], list[str]]:
    requests: list[tuple[str, str, str]] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return requests, errors


@pytest.mark.browser
def test_with_consent_the_email_is_assembled_in_the_browser_and_nothing_of_it_is_sent(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="rp-caseworker@example.org")
    referral = reprisals_referral(org, ANSWERS)
    path = f"/referrals/{referral.id}"
    ref = referral.case.ref
    requests, errors = watch(page)

    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    assert page.locator("[data-reprisals-consent=given]").is_visible()
    notice = page.locator("#reprisals-draft [data-sp-notice]")
    assert notice.inner_text() == "Unlock your key to assemble the draft."
    loaded = len(requests)

    steps.unlock_in_header(page)
    page.wait_for_selector("#reprisals-draft [data-sp-assemble]", state="visible")
    page.click("#reprisals-draft [data-sp-assemble]")
    page.wait_for_selector("#reprisals-draft-text", state="visible", timeout=30_000)
    page.wait_for_function("document.getElementById('reprisals-draft-text').value.length > 0")
    draft = str(page.input_value("#reprisals-draft-text"))

    # The e-mail: addressed, the period of the report due 15 April 2027, every question in order.
    assert draft.startswith("To: ohchr-reprisals@un.org\nSubject: ")
    assert "report on reprisals 2027" in draft
    assert "Reporting period: 2026-05-01 to 2027-04-30" in draft
    assert "Request received by our organisation: 2026-06-01" in draft
    positions = [draft.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions), draft
    # The canary answers, each under its question.
    assert f"Name: {CANARY}-victim 林" in section(draft, 0)
    assert "Age: 41" in section(draft, 0)
    assert "Gender: (not provided)" in section(draft, 0)
    assert "Country: China (CN)" in section(draft, 0)
    assert f"{CANARY}-what travel ban after Geneva\nsecond line" in section(draft, 1)
    assert "When: 2026-09-14" in section(draft, 1)
    cooperation = section(draft, 2)
    assert "[fill in" in cooperation
    assert f"{CANARY}-context spoke at the Human Rights Council" in cooperation
    assert (
        "to: Special Rapporteur on human rights defenders (Urgent appeal, submitted 2026-06-10)"
        in cooperation
    )
    assert "Type of threat: Reprisal for cooperating with the UN" in section(draft, 3)
    assert f"Alleged perpetrators: {CANARY}-perpetrators" in section(draft, 3)
    # Consent for the report, from the records; without consent to publish: confidential.
    assert (
        "Consent to include the case in this report: Given by their family, in a call (noted by "
        f"the caseworker), on {today()} (recorded by our organisation)." in section(draft, 4)
    )
    assert "Consent of the people named (request form): Yes, everyone named agreed" in draft
    assert "Publication: CONFIDENTIAL." in section(draft, 5)
    assert f"Details to keep confidential: {CANARY}-secret" in section(draft, 5)
    assert "Role in the situation: A family member" in section(draft, 6)
    assert f"Sender contact: {CANARY}-contact" in section(draft, 7)  # listed for review
    assert "[ ] Deadline: send by 15 April 2027" in section(draft, 8)
    assert ref in draft

    # Read-only, outside any form, never HTML; accessible.
    assert page.eval_on_selector("#reprisals-draft-text", "t => t.form === null && t.readOnly")
    assert page.get_attribute("#reprisals-draft-text", "name") is None
    assert CANARY not in page.eval_on_selector("#reprisals-draft", "n => n.innerHTML")
    steps.assert_accessible(page, "#reprisals-draft")

    steps.assert_copied(
        page,
        base,
        "#reprisals-draft [data-sp-copy]",
        "#reprisals-draft [data-sp-copy-status]",
        draft,
    )

    # Nothing of it went anywhere: one GET of the ciphertext, no request carried the canary.
    after = requests[loaded:]
    assert [url for _, url, _ in after if url.endswith("/sealed")] == [f"{base}/cases/{ref}/sealed"]
    assert all(method == "GET" for method, url, _ in after if "/static/" not in url), after
    for method, url, post_data in requests:
        assert CANARY not in url, url
        assert CANARY not in post_data, (method, url)
    assert CANARY not in page.evaluate("JSON.stringify([localStorage, sessionStorage])")

    # Locking wipes it.
    page.click("[data-lock-button]")
    page.wait_for_selector("#reprisals-draft [data-sp-notice][data-state=locked]")
    assert page.input_value("#reprisals-draft-text") == ""
    assert CANARY not in page.locator("body").inner_text()
    assert not errors, errors


@pytest.mark.browser
def test_without_consent_for_the_report_the_page_says_why_and_builds_nothing(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="rp-none@example.org")
    referral = reprisals_referral(org, ANSWERS, consent_for_report=False)
    path = f"/referrals/{referral.id}"
    requests, errors = watch(page)

    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    steps.unlock_in_header(page)  # even unlocked, nothing is offered
    refusal = page.locator("#reprisals-draft [data-reprisals-consent=none]")
    assert "not on record" in refusal.inner_text()
    assert refusal.locator("a").get_attribute("href") == (
        f"/cases/{referral.case.ref}#consent-heading"
    )
    assert page.locator("#reprisals-draft button").count() == 0
    assert page.locator("#reprisals-draft textarea").count() == 0
    assert page.locator("#reprisals-draft [data-sp-notice]").count() == 0
    # The script loaded, and refused: no ciphertext fetched, and its builder will not build.
    assert page.evaluate("typeof window.RefugeReprisalsDraft.build") == "function"
    assert not any(url.endswith("/sealed") for _, url, _ in requests)
    refused = page.evaluate(
        "() => { try { window.RefugeReprisalsDraft.build({what_happened: 'x'},"
        " {consent: {on_record: false}}); return ''; } catch (e) { return e.message; } }"
    )
    assert "No consent for the reprisals report" in refused
    # Its English wording covers every consent giver and channel the server can store.
    wording = page.evaluate(
        "({givers: window.RefugeReprisalsDraft.givers,"
        " channels: window.RefugeReprisalsDraft.channels})"
    )
    assert set(wording["givers"]) == {member.value for member in ConsentGiver}
    assert set(wording["channels"]) == {member.value for member in ConsentChannel}
    for method, url, post_data in requests:
        assert CANARY not in url + post_data, (method, url)
    assert not errors, errors


# --- on the server ---------------------------------------------------------------------------


def page_for(app: Flask, referral: Referral, lang: str = "en") -> str:
    client: FlaskClient = app.test_client()
    sign_in(client, Role.CASEWORKER)
    response = client.get(f"/referrals/{referral.id}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def facts_in(page: str) -> dict[str, Any]:
    match = re.search(r'id="reprisals-draft-facts">(.*?)</script>', page, re.S)
    assert match, "no facts block"
    return dict(json.loads(match.group(1)))


def test_the_page_hands_the_script_clear_facts_only_with_both_scripts_under_sri(
    app: Flask,
) -> None:
    referral = reprisals_referral(make_org_key(), ANSWERS, publication=True)
    page = page_for(app, referral)
    assert 'id="reprisals-draft"' in page
    assert 'id="sp-draft"' not in page
    assert CANARY not in page
    with app.test_request_context():
        sp_src, rp_src = (
            url_for("static", filename=f"js/{name}.js") for name in ("sp-draft", "reprisals-draft")
        )
        sp, rp = asset_integrity("js/sp-draft.js"), asset_integrity("js/reprisals-draft.js")
    # sp-draft.js (the machinery) first, then the reprisals draft that uses it.
    assert page.index(f'src="{sp_src}" integrity="{sp}"') < page.index(
        f'src="{rp_src}" integrity="{rp}"'
    )
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    recorded = {"given_by": "family", "given_via": "call_note", "given_at": today()}
    assert facts_in(page) == {
        "ref": referral.case.ref,
        "referral_id": referral.id,
        "country": "CN",
        "threats": ["reprisal"],
        "profiles": ["lawyer"],
        "urgency": "days",
        "received": "2026-06-01",
        "report_year": 2027,
        "period_first": "2026-05-01",
        "period_last": "2027-04-30",
        "consent": {"on_record": True, **recorded},
        "publication": recorded,
        "un_referrals": [
            {
                "to": "Special Rapporteur on human rights defenders",
                "kind": "sp_urgent_appeal",
                "submitted": "2026-06-10",
            }
        ],
    }
    assert 'data-reprisals-publication="given"' in page
    assert "The draft says the case may be published." in page


def test_withdrawn_consent_is_named_and_no_draft_is_offered(app: Flask) -> None:
    referral = reprisals_referral(make_org_key(), ANSWERS)
    given = next(
        r for r in consent.records(referral.case) if r.purpose is ConsentPurpose.REPRISALS_REPORT
    )
    consent.withdraw(
        referral.case_id,
        given.id,
        ConsentGiver.FAMILY,
        ConsentChannel.FOLLOW_UP_MESSAGE,
        make_user(Role.CASEWORKER),
    )
    page = page_for(app, referral)
    assert 'data-reprisals-consent="withdrawn"' in page
    assert "was withdrawn on" in page
    assert "data-sp-assemble" not in page
    assert "<textarea" not in page[page.index('id="reprisals-draft"') :]
    assert facts_in(page)["consent"] == {"on_record": False}


def test_other_kinds_do_not_offer_it(app: Flask) -> None:
    org = make_org_key()
    make_entry("some-ngo")
    case = make_case(org, ANSWERS)
    ngo = referrals.create(case.id, "some-ngo", ReferralKind.NGO_REFERRAL, make_user(Role.ADMIN))
    page = page_for(app, ngo)
    assert "reprisals-draft" not in page
    assert "sp-draft.js" not in page


def test_reprisals_draft_in_traditional_chinese(app: Flask) -> None:
    with_consent = page_for(app, reprisals_referral(make_org_key(), ANSWERS), lang="zh_Hant")
    assert "組裝報復行為報告電子郵件" in with_consent
    strings = re.search(r'id="reprisals-draft-strings">(.*?)</script>', with_consent, re.S)
    assert strings
    assert "沒有任何內容傳送到伺服器" in json.loads(strings.group(1))["assembled"]
