"""Public pages in every public language (DESIGN §7): every message a public page looks up has
a translation, Arabic is right to left, the switch names each language in itself, the browser's
regional tags find their language, and WTForms' own messages follow the page's language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.i18n import LANGUAGE_NAMES
from intake.models import Urgency
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import make_org_key
from tests.conftest import Untranslated
from tests.public.conftest import csrf_token, full_answers, routing_form

PUBLIC = ("en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar")
TRANSLATED = tuple(locale for locale in PUBLIC if locale != "en")


def public_pages(client: FlaskClient, locale: str, receipt_code: str) -> Iterator[tuple[str, str]]:
    """(what, HTML) of each public page in ``locale``: landing, form (empty and with errors),
    receipt, /status (empty, wrong code, a case's status, withdrawing a consent and after)
    and an error page."""
    query = f"?lang={locale}"
    yield "landing", client.get(f"/{query}").text
    yield "form", client.get(f"/request{query}").text
    token = csrf_token(client, f"/request{query}")
    invalid = {"csrf_token": token, "what_happened": "", "urgency": "", "country": "XX"}
    yield "form with errors", client.post(f"/request{query}", data=invalid).text
    sent = {"csrf_token": token, **full_answers(), **routing_form()}
    response = client.post(f"/request{query}", data=sent, follow_redirects=True)
    assert response.status_code == 200, response.text[:500]
    yield "receipt", response.text
    yield "status", client.get(f"/status{query}").text
    wrong = {"csrf_token": token, "code": "AAAA-BBBB-CCCC-DDDD-EEEE"}
    yield "status, wrong code", client.post(f"/status{query}", data=wrong).text
    right = {"csrf_token": token, "code": receipt_code}
    status = client.post(f"/status{query}", data=right).text
    yield "status of a case", status
    record = re.search(r'data-consent-record="(\d+)"', status)
    assert record, "the case's consents are listed"
    withdraw = {**right, "record_id": record.group(1)}
    yield "withdrawing, asked", client.post(f"/status/consent/withdraw{query}", data=withdraw).text
    withdrawn = {**withdraw, "confirmed": "yes"}
    page = client.post(f"/status/consent/withdraw{query}", data=withdrawn).text
    assert "data-withdrawn" in page
    yield "status, a consent withdrawn", page
    yield "not found", client.get(f"/no-such-page{query}").text


@pytest.fixture
def receipt_code(app: Flask) -> str:
    org = make_org_key()
    submission = submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, consent_given=True),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="es",
    )
    return submission.receipt_code


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_public_page_has_every_message_translated(
    app: Flask, client: FlaskClient, untranslated: Untranslated, receipt_code: str, locale: str
) -> None:
    for what, html in public_pages(client, locale, receipt_code):
        assert f'lang="{locale.replace("_", "-")}"' in html, what
        assert not untranslated.messages, f"{what} in {locale}: {sorted(untranslated.messages)}"


def test_the_untranslated_check_can_fail(
    app: Flask, client: FlaskClient, untranslated: Untranslated
) -> None:
    """A message no catalogue has is reported (the check above is not vacuous)."""
    client.get("/?lang=es")
    with app.test_request_context("/?lang=es"):
        from flask_babel import gettext as _

        assert _("A sentence no catalogue has.") == "A sentence no catalogue has."
    assert "A sentence no catalogue has." in untranslated.messages


@pytest.mark.parametrize("locale", PUBLIC)
def test_every_public_page_shows_the_switch_with_each_language_in_its_own_name(
    app: Flask, client: FlaskClient, receipt_code: str, locale: str
) -> None:
    for what, html in public_pages(client, locale, receipt_code):
        switch = html.split('class="language-switch"', 1)[1].split("</nav>", 1)[0]
        for code, name in LANGUAGE_NAMES.items():
            assert name in switch, f"{name} missing from the switch on {what} in {locale}"
            if code != locale:
                assert f"lang={code}" in switch, what


def test_arabic_pages_are_right_to_left_and_the_others_left_to_right(client: FlaskClient) -> None:
    assert '<html lang="ar" dir="rtl"' in client.get("/?lang=ar").text
    assert '<html lang="ar" dir="rtl"' in client.get("/request?lang=ar").text
    assert '<html lang="es" dir="ltr"' in client.get("/?lang=es").text
    assert '<html lang="zh-Hant" dir="ltr"' in client.get("/?lang=zh_Hant").text


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("es-MX,es;q=0.9", "es"),
        ("fr-CA", "fr"),
        ("ar-SD,ar;q=0.8,en;q=0.5", "ar"),
        ("ru-BY,be;q=0.9", "ru"),
        ("be-BY,ru;q=0.7", "ru"),  # Belarusian is not offered: the next language is
        ("zh-Hant-HK", "zh_Hant"),
        ("zh-CN", "zh_Hans"),
        ("de-DE", "en"),
    ],
)
def test_the_browser_language_chooses_a_public_language(
    client: FlaskClient, accept: str, expected: str
) -> None:
    html = client.get("/", headers={"Accept-Language": accept}).text
    assert f'<html lang="{expected.replace("_", "-")}"' in html


def test_a_staff_page_asked_for_a_public_only_language_falls_back(client: FlaskClient) -> None:
    # Chosen on a public page: the public pages stay in Arabic, the sign-in page cannot.
    assert 'lang="ar"' in client.get("/?lang=ar").text
    login = client.get("/login?lang=ar", headers={"Accept-Language": "ar,zh-TW;q=0.8"}).text
    assert '<html lang="zh-Hant" dir="ltr"' in login
    assert "登入" in login
    assert 'lang="ar"' in client.get("/status").text  # the public choice is kept
    login = client.get("/login?lang=fr").text
    assert '<html lang="en" dir="ltr"' in login
    switch = login.split('class="language-switch"', 1)[1].split("</nav>", 1)[0]
    assert "简体中文" in switch
    assert "العربية" not in switch


def test_wtforms_messages_follow_the_page_language(app: Flask, client: FlaskClient) -> None:
    make_org_key()
    token = csrf_token(client, "/request?lang=es")
    data: dict[str, Any] = {
        "csrf_token": token,
        **full_answers(),
        **routing_form(),
        "what_happened": "",  # required (our own message)
        "sender_name": "x" * 400,  # longer than 300 (our own message, with the counts)
        "sender_role": "not-a-role",  # not one of the choices (WTForms' RadioField)
    }
    html = client.post("/request?lang=es", data=data, content_type="multipart/form-data").text
    messages = " ".join(re.findall(r'class="field-error"[^>]*>(.*?)</p>', html, re.S))
    assert "acorte esta respuesta a 300 caracteres o menos (ahora tiene 400)" in messages
    assert "Opción inválida." in messages
    assert "Field cannot be longer" not in html
    assert "Not a valid choice" not in html


@pytest.mark.parametrize(
    ("locale", "hint"),
    [
        ("en", "Writing only about yourself? Answer “Yes”."),
        ("zh_Hant", "只寫您自己的事？請回答「是」。"),
    ],
)
def test_the_consent_question_says_what_to_answer_about_oneself(
    client: FlaskClient, locale: str, hint: str
) -> None:
    """ "Did the people named agree?" had no answer that fitted someone writing about
    themselves alone (a review): the question says which one does."""
    make_org_key()
    page = client.get(f"/request?lang={locale}").get_data(as_text=True)
    found = re.search(r'<p class="hint" id="consent-hint">([^<]*)</p>', page)
    assert found, page
    assert found.group(1) == hint
