"""The referral's note in real Chromium (DESIGN §1.1, §1.3): written and read in the browser.

A caseworker unlocks their key, writes a note with a canary; the request that saves it carries
only ciphertext, the database row too, and after a reload the page shows it decrypted (as text,
never HTML). Locking wipes it. A refused save keeps what they wrote. A viewer reads it without
a form; a note sealed to a key they were not granted is said plainly, never overwritten.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import Referral, Role
from intake.services import referrals
from tests import browser_steps as steps
from tests.builders import DEFAULT_PASSWORD, make_org_key, make_staff_with_keys, make_user
from tests.referrals.conftest import sent_referral

CANARY = "CANARY-b7e2-referral-note"
NOTE = f"{CANARY} 林 call back Monday\nsecond line <img src=x id=injected>"
NOTICE = "[data-note-notice]"


def stored_note(referral_id: int) -> str | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Referral.sealed_note).where(Referral.id == referral_id))


def watch(page: Any) -> tuple[list[tuple[str, str, str]], list[str]]:
    requests: list[tuple[str, str, str]] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return requests, errors


@pytest.mark.browser
def test_caseworker_writes_a_note_that_only_ever_leaves_the_browser_sealed(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    user, _ = make_staff_with_keys(Role.CASEWORKER, org, email="note-writer@example.org")
    referral = sent_referral(org=org)
    path = f"/referrals/{referral.id}"
    requests, errors = watch(page)

    # Signed in, key locked: the page says so and nothing can be written.
    steps.sign_in_as(page, base, user, path)
    page.goto(f"{base}{path}")
    page.wait_for_selector(f"{NOTICE}[data-state=locked]")
    assert page.locator(NOTICE).inner_text() == "Unlock your key to read or write the note."
    assert page.locator("#referral-note-text").is_disabled()
    assert page.locator("[data-note-empty]").is_visible()
    # Its Save button does nothing, and looks it (it was solid blue, like a live one).
    save = page.locator("#referral-note-form button[type=submit]")
    assert save.is_disabled()
    assert float(save.evaluate("b => getComputedStyle(b).opacity")) < 0.7

    # Unlocking in the header enables the form without a reload.
    steps.unlock_in_header(page)
    page.wait_for_selector(f"{NOTICE}[data-state=unlocked]", timeout=30_000)
    assert page.locator("#referral-note-text").is_enabled()
    assert float(save.evaluate("b => getComputedStyle(b).opacity")) == 1
    assert page.get_attribute("#referral-note-text", "name") is None
    page.fill("#referral-note-text", NOTE)
    with page.expect_navigation():
        page.click("#referral-note-form button[type=submit]")
    page.wait_for_selector(f"{NOTICE}[data-state=unlocked]", timeout=30_000)

    # The save: one POST with ciphertext, the key id and the CSRF token, and no canary.
    posts = [(url, data) for method, url, data in requests if method == "POST"]
    note_posts = [data for url, data in posts if url == f"{base}{path}/note"]
    assert len(note_posts) == 1, posts
    assert "sealed_note" in note_posts[0]
    assert "csrf_token" in note_posts[0]
    for method, url, data in requests:
        assert CANARY not in url, url
        assert CANARY not in data, (method, url)
        assert "call back Monday" not in data, (method, url)

    # After the reload: saved, said beside the note (not at the page's top, out of sight),
    # and decrypted in this browser as text, never as markup.
    said = "#referral-note [data-saved-place] .flash-success"
    assert page.inner_text(said) == "Note saved, encrypted to the organisation key."
    assert steps.in_view(page, said)
    shown = page.locator("[data-note-text]")
    assert shown.is_visible()
    assert shown.inner_text() == NOTE
    assert page.locator("#referral-note img, #injected").count() == 0
    assert page.input_value("#referral-note-text") == NOTE  # ready to edit
    assert page.locator("[data-note-empty]").is_hidden()
    assert page.locator(NOTICE).inner_text() == (
        "Your key is unlocked. The note is encrypted in this browser before it is saved."
    )

    steps.assert_accessible(page, "#referral-note")

    # The database holds only the sealed box, which the organisation secret opens.
    sealed = stored_note(referral.id)
    assert sealed is not None
    assert CANARY not in sealed
    assert crypto.open_answers(sealed, org.secret) == {"body": NOTE}
    assert page.get_attribute("#referral-note", "data-sealed-note") == sealed

    # The key rotates while the page is open: the save is refused, what they wrote stays.
    make_org_key()
    page.fill("#referral-note-text", f"{CANARY} edited")
    page.click("#referral-note-form button[type=submit]")
    page.wait_for_selector("[data-note-error]:visible", timeout=30_000)
    assert "not the organisation's current key" in page.inner_text("[data-note-error]")
    assert page.input_value("#referral-note-text") == f"{CANARY} edited"
    assert page.locator("#referral-note-text").is_enabled()
    assert stored_note(referral.id) == sealed
    # The earlier "Note saved" went: left up, it read as if this one was saved too.
    assert page.locator(".flash-success").is_hidden()

    # A note pasted past its 20,000 characters is kept whole (a maxlength cut it without a
    # word): the counter says by how much, and Save refuses it with that one line (the
    # refusal above, about the text before, goes), sending nothing.
    posted = len(requests)
    page.fill("#referral-note-text", "x" * 20_001)
    assert len(page.input_value("#referral-note-text")) == 20_001
    over = "Too long: 20001 of 20000 characters, 1 over the limit. Shorten it and try again."
    assert page.inner_text("#referral-note-text-count") == over
    assert page.locator("[data-note-error]").is_hidden()
    page.click("#referral-note-form button[type=submit]")
    assert page.inner_text("#referral-note-text-count") == over
    assert page.locator("[data-note-error]").is_hidden()
    assert page.evaluate("document.activeElement.id") == "referral-note-text"
    assert [r for r in requests[posted:] if r[0] == "POST"] == []
    assert stored_note(referral.id) == sealed

    # Locking wipes the decrypted note and the text in the box, and (staff.js) the words of the
    # queue's last search this tab kept.
    page.evaluate("sessionStorage.setItem('refuge.queue.search', '{\"q\": \"a name\"}')")
    page.click("[data-lock-button]")
    page.wait_for_selector(f"{NOTICE}[data-state=locked]")
    assert page.input_value("#referral-note-text") == ""
    assert page.locator("#referral-note-text").is_disabled()
    assert CANARY not in page.locator("body").inner_text()
    storage = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert CANARY not in storage
    assert "a name" not in storage
    assert not errors, errors


@pytest.mark.browser
def test_viewer_reads_the_note_and_a_foreign_key_is_said_plainly(
    app: Flask, live_server: Any, page: Any
) -> None:
    base = live_server.url
    org = make_org_key()
    viewer, _ = make_staff_with_keys(Role.VIEWER, org, email="note-viewer@example.org")
    writer = make_user(Role.CASEWORKER)
    referral = sent_referral(org=org)
    referrals.set_note(
        referral.id, crypto.seal_answers({"body": NOTE}, org.public), org.key.id, writer
    )
    requests, errors = watch(page)

    steps.sign_in_as(page, base, viewer, f"/referrals/{referral.id}")
    page.fill("#unlock-password", DEFAULT_PASSWORD)
    page.click("form.unlock-page-form button[type=submit]")
    page.wait_for_url(f"{base}/referrals/{referral.id}")
    page.wait_for_selector(f"{NOTICE}[data-state=unlocked]", timeout=30_000)
    assert page.locator("[data-note-text]").inner_text() == NOTE
    # Written text: its own direction, isolated from the page (refuge.css on dir="auto").
    assert page.locator("[data-note-text]").evaluate(
        "node => [node.getAttribute('dir'), getComputedStyle(node).unicodeBidi]"
    ) == ["auto", "plaintext"]
    assert page.locator("#referral-note form, #referral-note textarea").count() == 0
    assert page.locator(NOTICE).inner_text() == "Decrypted in this browser."

    # A note sealed to a key this viewer holds no grant for: said, and nothing shown.
    other = make_org_key()
    foreign = sent_referral(org=other, entry_id="other-ngo")
    referrals.set_note(
        foreign.id, crypto.seal_answers({"body": NOTE}, other.public), other.key.id, writer
    )
    page.goto(f"{base}/referrals/{foreign.id}")
    page.wait_for_selector(f"{NOTICE}[data-state=error]", timeout=30_000)
    assert "cannot open this note" in page.locator(NOTICE).inner_text()
    assert page.locator("[data-note-text]").is_hidden()
    assert CANARY not in page.locator("body").inner_text()
    assert not [d for m, u, d in requests if m == "POST" and CANARY in d]
    assert not errors, errors
