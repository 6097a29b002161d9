"""Real Chromium: a caseworker reads a sealed case in the browser and writes sealed notes and
replies — and the plaintext never reaches the server's responses, the database or the logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from intake import crypto
from intake.extensions import db
from intake.labels import SEALED_FIELDS, answer_labels
from intake.models import Case, CaseMessage, KeyGrant, MessageKind, Role, User
from intake.services.accounts import server_side_keypair
from tests.browser_steps import finish_unlock, in_view
from tests.builders import (
    DEFAULT_PASSWORD,
    OrgKeyPair,
    give_key,
    make_attachment,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    session_cookie,
    signed_in_context,
)
from tests.sealed import open_message

pytestmark = pytest.mark.browser

CANARY = "CANARY-b7e1-harbour"
NOTE = f"{CANARY} internal note: call the lawyer 週三"
REPLY = f"{CANARY} reply: we have contacted a partner <b>not bold</b>"
FILE_BYTES = bytes(range(256)) + f"{CANARY} inside the file".encode()
ANSWERS: dict[str, Any] = {
    "contact": {"name": f"{CANARY} contact name", "safe_channel": f"{CANARY} signal only"},
    "urgent_why": f"{CANARY} hearing on Monday",
    "victims": [
        {"name": f"{CANARY} victim one", "age": f"{CANARY} 34"},
        {"name": f"{CANARY} victim 二", "residence": f"{CANARY} <script>alert(1)</script>"},
    ],
    "what_happened": f"{CANARY} detained at dawn\nsecond line",
    "consent": True,
}
# Answered with a choice: shown as the form worded it, under the form's question.
CHOICE_ANSWERS = {"sender_role": "lawyer"}

# A request as the intake form seals it: every question, most of them left blank.
SHORT_REQUEST = {
    **{name: "" for name in SEALED_FIELDS},
    "sender_role": "lawyer",
    "what_happened": f"{CANARY} detained at dawn",
    "urgency_reason": f"{CANARY} hearing on Monday",
}


def leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value] if isinstance(value, str) else []


def caseworker_with_keys(org: OrgKeyPair) -> User:
    """A caseworker whose staff key is wrapped with their password (as the CLI does) and who
    holds a grant of the organisation key — what an admin's grant gives a colleague."""
    user = make_user(Role.CASEWORKER, email="caseworker@example.org")
    server_side_keypair(user, DEFAULT_PASSWORD)
    db.session.add(
        KeyGrant(
            org_key_id=org.key.id,
            user_id=user.id,
            sealed_org_secret=crypto.seal_key_grant(org.secret, user.public_key or ""),
        )
    )
    db.session.commit()
    return user


def sign_in_and_unlock(page: Any, base: str, user: User, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("input[name=email]", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code**")
    page.fill("input[name=code]", pyotp.TOTP(user.totp_secret or "").now())
    page.click("main button[type=submit]")
    # The password typed at /login unlocks the keys (or the unlock page asks for it again).
    page.wait_for_url(lambda url: "/login/code" not in url)
    finish_unlock(page, base, DEFAULT_PASSWORD, next_path)


def wait_decrypted(page: Any) -> None:
    page.wait_for_selector("#case-lock[data-state=unlocked]", timeout=30_000)


def db_dump() -> str:
    parts = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_caseworker_reads_every_answer_and_file_and_writes_sealed_note_and_reply(
    app: Flask,
    live_server: Any,
    page: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = live_server.url
    org = make_org_key()
    code = crypto.normalise_receipt_code(crypto.new_receipt_code())
    assert code
    reply_public, reply_secret = crypto.reply_keypair(code)
    case = make_case(org, {**ANSWERS, **CHOICE_ANSWERS})
    case.reply_public_key = reply_public
    case.receipt_lookup = crypto.receipt_lookup(code, app.config["SECRET_KEY"])
    db.session.add(
        CaseMessage(
            case_id=case.id,
            kind=MessageKind.SUBMITTER_FOLLOW_UP,
            sealed_body=crypto.seal_answers({"body": f"{CANARY} follow-up"}, org.public),
            org_key_id=org.key.id,
        )
    )
    db.session.commit()
    attachment = make_attachment(
        case, org, name=f"{CANARY}-evidence.png", content_type="image/png", data=FILE_BYTES
    )
    user = caseworker_with_keys(org)
    ref = case.ref

    sent: list[tuple[str, str]] = []
    received: list[tuple[str, bytes]] = []
    errors: list[str] = []

    def on_request(request: Any) -> None:
        sent.append((request.url, request.post_data or ""))

    def on_response(response: Any) -> None:
        if 300 <= response.status < 400 or "/static/" in response.url:
            return
        try:
            received.append((response.url, response.body()))
        except Exception as exc:  # noqa: BLE001 - a body Chromium no longer holds
            # The keyring asks for its tab key on every page (and, once unlocked, its wrapped
            # keys), and the sign-in page for the account's salt; when the page moves on first,
            # Chromium drops that body. They hold a random key, keys sealed to the account and a
            # salt only (tests/auth check them). So does the case page's post of search tokens
            # when a saved note reloads it: its answer is a count.
            dropped = ("/auth/keyring/tab-key", "/auth/keyring", "/auth/salt", "/search-tokens")
            if not response.url.endswith(dropped):
                errors.append(f"unread body {response.url}: {type(exc).__name__}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in_and_unlock(page, base, user, f"/cases/{ref}")
    wait_decrypted(page)

    # Every answer, decrypted in the browser and shown as text (never as HTML).
    shown = page.locator("#answers").inner_text()
    for leaf in leaves(ANSWERS):
        for line in leaf.split("\n"):
            assert line in shown, line
    assert page.locator("#answers script").count() == 0
    assert "Who are you in this situation?" in shown
    assert "Their lawyer" in shown
    assert "What happened?" in shown or "What happened" in shown
    keys = page.eval_on_selector_all(
        "#answers > dl > div", "rows => rows.map(r => r.dataset.answerKey)"
    )
    # What happened first, then the rest in the form's order (keys it does not ask, last).
    assert keys[0] == "what_happened"
    assert keys.index("sender_role") < keys.index("consent") < keys.index("victims")
    assert page.locator("#answers [data-answer-key=victims] li").count() == 2
    assert f"{CANARY} follow-up" in page.locator("#messages").inner_text()

    # The attachment: decrypted in the browser, downloaded from a blob: URL with its bytes.
    link = page.locator(f"[data-attachment-id='{attachment.id}'] a.attachment-download")
    assert link.get_attribute("href").startswith("blob:")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{CANARY}-evidence.png"
    saved = tmp_path / "download.bin"
    download.save_as(saved)
    assert saved.read_bytes() == FILE_BYTES

    # A note and a reply, sealed in the browser.
    page.fill("#note-text", NOTE)
    with page.expect_navigation():
        page.click("#note-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    wait_decrypted(page)
    assert NOTE in page.locator("#messages").inner_text()

    page.fill("#reply-text", REPLY)
    with page.expect_navigation():
        page.click("#reply-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    wait_decrypted(page)
    messages_text = page.locator("#messages").inner_text()
    assert REPLY in messages_text  # the staff copy, opened with the org key
    assert page.locator("#messages b").count() == 0

    # The submitter reads the reply at /status with their receipt code, in their own browser.
    submitter = page.context.browser.new_context(locale="en-GB")
    try:
        status_page = submitter.new_page()
        status_page.on("response", on_response)
        status_page.goto(f"{base}/status")
        status_page.fill("#code", code)
        status_page.click("main button[type=submit]")
        status_page.wait_for_selector(".reply-opened")
        assert REPLY in status_page.locator("#thread").inner_text()
    finally:
        submitter.close()

    # Locking forgets what was decrypted on the page.
    page.click("[data-lock-button]")
    page.wait_for_selector("#case-lock[data-state=locked]")
    assert CANARY not in page.locator("main").inner_text()
    assert page.locator("a.attachment-download").count() == 0
    # Unlocking again from the header decrypts the page again, without a reload.
    page.click("[data-unlock-panel] summary")
    page.fill("#lock-state-password", DEFAULT_PASSWORD)
    page.click("form.unlock-form button[type=submit]")
    wait_decrypted(page)
    assert NOTE in page.locator("#messages").inner_text()
    page.click("[data-lock-button]")
    page.wait_for_selector("#case-lock[data-state=locked]")

    # What the server sent and received never held the plaintext.
    assert received, "no responses were recorded"
    for url, body in received:
        assert CANARY.encode() not in body, url
    for url, post_data in sent:
        assert CANARY not in post_data, url
    assert any(url.endswith(f"/cases/{ref}/sealed") for url, _ in received)

    # The database holds only ciphertext, which opens with the right keys.
    db.session.expire_all()
    assert CANARY not in db_dump()
    stored = db.session.get(Case, case.id)
    assert stored is not None
    notes = [m for m in stored.messages if m.kind == MessageKind.INTERNAL_NOTE]
    replies = [m for m in stored.messages if m.kind == MessageKind.STAFF_REPLY]
    assert [open_message(m.sealed_body, org.secret) for m in notes] == [NOTE, REPLY]
    assert [open_message(m.sealed_body, reply_secret) for m in replies] == [REPLY]
    assert all(m.author_id == user.id for m in notes + replies)

    # The logs (the live server runs in this process) never held it either.
    output = capfd.readouterr()
    assert CANARY not in caplog.text
    assert CANARY not in output.out + output.err
    for path in Path(app.instance_path).rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert not errors, errors


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_a_short_request_shows_its_answers_first_and_folds_the_unanswered(
    app: Flask, live_server: Any, page: Any, locale: str
) -> None:
    """The review found the only answer of a request among 24 "(not answered)" rows. Now what
    happened and why it is urgent come first, then the other answers, and the unanswered
    questions fold into one line that opens to list them."""
    org = make_org_key()
    case = make_case(org, SHORT_REQUEST)
    user = caseworker_with_keys(org)
    path = f"/cases/{case.ref}?lang={locale}"
    sign_in_and_unlock(page, live_server.url, user, path)
    wait_decrypted(page)

    rows = page.eval_on_selector_all(
        "#answers > dl > div", "rows => rows.map(r => r.dataset.answerKey)"
    )
    assert rows == ["what_happened", "urgency_reason", "sender_role"]
    with force_locale(locale):
        first = [answer_labels()["labels"][name] for name in ("what_happened", "urgency_reason")]
    assert page.locator("#answers > dl dt").all_inner_texts()[:2] == first
    assert "What happened?" in first or "發生了什麼事？" in first
    unanswered = len(SEALED_FIELDS) - 3
    fold = page.locator("#answers > details.unanswered")
    summary = fold.locator("summary").inner_text()
    assert summary == (
        f"{unanswered} questions not answered" if locale == "en" else f"{unanswered} 個問題未回答"
    )
    assert fold.get_attribute("open") is None
    assert "(not answered)" not in page.locator("#answers").inner_text()
    assert "（未回答）" not in page.locator("#answers").inner_text()
    # A caseworker can still see which: in the form's order.
    fold.locator("summary").click()
    listed = fold.locator("li").evaluate_all("items => items.map(i => i.dataset.answerKey)")
    assert listed == [name for name in SEALED_FIELDS if not SHORT_REQUEST[name]]
    assert fold.locator("li").first.is_visible()


STUB_KEYRING = """
(() => {
  const secretB64 = %r;
  const keyId = %d;
  let unlocked = true;
  const listeners = [];
  const decode = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  // Test-only stand-in for keyring.js: keyring.js keeps a RefugeKeyring it finds.
  window.RefugeKeyring = {
    unlock: async () => { unlocked = true; listeners.forEach((f) => f(true)); },
    isUnlocked: () => unlocked,
    lock: () => { unlocked = false; listeners.forEach((f) => f(false)); },
    currentOrgKeyId: () => (unlocked ? keyId : null),
    orgKeyPair: async (id) => {
      if (!unlocked || id !== keyId) { return null; }
      await window.sodium.ready;
      const privateKey = decode(secretB64);
      return { publicKey: window.sodium.crypto_scalarmult_base(privateKey), privateKey };
    },
    onChange: (f) => { listeners.push(f); return () => {}; },
  };
})();
"""


def test_a_viewer_reads_with_a_key_but_a_case_sealed_to_another_key_says_so(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    other = make_org_key()
    readable = make_case(org, {"what_happened": f"{CANARY} readable"})
    foreign = make_case(other, {"what_happened": f"{CANARY} foreign"})
    viewer = make_user(Role.VIEWER)
    user_agent = "RefugeCaseTests/1.0"
    context = browser.new_context(locale="en-GB", user_agent=user_agent)
    try:
        context.add_cookies(
            [
                {
                    "name": app.config["SESSION_COOKIE_NAME"],
                    "value": session_cookie(app, viewer),
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/{readable.ref}")
        wait_decrypted(page)
        assert f"{CANARY} readable" in page.locator("#answers").inner_text()
        assert page.locator("#note-form").count() == 0  # viewers read only
        page.goto(f"{live_server.url}/cases/{foreign.ref}")
        page.wait_for_selector("#case-lock[data-state=error]")
        assert "not been granted" in page.locator("#case-lock").inner_text()
        assert CANARY not in page.locator("main").inner_text()

        # Usable on a 360 px phone: nothing wider than the screen on the queue or the case.
        page.set_viewport_size({"width": 360, "height": 740})
        for path in ("/cases/?view=all", f"/cases/{readable.ref}"):
            page.goto(f"{live_server.url}{path}")
            widths = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (path, widths)
    finally:
        context.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_case_pages_have_no_axe_violations(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm install`")
    org = make_org_key()
    make_entry("ngo-x", name="NGO X")  # so that triage suggests something to check
    case = make_case(
        org,
        {**SHORT_REQUEST, **ANSWERS},  # answers, and the fold of the unanswered questions
    )
    make_attachment(case, org)
    user = make_user(Role.CASEWORKER)
    user_agent = "RefugeCaseTests/axe"
    # bypass_csp only so the test can inject axe; the other tests run under the real CSP.
    context = browser.new_context(
        bypass_csp=True, user_agent=user_agent, viewport={"width": 360, "height": 740}
    )
    try:
        context.add_cookies(
            [
                {
                    "name": app.config["SESSION_COOKIE_NAME"],
                    "value": session_cookie(app, user),
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
        page = context.new_page()
        page.set_default_timeout(15_000)
        for path in (
            f"/cases/?lang={locale}",
            "/cases/?view=all&status=closed",
            f"/cases/{case.ref}",
        ):
            page.goto(f"{live_server.url}{path}")
            if "/cases/RF" in page.url:
                wait_decrypted(page)
            page.add_script_tag(content=AXE.read_text())
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            summary = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found]
            assert summary == [], (path, summary)
    finally:
        context.close()


def test_a_note_survives_an_expired_token_and_a_refusal_keeps_the_text(
    app: Flask, live_server: Any, browser: Any
) -> None:
    org = make_org_key()
    case = make_case(org, {"what_happened": "x"})
    user = make_user(Role.CASEWORKER)
    user_agent = "RefugeCaseTests/expiry"
    context = browser.new_context(locale="en-GB", user_agent=user_agent)
    try:
        context.add_cookies(
            [
                {
                    "name": app.config["SESSION_COOKIE_NAME"],
                    "value": session_cookie(app, user),
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/cases/{case.ref}")
        wait_decrypted(page)

        # The token went stale while they wrote: the page fetches a new one and sends again.
        page.eval_on_selector_all(
            "input[name=csrf_token]", "inputs => inputs.forEach(i => { i.value = 'expired'; })"
        )
        page.fill("#note-text", NOTE)
        with page.expect_navigation():
            page.click("#note-form button[type=submit]")
        page.wait_for_selector(".flash-success")
        db.session.expire_all()
        notes = db.session.scalars(sa.select(CaseMessage)).all()
        assert [open_message(n.sealed_body, org.secret) for n in notes] == [NOTE]

        # A refusal (here: a key id the server does not expect) keeps the text in the box.
        page.wait_for_selector("#note-form button[type=submit]:not([disabled])")
        page.eval_on_selector("#note-form input[name=org_key_id]", "i => { i.value = '999'; }")
        page.fill("#note-text", "second note")
        page.click("#note-form button[type=submit]")
        page.wait_for_selector("#note-form .field-error:not([hidden])")
        assert "not the organisation's current key" in page.inner_text("#note-form .field-error")
        assert page.input_value("#note-text") == "second note"
        # The earlier "saved" message went: left up, it read as if this one was saved too.
        assert page.locator(".flash-success").is_hidden()
        db.session.expire_all()
        assert len(db.session.scalars(sa.select(CaseMessage)).all()) == 1

        page.eval_on_selector(
            "#note-form input[name=org_key_id]", f"i => {{ i.value = '{org.key.id}'; }}"
        )
        # A note pasted past the limit is kept whole (a maxlength cut it without a word); the
        # counter says by how much, and Save refuses it with that one line, sending nothing
        # (tests/cases/test_length_message_browser.py: one message, not two red lines).
        long_note = "林" * 20_005
        page.fill("#note-text", long_note)
        assert page.input_value("#note-text") == long_note
        over = "Too long: 20005 of 20000 characters, 5 over the limit. Shorten it and try again."
        assert page.inner_text("#note-text-count") == over
        page.click("#note-form button[type=submit]")
        assert page.inner_text("#note-text-count") == over
        assert page.locator("#note-form .field-error").is_hidden()
        assert page.evaluate("document.activeElement.id") == "note-text"
        # The box is marked as the server marks its fields: invalid, described by the count.
        assert page.get_attribute("#note-text", "aria-invalid") == "true"
        described = (page.get_attribute("#note-text", "aria-describedby") or "").split()
        assert "note-text-count" in described
        assert "note-hint" in described
        page.fill("#note-text", "林" * 20_000)  # at the limit: sent
        with page.expect_navigation():
            page.click("#note-form button[type=submit]")
        page.wait_for_selector(".flash-success")
        db.session.expire_all()
        assert len(db.session.scalars(sa.select(CaseMessage)).all()) == 2
    finally:
        context.close()


def add_notes(case: Case, org: OrgKeyPair, author: User, bodies: Any) -> None:
    """Internal notes on ``case``, sealed to the organisation key as case-view.js seals them."""
    for body in bodies:
        db.session.add(
            CaseMessage(
                case_id=case.id,
                kind=MessageKind.INTERNAL_NOTE,
                sealed_body=crypto.seal_answers({"body": body}, org.public),
                org_key_id=org.key.id,
                author_id=author.id,
            )
        )
    db.session.commit()


def phone_case_page(
    browser: Any, app: Flask, live_server: Any, user: User, org: OrgKeyPair, path: str
) -> Any:
    """``path`` at 390 px for ``user``, with the organisation key unlocked, once decrypted."""
    context = signed_in_context(
        browser, app, live_server.url, user, locale="en-GB", viewport={"width": 390, "height": 844}
    )
    context.add_init_script(STUB_KEYRING % (crypto.b64(org.secret), org.key.id))
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}{path}")
    wait_decrypted(page)
    return page


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_a_long_note_is_folded_to_its_start_with_a_button_to_read_it_all(
    app: Flask, live_server: Any, browser: Any, locale: str
) -> None:
    """Two 20,000-character notes made the case page 30,540 px tall at 390 px, the reply box
    at its very end (a review in Chromium): a long message is folded, and opens whole."""
    org = make_org_key()
    case = make_case(org, {"what_happened": "x"})
    user = give_key(make_user(Role.CASEWORKER), org)
    long_note = "\n".join(f"{CANARY} line {n}: called the family, no news yet." for n in range(400))
    add_notes(case, org, user, (long_note, long_note, "A short note."))
    page = phone_case_page(browser, app, live_server, user, org, f"/cases/{case.ref}?lang={locale}")
    try:
        toggles = page.locator(".message-toggle")
        assert toggles.count() == 2  # the short note is shown as it is
        words = {"en": ("Show the whole message", "Show less"), "zh_Hant": ("顯示完整訊息", "收合")}
        assert toggles.first.inner_text() == words[locale][0]
        assert page.evaluate("document.documentElement.scrollHeight") < 6000
        first = page.locator(".message-text").filter(has_text="line 0:").first
        folded = first.bounding_box()
        assert folded is not None
        assert folded["height"] < 400
        assert first.evaluate("el => el.textContent.length") == len(long_note)  # all there
        toggles.first.click()
        assert toggles.first.get_attribute("aria-expanded") == "true"
        assert toggles.first.inner_text() == words[locale][1]
        opened = first.bounding_box()
        assert opened is not None
        assert opened["height"] > 4 * folded["height"]
    finally:
        page.context.close()


@pytest.mark.parametrize("earlier_notes", [0, 4])
def test_a_saved_note_opens_the_page_at_it_with_its_message_beside_it(
    app: Flask, live_server: Any, browser: Any, earlier_notes: int
) -> None:
    """On a phone the case page reloaded at its top after Save: the note and "Note saved"
    were three screens above where the caseworker was writing, out of sight. With the long
    request just above it, decrypting the request slid the page back up to it."""
    org = make_org_key()
    case = make_case(org, {"what_happened": "Taken from the office at night. " * 40})
    user = give_key(make_user(Role.CASEWORKER), org)
    add_notes(case, org, user, [f"Earlier note {n}." for n in range(earlier_notes)])
    page = phone_case_page(browser, app, live_server, user, org, f"/cases/{case.ref}")
    try:
        for note in ("Called the family: no news yet.", "Lawyer reached at last."):
            page.fill("#note-text", note)
            with page.expect_navigation():
                page.click("#note-form button[type=submit]")
            wait_decrypted(page)
            page.wait_for_selector("[data-saved-place] .flash-success")
            page.wait_for_timeout(300)  # the request's answers drawn above
            assert page.locator("main > .flashes").count() == 0  # moved, not shown twice
            assert in_view(page, "[data-saved-place] .flash-success"), page.evaluate("scrollY")
            # The note, just above its message.
            assert in_view(page, f".message-text:text-is('{note}')"), page.evaluate("scrollY")
            assert page.evaluate("window.scrollY") > 1000
            assert page.evaluate("document.activeElement.className") == "flashes"
        # Opened again by hand, the page starts at its top as any page does.
        page.goto(f"{live_server.url}/cases/{case.ref}")
        wait_decrypted(page)
        assert page.evaluate("window.scrollY") == 0
    finally:
        page.context.close()
