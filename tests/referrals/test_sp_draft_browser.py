"""The UN Special Procedures submission draft on the referral page (issue 6, DESIGN §1.3, §5).

Real Chromium: a caseworker unlocks their key, the page decrypts the case in the browser and
assembles an English draft along the nine questions of the ISHR guide — and nothing of it is
sent to the server. Plus the server side: which referrals offer it, who may use it, hostile
routing facts, and the 繁體中文 wording.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from markupsafe import escape

from intake import vocab as directory_vocab
from intake.extensions import db
from intake.models import Referral, ReferralKind, Role, User
from intake.public import forms as intake_forms
from intake.services import referrals
from intake.web import asset_integrity
from tests import browser_steps as steps
from tests.builders import (
    DEFAULT_PASSWORD,
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_staff_with_keys,
    make_user,
    sign_in,
)

CANARY = "CANARY-5d1e-sp-draft"
ANSWERS: dict[str, Any] = {
    "sender_name": f"{CANARY}-sender",
    "sender_role": "lawyer",
    "sender_organisation": "",
    "sender_contact": f"{CANARY}-contact signal only",
    "safe_to_contact": "yes",
    "safe_contact_notes": "",
    "others_at_risk": f"{CANARY}-others",
    "reprisal_concerns": f"{CANARY}-secret",
    "urgency_reason": f"{CANARY}-urgent hearing on Monday",
    "victim_name": f"{CANARY}-victim 林",
    "victim_age": "34",
    "victim_gender": "",
    "victim_origin": "",
    "victim_residence": f"{CANARY}-residence <script>alert(1)</script>",
    "other_victims": "",
    "consent": "yes",
    "consent_by": f"{CANARY}-consent-by",
    "referral_consent": "yes",
    "what_happened": f"{CANARY}-what detained at dawn\nsecond line",
    "when_happened": "2026-11-20",
    "where_happened": f"{CANARY}-where",
    "perpetrators": f"{CANARY}-perpetrators",
    "context": "",
    "actions_taken": f"{CANARY}-actions",
    "wanted_actions": f"{CANARY}-wanted",
}
HEADINGS = [
    "1. WHO IS SENDING THE INFORMATION?",
    "2. IS THE SITUATION URGENT?",
    "3. WHO ARE THE VICTIMS?",
    "4. HAS CONSENT BEEN OBTAINED?",
    "5. WHAT HAPPENED?",
    "6. WHO ARE THE ALLEGED PERPETRATORS?",
    "7. WHAT IS THE CONTEXT?",
    "8. WHAT ACTION HAS ALREADY BEEN TAKEN?",
    "9. WHAT ACTION IS REQUESTED FROM THE SPECIAL PROCEDURES?",
    "CONFIDENTIALITY REQUEST",
    "BEFORE YOU SUBMIT",
]
# Where each answer must land: (answer key, the heading it belongs under).
PLACEMENT = [
    ("sender_name", 0),
    ("sender_contact", 0),
    ("urgency_reason", 1),
    ("victim_name", 2),
    ("victim_residence", 2),
    ("consent_by", 3),
    ("what_happened", 4),
    ("where_happened", 4),
    ("perpetrators", 5),
    ("actions_taken", 7),
    ("wanted_actions", 8),
    ("reprisal_concerns", 9),
    ("others_at_risk", 9),
]


def sp_referral(
    org: OrgKeyPair,
    answers: dict[str, Any],
    kind: ReferralKind = ReferralKind.SP_URGENT_APPEAL,
    entry_name: str = "Special Rapporteur on human rights defenders",
) -> Referral:
    entry = make_entry("sr-hrd")
    entry.name = entry_name
    entry.kind = "un_mechanism"
    db.session.commit()
    case = make_case(
        org,
        answers,
        threats=["detention", "reprisal"],
        profiles=["lawyer", "woman_hrd"],
        country="CN",
        languages=["zh", "en"],
    )
    owner = db.session.scalar(db.select(User).where(User.role == Role.CASEWORKER))
    owner = owner or make_user(Role.CASEWORKER)
    give_key(owner, org)  # a referral's owner can open its case
    return referrals.create(case.id, entry.id, kind, owner, owner_id=owner.id)


def section(draft: str, index: int) -> str:
    start = draft.index(HEADINGS[index])
    end = draft.index(HEADINGS[index + 1]) if index + 1 < len(HEADINGS) else len(draft)
    return draft[start:end]


# --- in the browser --------------------------------------------------------------------------


def assemble(page: Any) -> str:
    page.click("[data-sp-assemble]")
    page.wait_for_selector("#sp-draft-text", state="visible", timeout=30_000)
    page.wait_for_function("document.getElementById('sp-draft-text').value.length > 0")
    return str(page.input_value("#sp-draft-text"))


@pytest.mark.browser
def test_caseworker_assembles_the_draft_in_the_browser_and_nothing_of_it_is_sent(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="sp-caseworker@example.org")
    referral = sp_referral(org, ANSWERS)
    path = f"/referrals/{referral.id}"
    ref = referral.case.ref

    requests: list[tuple[str, str, str]] = []
    errors: list[str] = []

    def on_request(request: Any) -> None:
        requests.append((request.method, request.url, request.post_data or ""))

    page.on("request", on_request)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    # Signed in, key still locked: the page says so, offers nothing and fetches nothing.
    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    notice = page.locator("[data-sp-notice]")
    assert notice.inner_text() == "Unlock your key to assemble the draft."
    assert notice.get_attribute("data-state") == "locked"
    assert page.locator("[data-sp-assemble]").is_hidden()
    assert page.locator("#sp-draft-text").is_hidden()
    assert page.input_value("#sp-draft-text") == ""
    loaded = len(requests)
    assert not any(url.endswith(f"/cases/{ref}/sealed") for _, url, _ in requests)

    # Unlocking in the header: the page reacts (RefugeKeyring.onChange) without a reload.
    steps.unlock_in_header(page)
    page.wait_for_selector("[data-sp-assemble]", state="visible")
    assert page.locator("[data-sp-notice]").get_attribute("data-state") == "unlocked"
    draft = assemble(page)
    # The box has the focus, from its start, with its label in sight (it was scrolled off).
    assert page.evaluate("document.activeElement.id") == "sp-draft-text"
    label_top = page.evaluate(
        "document.querySelector('label[for=sp-draft-text]').getBoundingClientRect().top"
    )
    assert 0 <= label_top < page.viewport_size["height"] / 2, label_top

    # All nine questions, in order, then the confidentiality request and the checklist.
    positions = [draft.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions), draft
    for key, index in PLACEMENT:
        first_line = str(ANSWERS[key]).split("\n")[0]
        assert first_line in section(draft, index), (key, draft)
    assert "detained at dawn\nsecond line" in draft  # line breaks kept
    assert "<script>alert(1)</script>" in draft  # as text, in a textarea
    # Choices in English words, empty answers marked, routing facts from the page.
    assert "Role in the situation: Their lawyer" in section(draft, 0)
    assert "Consent of the people named: Yes, everyone named agreed" in section(draft, 3)
    assert "Consent to refer recorded in the case: Yes" in section(draft, 3)
    assert "Context: (not provided)" in section(draft, 6)
    assert "Gender: (not provided)" in section(draft, 2)
    assert "Profile: Lawyer, Woman human rights defender" in section(draft, 2)
    assert "Urgency (assessed at intake): Within days" in section(draft, 1)
    assert "Detention or imprisonment, Reprisal for cooperating with the UN" in section(draft, 4)
    assert "Communication requested: Urgent appeal" in section(draft, 8)
    assert "Type of communication requested: Urgent appeal" in draft
    assert "Addressed to: Special Rapporteur on human rights defenders" in draft
    assert "Country concerned: China (CN)" in draft
    assert ref in draft
    checklist = section(draft, 10)
    for reminder in ("Consent:", "Confidentiality:", "No more than needed:", "Reprisal risk:"):
        assert f"[ ] {reminder}" in checklist
    assert "https://spsubmission.ohchr.org/" in draft

    # Read-only, not part of any form, and never rendered as HTML.
    textarea = page.locator("#sp-draft-text")
    assert textarea.get_attribute("readonly") is not None
    assert textarea.get_attribute("name") is None
    assert page.eval_on_selector("#sp-draft-text", "t => t.form === null")
    assert page.locator("#sp-draft script").count() == 0
    assert CANARY not in page.eval_on_selector("#sp-draft", "n => n.innerHTML")
    notice_text = page.locator("[data-sp-notice]").inner_text()
    assert "Nothing of it was sent to the server" in notice_text
    # Accessible: axe (evaluated through the DevTools protocol, so the page's CSP stays on).
    steps.assert_accessible(page, "#sp-draft")

    # Copy: the clipboard holds the draft (the clipboard is local, not a request).
    steps.assert_copied(page, base, "[data-sp-copy]", "[data-sp-copy-status]", draft)

    # Nothing of the draft went anywhere: no request carried it, no storage holds it.
    after = requests[loaded:]
    assert [url for method, url, _ in after if url.endswith("/sealed")] == [
        f"{base}/cases/{ref}/sealed"
    ]
    assert all(method == "GET" for method, url, _ in after if "/static/" not in url), after
    for method, url, post_data in requests:
        assert CANARY not in url, url
        assert CANARY not in post_data, (method, url)
    storage = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert CANARY not in storage

    # Locking wipes the draft and brings the unlock message back.
    page.click("[data-lock-button]")
    page.wait_for_selector("[data-sp-notice][data-state=locked]")
    assert page.locator("[data-sp-notice]").inner_text() == "Unlock your key to assemble the draft."
    assert page.locator("#sp-draft-text").is_hidden()
    assert page.input_value("#sp-draft-text") == ""
    assert page.locator("[data-sp-assemble]").is_hidden()
    assert CANARY not in page.locator("body").inner_text()
    assert not errors, errors


@pytest.mark.browser
def test_viewer_assembles_too_and_the_builder_handles_odd_answers(
    app: Flask, live_server: Any, page: Any
) -> None:
    """Viewers may read cases (GET /cases/<ref>/sealed lets every staff role in), so they may
    assemble the draft. The builder copes with empty, older and hostile answer shapes, and its
    English wording covers every choice and routing code the server knows."""
    base = live_server.url
    org = make_org_key()
    other = make_org_key()
    viewer, _ = make_staff_with_keys(Role.VIEWER, org, email="sp-viewer@example.org")
    older = {"what_happened": f"{CANARY}-old", "victims": [{"name": f"{CANARY}-v1"}], "x": 1}
    referral = sp_referral(org, older, kind=ReferralKind.SP_ALLEGATION_LETTER)
    foreign = make_case(other, {"what_happened": f"{CANARY}-foreign"})
    foreign_referral = referrals.create(
        foreign.id, "sr-hrd", ReferralKind.SP_LEGISLATION, make_user(Role.CASEWORKER)
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    steps.sign_in(
        page,
        base,
        viewer.email,
        DEFAULT_PASSWORD,
        viewer.totp_secret or "",
        f"/referrals/{referral.id}",
    )
    page.fill("#unlock-password", DEFAULT_PASSWORD)
    page.click("form.unlock-page-form button[type=submit]")
    page.wait_for_url(f"{base}/referrals/{referral.id}")
    draft = assemble(page)
    assert "Type of communication requested: Allegation letter" in draft
    assert f"- Name: {CANARY}-v1" in section(draft, 2)  # an older answer shape, still placed
    assert f"{CANARY}-old" in section(draft, 4)
    # Nothing silently dropped: an answer no question asks for is listed for review.
    assert "X: 1" in draft[draft.index("OTHER ANSWERS") :]

    # A case sealed to a key the viewer was not granted: said plainly, no draft.
    page.goto(f"{base}/referrals/{foreign_referral.id}")
    page.click("[data-sp-assemble]")
    page.wait_for_selector("[data-sp-notice][data-state=error]", timeout=30_000)
    assert "cannot open this case" in page.locator("[data-sp-notice]").inner_text()
    assert page.input_value("#sp-draft-text") == ""

    # The pure builder: empty answers give "(not provided)" under every question.
    empty = page.evaluate("window.RefugeSpDraft.build({}, {kind: 'sp_legislation'})")
    for index in range(9):
        assert "(not provided)" in section(empty, index), index
    assert "OTHER ANSWERS" not in empty
    assert "Communication on draft legislation or policy" in empty
    weird = page.evaluate(
        "window.RefugeSpDraft.build({what_happened: {a: [null, ''], b: true}, consent: 'maybe',"
        " perpetrators: 42, context: '   '}, {})"
    )
    assert "What happened: B: Yes" in weird
    assert "Consent of the people named: maybe" in weird
    assert "Alleged perpetrators: 42" in weird
    assert "Context: (not provided)" in weird
    assert "What happened: " in page.evaluate("window.RefugeSpDraft.build(null, null)")

    # Its English wording covers every code the server can store.
    wording = page.evaluate(
        "({choices: window.RefugeSpDraft.choices, vocab: window.RefugeSpDraft.vocab})"
    )
    assert set(wording["choices"]["sender_role"]) == set(intake_forms.SENDER_ROLES)
    assert set(wording["choices"]["safe_to_contact"]) == set(intake_forms.YES_NO_UNSURE)
    assert set(wording["choices"]["consent"]) == set(intake_forms.CONSENT_CHOICES)
    assert set(wording["choices"]["referral_consent"]) == set(intake_forms.REFERRAL_CONSENT_CHOICES)
    assert wording["vocab"]["threats"] == {k: str(v) for k, v in directory_vocab.THREATS.items()}
    assert wording["vocab"]["profiles"] == {k: str(v) for k, v in directory_vocab.PROFILES.items()}
    assert wording["vocab"]["urgency"] == {k: str(v) for k, v in directory_vocab.URGENCIES.items()}
    assert set(wording["vocab"]["kinds"]) == {k.value for k in ReferralKind if k.value[:3] == "sp_"}
    assert not errors, errors


# --- on the server ---------------------------------------------------------------------------


def page_for(app: Flask, role: Role, referral: Referral, lang: str = "en") -> str:
    client: FlaskClient = app.test_client()
    sign_in(client, role)
    response = client.get(f"/referrals/{referral.id}?lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def facts_in(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="sp-draft-facts">(.*?)</script>', page, re.S
    )
    assert match, "no facts block"
    return dict(json.loads(match.group(1)))


def test_only_special_procedures_referrals_offer_the_draft(app: Flask) -> None:
    org = make_org_key()
    sp = sp_referral(org, ANSWERS)
    ngo_case = make_case(org, ANSWERS)
    owner = make_user(Role.CASEWORKER)
    ngo = referrals.create(ngo_case.id, "sr-hrd", ReferralKind.NGO_REFERRAL, owner)

    ngo_page = page_for(app, Role.CASEWORKER, ngo)
    assert 'id="sp-draft"' not in ngo_page
    assert "sp-draft.js" not in ngo_page
    assert "Assemble a UN submission draft" not in ngo_page

    sp_page = page_for(app, Role.CASEWORKER, sp)
    assert 'id="sp-draft"' in sp_page
    assert "Assemble a UN submission draft" in sp_page
    assert "Unlock your key to assemble the draft." in sp_page
    assert f'data-sealed-url="/cases/{sp.case.ref}/sealed"' in sp_page
    # Loaded with subresource integrity, and no inline script or style anywhere.
    with app.test_request_context():
        src = url_for("static", filename="js/sp-draft.js")
        integrity = asset_integrity("js/sp-draft.js")
    assert f'src="{src}" integrity="{integrity}"' in sp_page
    for tag in re.findall(r"<script\b[^>]*>", sp_page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in sp_page
    assert " onclick=" not in sp_page
    # The page itself carries only routing facts (the server cannot read the answers).
    assert CANARY not in sp_page
    assert facts_in(sp_page) == {
        "ref": sp.case.ref,
        "referral_id": sp.id,
        "kind": "sp_urgent_appeal",
        "to": "Special Rapporteur on human rights defenders",
        "country": "CN",
        "threats": ["detention", "reprisal"],
        "profiles": ["lawyer", "woman_hrd"],
        "languages": ["zh", "en"],
        "urgency": "days",
        "consent_given": True,
        "received": sp.case.received_at.strftime("%Y-%m-%d"),
    }
    # The read-only textarea cannot be submitted: no name, no form around it.
    textarea = re.search(r"<textarea[^>]*id=\"sp-draft-text\"[^>]*>", sp_page)
    assert textarea
    assert "readonly" in textarea.group(0)
    assert "name=" not in textarea.group(0)
    section_html = sp_page[
        sp_page.index('id="sp-draft"') : sp_page.index("</section>", sp_page.index('id="sp-draft"'))
    ]
    assert "<form" not in section_html


@pytest.mark.parametrize("kind", [ReferralKind.SP_ALLEGATION_LETTER, ReferralKind.SP_LEGISLATION])
def test_every_special_procedures_kind_offers_it(app: Flask, kind: ReferralKind) -> None:
    referral = sp_referral(make_org_key(), ANSWERS, kind=kind)
    assert 'id="sp-draft"' in page_for(app, Role.ADMIN, referral)


def test_viewer_sees_the_draft_section_and_may_fetch_the_ciphertext(app: Flask) -> None:
    referral = sp_referral(make_org_key(), ANSWERS)
    viewer = make_user(Role.VIEWER)
    client = app.test_client()
    sign_in(client, viewer)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="sp-draft"' in page
    assert "Assemble a UN submission draft" in page
    assert 'action="/referrals/' not in page  # still no update form for a viewer
    sealed = client.get(f"/cases/{referral.case.ref}/sealed")
    assert sealed.status_code == 200
    body = sealed.get_json()
    assert body["org_key_id"] == referral.case.org_key_id
    assert body["sealed_answers"] == referral.case.sealed_answers
    assert CANARY not in sealed.get_data(as_text=True)
    # Signed out: neither the page nor the ciphertext.
    anonymous = app.test_client()
    assert anonymous.get(f"/referrals/{referral.id}").status_code == 302
    assert anonymous.get(f"/cases/{referral.case.ref}/sealed").status_code == 302


def test_hostile_routing_facts_stay_inert_json(app: Flask) -> None:
    hostile = '</script><script>alert("x")</script><!-- & \''
    referral = sp_referral(make_org_key(), ANSWERS, entry_name=hostile)
    page = page_for(app, Role.CASEWORKER, referral)
    assert "<script>alert(" not in page
    assert facts_in(page)["to"] == hostile
    assert str(escape(hostile)) in page  # the entry link shows it escaped, as text


def test_draft_section_in_traditional_chinese(app: Flask) -> None:
    referral = sp_referral(make_org_key(), ANSWERS)
    page = page_for(app, Role.CASEWORKER, referral, lang="zh_Hant")
    assert "組裝聯合國提交草稿" in page
    assert "解鎖你的金鑰以組裝草稿。" in page
    assert "複製" in page
    strings = re.search(r'id="sp-draft-strings">(.*?)</script>', page, re.S)
    assert strings
    assert "沒有任何內容傳送到伺服器" in json.loads(strings.group(1))["assembled"]
