"""Words a reviewer found wrong on the public pages: French punctuation before a colon, the
Simplified Chinese form's mainland terms and its step buttons (which the staff lists' "Next"
page link overrode in the merged catalogue), the women human rights defenders' profile read as
any defender, and the places of urgent-help contacts left in English."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.models import SharedStatus
from intake.services.directory import import_shipped
from tests.builders import make_org_key
from tests.public.conftest import csrf_token
from tests.public.test_status import submit


def status_heading(client: FlaskClient, locale: str) -> str:
    submission = submit(make_org_key())
    submission.case.shared_status = SharedStatus.RECEIVED
    token = csrf_token(client, f"/status?lang={locale}")
    page = client.post(
        f"/status?lang={locale}", data={"csrf_token": token, "code": submission.receipt_code}
    ).text
    heading = re.search(r'<h2 id="status-title">(.*?)</h2>', page, re.S)
    assert heading, "no status heading"
    return re.sub(r"<[^>]+>", "", heading.group(1))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr", "État\u00a0: Reçue"),  # French: a no-break space before the colon
        ("zh_Hans", "状态：已收到"),  # Chinese: a full-width colon, no space
        ("en", "Status: Received"),
    ],
)
def test_the_status_heading_punctuates_as_its_language_does(
    roomy_app: Flask, locale: str, expected: str
) -> None:
    assert status_heading(roomy_app.test_client(), locale) == expected


def step_buttons(page: str) -> tuple[str, str]:
    back = re.search(r'id="step-back"[^>]*>([^<]*)<', page)
    forward = re.search(r'id="step-next"[^>]*>([^<]*)<', page)
    assert back
    assert forward
    return back.group(1), forward.group(1)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_Hans", ("上一步", "下一步")),
        ("zh_Hant", ("上一步", "下一步")),
        ("en", ("Back", "Next")),
    ],
)
def test_the_form_steps_say_previous_and_next_step_not_page(
    client: FlaskClient, locale: str, expected: tuple[str, str]
) -> None:
    make_org_key()
    assert step_buttons(client.get(f"/request?lang={locale}").text) == expected


def test_the_simplified_form_uses_mainland_terms(client: FlaskClient) -> None:
    make_org_key()
    page = client.get("/request?lang=zh_Hans").text
    for regional in ("栏位", "欄位", "电邮", "下一页"):
        assert regional not in page, regional
    assert "这些字段留空" in page
    assert 'data-kind-email="电子邮件"' in page


@pytest.mark.parametrize(
    ("locale", "label"),
    [
        ("es", "Mujer defensora de derechos humanos"),
        ("fr", "Femme défenseure des droits humains"),
        ("ru", "Женщина-правозащитница"),
        ("ar", "امرأة مدافعة عن حقوق الإنسان"),
    ],
)
def test_the_women_defenders_profile_says_woman_not_just_a_feminine_defender(
    client: FlaskClient, locale: str, label: str
) -> None:
    make_org_key()
    assert label in client.get(f"/request?lang={locale}").text


def test_urgent_help_places_are_in_the_readers_language(app: Flask) -> None:
    make_org_key()
    import_shipped()
    client = app.test_client()
    query = {"urgency": "immediate", "threats": ["detention"], "country": "MX", "lang": "es"}
    channels = client.get("/request/urgent-help", query_string=query).get_json()["channels"]
    places = {
        contact["place"]
        for channel in channels
        if channel["id"] == "frontline-defenders"
        for contact in channel["contacts"]
    }
    assert {"Dublín", "Bruselas"} <= places
    assert not {"Dublin", "Brussels"} & places
