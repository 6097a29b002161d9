"""Changing the language of the request form never loses what was typed.

Without JavaScript the language links of the form post it (``?change_language=1``) and the
server shows it again in that language, filled in: nothing is checked, stored, logged or
counted against the submission limit. With JavaScript they stay links (the tab keeps the
answers) and nothing is posted."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from config.settings import TYPED_FIELD_MAX_BYTES
from intake import crypto
from intake.extensions import db
from intake.models import OrgKey
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    CANARY,
    asks_for_files_again,
    canary_for,
    full_answers,
    routing_form,
)

SWITCH = "/request?lang=es&change_language=1"


def _post(client: Any, data: dict[str, Any], path: str = SWITCH) -> Any:
    return client.post(path, data=data, content_type="multipart/form-data")


def _nothing_stored() -> None:
    for table in ("cases", "case_attachments", "audit_events", "consent_records"):
        assert table_count(table) == 0, table


def test_the_form_comes_back_in_the_new_language_with_everything_typed(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_org_key()
    client = app.test_client()
    response = _post(client, {**full_answers(), **routing_form()})
    assert response.status_code == 200
    assert '<html lang="es"' in response.text
    assert "Pedir ayuda" in response.text  # the Spanish title
    # Every answer is back where it was typed (escaped, as any value on the page).
    assert f"\n{canary_for('what_happened')}</textarea>" in response.text
    assert re.search(r'value="immediate"[^>]*checked|checked[^>]*value="immediate"', response.text)
    assert re.search(r'value="TW"[^>]*selected|selected[^>]*value="TW"', response.text)
    # Nothing was checked (no field marked wrong), stored or written to the log.
    assert 'aria-invalid="true"' not in response.text
    _nothing_stored()
    assert CANARY not in caplog.text
    # The next language change, and the form's own action, keep the new language.
    assert 'action="/request?lang=es"' in response.text
    assert "change_language=1" in response.text


def test_changing_language_does_not_count_against_the_submission_limit(
    make_app: Any,
) -> None:
    app = make_app("sqlite", REQUEST_RATE_LIMIT="1 per hour")
    with app.app_context():
        make_org_key()
        client = app.test_client()
        for language in ("es", "fr", "ar", "en"):
            changed = _post(
                client, full_answers(), path=f"/request?lang={language}&change_language=1"
            )
            assert changed.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', changed.text)
        assert token
        sent = _post(
            client,
            {"csrf_token": token.group(1), **full_answers(), **routing_form()},
            path="/request?lang=en",
        )
        assert sent.status_code == 303, sent.text  # the one allowed submission still goes
        assert table_count("cases") == 1


def test_files_cannot_come_back_so_the_page_says_to_attach_them_again(app: Flask) -> None:
    make_org_key()
    response = _post(
        app.test_client(),
        {
            **full_answers(),
            "attachments": [(io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf", "application/pdf")],
        },
        path="/request?lang=en&change_language=1",
    )
    assert response.status_code == 200
    assert asks_for_files_again(response.text)
    assert f"\n{canary_for('what_happened')}</textarea>" in response.text
    _nothing_stored()


def test_a_sealed_post_is_shown_as_an_empty_form_and_stores_nothing(app: Flask) -> None:
    org = make_org_key()
    response = _post(
        app.test_client(),
        {"sealed_answers": "A" * 200, "org_key_id": str(org.key.id), **routing_form()},
    )
    assert response.status_code == 200
    assert "Pedir ayuda" in response.text
    assert "AAAAAAAAAA" not in response.text
    _nothing_stored()


def test_a_body_over_the_limit_is_refused_clearly(make_app: Any) -> None:
    app = make_app("sqlite", MAX_CONTENT_LENGTH=4096)
    with app.app_context():
        make_org_key()
        response = _post(app.test_client(), {"what_happened": "x" * 10_000})
        assert response.status_code == 413
        _nothing_stored()


def test_text_fields_have_room_for_a_pasted_document_not_for_the_whole_request(
    app: Flask,
) -> None:
    """A text field could be as large as the whole request (77 MB, the five files' room): a
    language change parsed a 70 MB answer and echoed it back escaped, 175 MB and 4 s of CPU
    per post, from anyone (a security review). A field has 2 MiB (files are parts of their
    own), all typed fields together twice that; a paste of 600 KB still comes back."""
    assert app.config["MAX_FORM_MEMORY_SIZE"] == TYPED_FIELD_MAX_BYTES
    assert app.config["MAX_CONTENT_LENGTH"] > 20 * TYPED_FIELD_MAX_BYTES
    make_org_key()
    client = app.test_client()
    pasted = "x" * 600_000
    response = _post(client, {**full_answers(), **routing_form(), "what_happened": pasted})
    assert response.status_code == 200
    assert pasted in response.text
    for over in (
        {"what_happened": "<" * (TYPED_FIELD_MAX_BYTES + 1)},  # one field over its room
        {  # each within it, together over twice that
            "what_happened": "<" * (TYPED_FIELD_MAX_BYTES - 10),
            "perpetrators": "<" * (TYPED_FIELD_MAX_BYTES - 10),
            "support_needed": "<" * (TYPED_FIELD_MAX_BYTES - 10),
        },
    ):
        response = _post(client, {**routing_form(), **over})
        assert response.status_code == 413
        assert len(response.data) < 100_000  # said in a page, not echoed
        assert "&lt;&lt;&lt;" not in response.text
    _nothing_stored()


def test_no_form_is_shown_again_to_a_key_that_does_not_match_its_pin(app: Flask) -> None:
    org = make_org_key()
    public, _secret = crypto.generate_keypair()  # an insider swaps the key in the database
    db.session.execute(
        sa.update(OrgKey)
        .where(OrgKey.id == org.key.id)
        .values(public_key=public, fingerprint=crypto.fingerprint(public))
    )
    db.session.commit()
    response = _post(app.test_client(), full_answers(), path="/request?lang=en&change_language=1")
    assert response.status_code == 503
    assert "could not be verified" in response.text
    assert public not in response.text
    _nothing_stored()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["what_happened", "urgency", "threats", "country", "languages", "consent",
             "website", "csrf_token", "org_key_id", "sealed_answers", "other"]
        ),
        st.one_of(st.text(max_size=300), st.lists(st.text(max_size=40), max_size=4)),
        max_size=8,
    ),
    language=st.one_of(st.sampled_from(["es", "ar", "zh_Hant", "xx", ""]), st.text(max_size=12)),
)  # fmt: skip
@example(fields={"what_happened": "</textarea><script>alert(1)</script>"}, language="es")
def test_hostile_input_is_shown_back_escaped_and_never_stored(
    app: Flask, fields: dict[str, Any], language: str
) -> None:
    if table_count("org_keys") == 0:  # (one app for every example)
        make_org_key()
    response = app.test_client().post(
        "/request", query_string={"lang": language, "change_language": "1"}, data=fields
    )
    texts = [
        language,
        *(v for value in fields.values() for v in ([value] if isinstance(value, str) else value)),
    ]
    if any("\x00" in text for text in texts):
        assert response.status_code == 400  # no text has a use for NUL (web.refuse_nul_bytes)
    else:
        assert response.status_code == 200, re.sub(
            r"\s+", " ", re.sub("<[^>]+>", " ", response.text)
        )[-400:]
    assert "<script>alert(1)" not in response.text  # shown back escaped, never as markup
    _nothing_stored()


def test_the_language_entries_of_the_form_post_it_and_other_pages_keep_links(app: Flask) -> None:
    client = app.test_client()
    # No key yet: the form is not shown, so the languages are plain links.
    closed = client.get("/request?lang=en")
    assert "change_language=1" not in closed.text
    make_org_key()
    page = client.get("/request?lang=en").text
    buttons = re.findall(
        r'<button type="submit" class="link-button" form="intake-form"[^>]*>', page
    )
    assert len(buttons) == 6  # every other public language
    assert all("formnovalidate" in button and "data-language-url" in button for button in buttons)
    landing = client.get("/?lang=en").text
    assert "change_language=1" not in landing


@pytest.mark.browser
def test_without_javascript_a_language_change_keeps_the_text(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/request?lang=en")
        page.fill("#what_happened", "They took my phone at the border " + CANARY)
        page.check("input[name=urgency][value=days]")
        page.click(".language-switch button[lang=es]")
        page.wait_for_url("**/request?lang=es&change_language=1")
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.input_value("#what_happened") == "They took my phone at the border " + CANARY
        assert page.is_checked("input[name=urgency][value=days]")
        # And then it is sent from the page in the new language.
        _nothing_stored()
        page.click(".language-switch button[lang=fr]")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.input_value("#what_happened").endswith(CANARY)
    finally:
        context.close()


@pytest.mark.browser
def test_with_javascript_a_language_change_posts_nothing_and_the_tab_keeps_the_text(
    app: Flask, live_server: Any, browser: Any
) -> None:
    make_org_key()
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        posts: list[str] = []
        page.on(
            "request",
            lambda request: posts.append(request.url) if request.method == "POST" else None,
        )
        page.goto(f"{live_server.url}/request?lang=en")
        page.fill("#what_happened", "They took my phone at the border " + CANARY)
        page.click(".language-switch button[lang=es]")
        page.wait_for_url("**/request?lang=es")
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.input_value("#what_happened") == "They took my phone at the border " + CANARY
        assert posts == []  # the plaintext never left the browser
        _nothing_stored()
    finally:
        context.close()
