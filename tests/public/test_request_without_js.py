"""The intake form with JavaScript off: the server seals before storing; errors keep the input."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, Case, CaseAttachment, SealedBy
from intake.services import submissions
from intake.services.audit import verify_chain
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    CANARY,
    FREE_TEXT_FIELDS,
    PHOTO_BYTES,
    PHOTO_NAME,
    asks_for_files_again,
    canary_for,
    canary_needles,
    csrf_token,
    database_text,
    files_containing,
    full_answers,
    routing_form,
)
from tests.sealed import open_file


def _post(client: Any, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post("/request", data=data, content_type="multipart/form-data", **kwargs)


def _form(token: str, with_photo: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": token, **full_answers(), **routing_form()}
    if with_photo:
        data["attachments"] = [(io.BytesIO(PHOTO_BYTES), PHOTO_NAME, "image/png")]
    return data


def _nothing_stored() -> None:
    db.session.rollback()
    assert table_count("cases") == 0
    assert table_count("case_attachments") == 0
    assert table_count("audit_events") == 0


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_js_submission_is_sealed_before_storage_and_opens_with_the_org_secret(
    backend: str, make_app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app: Flask = make_app(backend)
    with app.app_context():
        org = make_org_key()
        client = app.test_client()
        token = csrf_token(client, "/request?lang=zh_Hant")
        response = _post(client, _form(token), follow_redirects=True)
        assert response.status_code == 200, response.text
        code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', response.text)
        assert code, "the receipt page shows the code"
        assert "您的請求已收到" in response.text or "請求" in response.text  # zh_Hant page

        db.session.expire_all()
        case = db.session.scalars(sa.select(Case)).one()
        assert case.sealed_by is SealedBy.SERVER
        assert case.locale == "zh_Hant"
        assert case.threats == ["detention", "reprisal"]
        assert case.country == "TW"
        assert case.languages == ["zh", "en"]
        assert case.consent_given is True
        assert case.ref.startswith("RF-")
        assert len(case.ref) == 11
        # Found by the code the submitter was shown; the code itself is nowhere.
        found = submissions.find_case_by_receipt(code.group(1))
        assert found is not None
        assert found.id == case.id
        assert code.group(1).replace("-", "") not in database_text(app)

        answers = crypto.open_answers(case.sealed_answers, org.secret)
        assert answers == full_answers()
        (attachment,) = case.attachments
        photo = open_file(attachment.sealed_content, org.secret)
        assert (photo.name, photo.content_type) == (PHOTO_NAME, "image/png")
        assert photo.data == PHOTO_BYTES

        assert CANARY not in database_text(app)
        assert files_containing(tmp_path, canary_needles()) == []
        assert CANARY not in caplog.text
        assert "QZXcanary" not in caplog.text
        assert verify_chain().ok


def test_missing_answers_are_shown_beside_each_field_with_the_input_kept(
    app: Flask, client: Any
) -> None:
    make_org_key()
    token = csrf_token(client)
    data = _form(token, with_photo=True)
    for name in ("what_happened", "urgency", "consent", "referral_consent"):
        data.pop(name)
    response = _post(client, data)
    assert response.status_code == 422
    page = response.text
    # An error summary at the top, linking to each field.
    start = page.index('id="error-summary"')
    summary = page[start : page.index("</ul>", start)]
    for anchor in ("#what_happened", "#urgency-0", "#consent-0", "#referral_consent-0"):
        assert f'href="{anchor}"' in summary
    assert 'aria-invalid="true"' in page
    # What they wrote is still there, and they are asked to attach files again.
    for name in FREE_TEXT_FIELDS:
        if name != "what_happened":
            assert canary_for(name) in page
    assert asks_for_files_again(page)
    # Its step unfolded, to be seen beside the field.
    assert re.search(
        r'<details class="optional-step" data-fold open>\s*<summary><h2 id="step-4-title"', page
    )
    _nothing_stored()


def test_the_error_summary_lists_the_problems_in_the_order_the_page_asks(
    app: Flask, client: Any
) -> None:
    make_org_key()
    data = _form(csrf_token(client), with_photo=False)
    for name in ("what_happened", "urgency", "consent", "referral_consent"):
        data.pop(name)
    data.update(sender_name="x" * 5000, victim_age="y" * 5000, country="XX", languages=["xx"])
    page = _post(client, data).text
    start = page.index('id="error-summary"')
    listed = [
        anchor.split("-")[0]
        for anchor in re.findall(r'href="#([^"]+)"', page[start : page.index("</ul>", start)])
    ]
    form = page[page.index('<form id="intake-form"') :]
    asked = [name for name in re.findall(r'id="(\w+)-field"', form) if name in listed]
    assert len(listed) == 8, listed
    assert listed == asked  # "What happened?" first, as on the page, not in the class's order
    _nothing_stored()


@pytest.mark.parametrize("locale", ["en", "ru", "zh_Hant", "ar"])
def test_the_error_summary_does_not_double_a_questions_punctuation(
    app: Flask, client: Any, locale: str
) -> None:
    make_org_key()
    data = _form(csrf_token(client), with_photo=False)
    for name in ("what_happened", "urgency"):
        data.pop(name)
    data["country"] = "XX"  # a label without a question mark gets its colon
    page = _post(client, data, query_string={"lang": locale}).text
    start = page.index('id="error-summary"')
    summary = page[start : page.index("</ul>", start)]
    assert len(re.findall(r"<li>", summary)) == 3
    for doubled in ("?:", "？：", "？:", "؟:"):
        assert doubled not in summary, locale
    assert summary.count(":") + summary.count("：") >= 1  # "Country:" keeps its colon


def test_an_expired_csrf_token_re_shows_the_form_with_the_text_and_a_fresh_token(
    app: Flask, client: Any
) -> None:
    make_org_key()
    csrf_token(client)
    response = _post(client, _form("expired-or-forged-token"))
    assert response.status_code == 400
    assert canary_for("what_happened") in response.text
    assert "We kept what you wrote" in response.text
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert fresh
    assert fresh.group(1) != "expired-or-forged-token"
    _nothing_stored()
    # The fresh token works.
    assert _post(client, _form(fresh.group(1))).status_code == 303


def test_honeypot_refuses_and_stores_nothing(app: Flask, client: Any) -> None:
    make_org_key()
    data = _form(csrf_token(client))
    data["website"] = "http://spam.example"
    response = _post(client, data)
    assert response.status_code == 422
    assert "Leave this field empty" in response.text
    _nothing_stored()


def test_unknown_language_and_country_codes_are_field_errors(app: Flask, client: Any) -> None:
    make_org_key()
    data = _form(csrf_token(client), with_photo=False)
    data["languages"] = ["zh", "xx"]
    data["languages_other"] = "klingon"
    data["country"] = "ZZ"
    response = _post(client, data)
    assert response.status_code == 422
    assert 'href="#languages-0"' in response.text
    assert 'href="#country"' in response.text
    assert 'href="#languages_other"' in response.text
    _nothing_stored()


def test_unexpected_fields_are_refused(app: Flask, client: Any) -> None:
    make_org_key()
    data = _form(csrf_token(client))
    data["is_admin"] = "1"
    response = _post(client, data)
    assert response.status_code == 400
    assert "Unexpected fields: is_admin" in response.text
    _nothing_stored()


def test_too_many_or_too_large_files_are_field_errors(make_app: Any) -> None:
    app = make_app("sqlite", ATTACHMENT_MAX_BYTES=1000, ATTACHMENT_MAX_COUNT=2)
    with app.app_context():
        make_org_key()
        client = app.test_client()
        data = _form(csrf_token(client), with_photo=False)
        data["attachments"] = [(io.BytesIO(b"x" * 1001), "big.jpg", "image/jpeg")]
        response = _post(client, data)
        assert response.status_code == 422
        assert "“big.jpg” is larger than" in response.text
        data = _form(csrf_token(client), with_photo=False)
        data["attachments"] = [(io.BytesIO(b"x"), f"f{i}.txt", "text/plain") for i in range(3)]
        response = _post(client, data)
        assert response.status_code == 422
        assert "Attach at most 2 files" in response.text
        _nothing_stored()


def test_a_body_over_max_content_length_is_a_clear_413(make_app: Any) -> None:
    app = make_app("sqlite", MAX_CONTENT_LENGTH=50_000)
    with app.app_context():
        make_org_key()
        client = app.test_client()
        data = _form(csrf_token(client), with_photo=False)
        data["attachments"] = [(io.BytesIO(b"x" * 60_000), "huge.bin", "application/pdf")]
        response = _post(client, data)
        assert response.status_code == 413
        assert "can be sent at once" in response.text
        assert "Back button" in response.text
        _nothing_stored()


def test_without_an_org_key_the_form_says_requests_are_not_accepted(
    app: Flask, client: Any
) -> None:
    assert "Not accepting requests yet" in client.get("/request").text
    assert "Not accepting requests yet" in client.get("/").text
    assert client.get("/request/key").status_code == 503
    response = _post(client, {"csrf_token": "x", **full_answers(), **routing_form()})
    assert response.status_code == 503
    _nothing_stored()


def test_landing_page_shows_the_newest_active_key_fingerprint(app: Flask, client: Any) -> None:
    from intake.db import utcnow

    old = make_org_key()
    new = make_org_key()
    assert new.key.fingerprint in client.get("/").text
    new.key.retired_at = utcnow()
    db.session.commit()
    page = client.get("/?lang=zh_Hans").text
    assert old.key.fingerprint in page
    assert new.key.fingerprint not in page
    assert 'lang="zh-Hans"' in page


def test_the_form_is_offered_in_three_languages(app: Flask, client: Any) -> None:
    make_org_key()
    assert "What happened?" in client.get("/request?lang=en").text
    assert "發生了什麼事？" in client.get("/request?lang=zh_Hant").text
    assert "发生了什么事？" in client.get("/request?lang=zh_Hans").text
    fresh = app.test_client()
    assert "發生了什麼事？" in fresh.get("/request", headers={"Accept-Language": "zh-TW"}).text


def test_audit_event_of_a_submission_carries_no_content(app: Flask, client: Any) -> None:
    make_org_key()
    _post(client, _form(csrf_token(client)))
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    # The submission, then the consent records its answers created (issue 12): ids only.
    (event,) = [e for e in events if e.action == "case.submitted"]
    assert event.detail == {"sealed_by": "server", "attachments": 1}
    assert {e.action for e in events} <= {"case.submitted", "consent.recorded"}
    assert not any(CANARY in json.dumps(e.detail, ensure_ascii=False) for e in events)
    assert db.session.scalars(sa.select(CaseAttachment)).one().size > len(PHOTO_BYTES)


def test_a_database_failure_re_shows_the_form_with_the_text(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    make_org_key()

    def database_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(submissions, "create_case", database_down)
    response = _post(client, _form(csrf_token(client)))
    assert response.status_code == 503
    assert canary_for("what_happened") in response.text
    assert "We kept what you wrote" in response.text
    assert CANARY not in caplog.text
    _nothing_stored()


def test_no_js_receipt_follows_post_redirect_get_and_a_reload_files_nothing(
    app: Flask, client: Any
) -> None:
    make_org_key()
    response = _post(client, _form(csrf_token(client), with_photo=False))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/request/receipt")
    assert table_count("cases") == 1

    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', shown.text)
    assert code
    assert submissions.find_case_by_receipt(code.group(1)) is not None

    reloaded = client.get(response.headers["Location"])
    assert reloaded.status_code == 200
    assert code.group(1) not in reloaded.text  # shown once: popped from the session
    assert "was not sent again" in reloaded.text
    assert "press “Send securely” again without changing anything" in reloaded.text
    # What the code gives whoever holds it, all of it (it said "our replies" only).
    assert "the messages you send us after this request, and can withdraw your consent" in (
        shown.text
    )
    # On a shared computer, Back put the answers back and the receipt said nothing (a review).
    assert "close this browser window. Its Back button can show your answers again" in shown.text
    db.session.rollback()
    assert table_count("cases") == 1
