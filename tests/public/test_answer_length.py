"""How long a free-text answer may be, checked by the server (the no-JavaScript request and the
follow-up): a line break is one character however the browser posts it (CRLF, CR), an answer
over the limit is refused beside the field in the page's language, with both counts, and the
text is kept whole; nothing is cut and nothing too long is stored."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import Case, CaseMessage, MessageKind, Urgency
from intake.public.forms import LONG_MAX, SHORT_MAX
from intake.services import submissions
from intake.services.triage import Routing
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import csrf_token, full_answers, routing_form
from tests.sealed import open_message

# What the page says about an answer of 8001 characters, in each public language: shorten it,
# then where the rest can go (an account cut with no word on that left out what matters).
TOO_LONG = {
    "en": "Please shorten this answer to 8000 characters or fewer (it has 8001).",
    "zh_Hant": "請將這個回答縮短到 8000 個字元以內（現在有 8001 個）。",
    "zh_Hans": "请将这个回答缩短到 8000 个字符以内（现在有 8001 个）。",
    "es": "Por favor, acorte esta respuesta a 8000 caracteres o menos (ahora tiene 8001).",
    "fr": "Veuillez raccourcir cette réponse à 8000 caractères au plus (elle en compte 8001).",
    "ru": "Пожалуйста, сократите этот ответ до 8000 символов или меньше (сейчас в нём 8001).",
    "ar": "يرجى اختصار هذه الإجابة إلى 8000 حرف أو أقل (عدد أحرفها الآن 8001).",
}
REST_LATER = {
    "en": "You can send the rest after you send your request: from the status page, with your "
    "receipt code, as a message or a file.",
    "zh_Hant": "其餘的內容可以在送出請求後，憑您的收據代碼在狀態頁面以訊息或檔案送出。",
    "zh_Hans": "其余的内容可以在发送请求后，凭您的收据代码在状态页面以消息或文件发送。",
    "es": "Puede enviar el resto después de enviar su solicitud: desde la página de estado, con "
    "su código de recibo, como mensaje o como archivo.",
    "fr": "Vous pourrez envoyer la suite après l’envoi de votre demande\u00a0: depuis la page de "
    "suivi, avec votre code de reçu, en message ou en fichier.",
    "ru": "Остальное можно отправить после отправки обращения: со страницы статуса, по коду "
    "квитанции, сообщением или файлом.",
    "ar": "يمكنك إرسال الباقي بعد إرسال طلبك: من صفحة الحالة، باستخدام رمز الإيصال، كرسالة أو "
    "كملف.",
}
# Chinese sentences follow one another without a space (intake.i18n.sentences).
LONG_TOO_LONG = {
    lang: f"{said}{'' if lang.startswith('zh') else ' '}{REST_LATER[lang]}"
    for lang, said in TOO_LONG.items()
}
# And about a follow-up message of 8001: a message, not an answer.
MESSAGE_TOO_LONG = {
    "en": "Please shorten your message to 8000 characters or fewer (it has 8001).",
    "zh_Hant": "請將您的訊息縮短到 8000 個字元以內（現在有 8001 個）。",
    "ar": "يرجى اختصار رسالتك إلى 8000 حرف أو أقل (عدد أحرفها الآن 8001).",
}


def story(length: int, line_break: str = "\r\n", every: int = 80) -> str:
    """``length`` characters, a line break (one character) in every ``every``, as posted with
    ``line_break``: what a person typed in a textarea, as the browser sends it."""
    lines, left = [], length
    while left > 0:
        line = min(every - 1, left)
        lines.append("é" * line)  # not ASCII: characters, not bytes, are counted
        left -= line
        if left > 0:
            lines.append(line_break)
            left -= 1
    return "".join(lines)


def _request(client: Any, lang: str = "en", **answers: str) -> Any:
    token = csrf_token(client, f"/request?lang={lang}")
    data = {"csrf_token": token, **full_answers(), **routing_form(), **answers}
    return client.post(f"/request?lang={lang}", data=data, content_type="multipart/form-data")


def _sealed_answers(app: Flask, org: Any) -> dict[str, str]:
    db.session.expire_all()
    case = db.session.scalars(sa.select(Case)).one()
    return crypto.open_answers(case.sealed_answers, org.secret)


def _box(page: str, name: str) -> str:
    """What a textarea holds on the page (the template puts a line break before it)."""
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error"[^>]*>(.*?)</p>', page, re.S)
    assert found, f"no error line for {name}"
    return html.unescape(found.group(1)).strip()


def test_exactly_the_limit_with_crlf_line_breaks_is_accepted_and_stored_with_lf(
    any_app: Flask,
) -> None:
    org = make_org_key()
    posted = story(LONG_MAX)
    assert len(posted) > LONG_MAX  # as the browser sends it: each line break two characters
    response = _request(any_app.test_client(), what_happened=posted)
    assert response.status_code == 303, response.text
    stored = _sealed_answers(any_app, org)["what_happened"]
    assert stored == posted.replace("\r\n", "\n")
    assert len(stored) == LONG_MAX


def test_line_breaks_posted_as_crlf_cr_or_lf_are_each_one_lf(any_app: Flask) -> None:
    org = make_org_key()
    mixed = "one\r\ntwo\rthree\nfour\r\r\nfive\n\rsix\r"
    response = _request(any_app.test_client(), what_happened=mixed, context=mixed)
    assert response.status_code == 303, response.text
    answers = _sealed_answers(any_app, org)
    for name in ("what_happened", "context"):
        assert answers[name] == "one\ntwo\nthree\nfour\n\nfive\n\nsix\n"


@pytest.mark.parametrize("lang", list(TOO_LONG))
def test_one_character_over_is_refused_beside_the_field_in_the_page_language(
    any_app: Flask, lang: str
) -> None:
    make_org_key()
    posted = story(LONG_MAX + 1, line_break="\r")
    response = _request(any_app.test_client(), lang, what_happened=posted)
    assert response.status_code == 422
    page = response.text
    assert _field_error(page, "what_happened") == LONG_TOO_LONG[lang]
    start = page.index('id="error-summary"')
    summary = page[start : page.index("</ul>", start)]
    assert LONG_TOO_LONG[lang] in html.unescape(summary)
    assert 'href="#what_happened"' in summary
    assert "Field cannot be longer" not in page
    # Kept whole (as the server reads it, each line break one LF), and never cut by the browser.
    assert _box(page, "what_happened") == posted.replace("\r", "\n")
    assert "maxlength" not in page.split('id="intake-form"', 1)[1]
    db.session.rollback()
    assert table_count("cases") == 0


@pytest.mark.parametrize(
    "posted",
    [
        pytest.param("x" * 400_000, id="fifty times the limit"),
        pytest.param("x" * 600_000, id="over Werkzeug's 500 KB default for a field"),
        pytest.param(" " * (LONG_MAX + 1), id="nothing but spaces"),
        pytest.param("\r\n" * (LONG_MAX + 1), id="nothing but line breaks"),
    ],
)
def test_hostile_long_answers_are_refused_with_the_count_and_nothing_stored(
    any_app: Flask, posted: str
) -> None:
    make_org_key()
    response = _request(any_app.test_client(), "ar", context=posted)
    assert response.status_code == 422
    count = len(posted.replace("\r\n", "\n"))
    assert _field_error(response.text, "context") == (
        f"يرجى اختصار هذه الإجابة إلى 8000 حرف أو أقل (عدد أحرفها الآن {count}). "
        + REST_LATER["ar"]
    )
    assert len(_box(response.text, "context")) == count
    db.session.rollback()
    assert table_count("cases") == 0


def test_a_short_answer_over_its_limit_says_its_own_limit_and_nothing_of_the_rest(
    any_app: Flask,
) -> None:
    """Where the rest of an account can go is said of long answers only: a name is no account."""
    make_org_key()
    response = _request(any_app.test_client(), "zh_Hant", sender_name="名" * (SHORT_MAX + 1))
    assert response.status_code == 422
    said = "請將這個回答縮短到 300 個字元以內（現在有 301 個）。"
    assert _field_error(response.text, "sender_name") == said
    assert f'value="{"名" * (SHORT_MAX + 1)}"' in response.text


# ---------------------------------------------------------------------------------------------
# The follow-up without JavaScript (/status): the same rule and message on the server


def _case(org: Any) -> submissions.Submission:
    return submissions.create_case_from_plaintext(
        Routing(urgency=Urgency.DAYS, threats=["detention"], country="TW"),
        org_key=org.key,
        answers=full_answers(),
        files=[],
        locale="en",
    )


def _follow_up(client: Any, code: str, body: str, lang: str = "en") -> Any:
    token = csrf_token(client, f"/status?lang={lang}")
    return client.post(
        f"/status/follow-up?lang={lang}",
        data={"csrf_token": token, "code": code, "body": body},
        content_type="multipart/form-data",
    )


def _follow_ups() -> list[CaseMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(CaseMessage).where(CaseMessage.kind == MessageKind.SUBMITTER_FOLLOW_UP)
        )
    )


def test_a_follow_up_of_exactly_the_limit_with_crlf_is_sent_with_lf(any_app: Flask) -> None:
    org = make_org_key()
    submission = _case(org)
    posted = story(LONG_MAX)
    response = _follow_up(any_app.test_client(), submission.receipt_code, posted)
    assert response.status_code == 200, response.text
    (message,) = _follow_ups()
    assert open_message(message.sealed_body, org.secret) == posted.replace("\r\n", "\n")


@pytest.mark.parametrize("lang", ["en", "zh_Hant", "ar"])
def test_a_follow_up_over_the_limit_is_refused_in_the_page_language_and_kept(
    any_app: Flask, lang: str
) -> None:
    org = make_org_key()
    submission = _case(org)
    posted = story(LONG_MAX + 1, line_break="\r\n")
    response = _follow_up(any_app.test_client(), submission.receipt_code, posted, lang)
    assert response.status_code == 422
    # A follow-up is itself where the rest goes: nothing said of sending more.
    assert _field_error(response.text, "body") == MESSAGE_TOO_LONG[lang]
    assert _box(response.text, "body") == posted.replace("\r\n", "\n")
    assert _follow_ups() == []


def test_the_long_answers_say_where_the_rest_can_go_to_the_browser_as_the_server_does(
    any_app: Flask,
) -> None:
    """answer-length.js adds a field's data-too-long-then after "please shorten": the long
    answers carry the server's sentence, short answers and the follow-up message none."""
    org = make_org_key()
    page = any_app.test_client().get("/request?lang=zh_Hans").text
    for name in ("what_happened", "context", "wanted_actions"):
        tag = re.search(rf'<textarea[^>]*name="{name}"[^>]*>', page)
        assert tag, name
        assert f'data-too-long-then="{REST_LATER["zh_Hans"]}"' in tag.group(0)
    short = re.search(r'<input[^>]*name="sender_name"[^>]*>', page)
    assert short
    assert "data-max-chars" in short.group(0)
    assert "data-too-long-then" not in short.group(0)
    code = _case(org).receipt_code
    client = any_app.test_client()
    token = csrf_token(client, "/status")
    status = client.post("/status", data={"csrf_token": token, "code": code}).text
    assert 'id="body"' in status
    assert "data-too-long-then" not in status


def test_a_follow_up_pasted_over_500_kb_comes_back_whole_beside_its_error(any_app: Flask) -> None:
    org = make_org_key()
    submission = _case(org)
    posted = "x" * 600_000
    response = _follow_up(any_app.test_client(), submission.receipt_code, posted)
    assert response.status_code == 422
    assert _field_error(response.text, "body") == (
        "Please shorten your message to 8000 characters or fewer (it has 600000)."
    )
    assert _box(response.text, "body") == posted
    assert _follow_ups() == []


@pytest.mark.parametrize("path", ["/request", "/status/follow-up"])
def test_a_form_too_large_to_read_is_refused_as_too_large_and_nothing_is_said_kept(
    make_app: Callable[..., Flask], path: str
) -> None:
    """A field over MAX_FORM_MEMORY_SIZE stops Werkzeug's parse halfway: a second look at the
    form then found it (nearly) empty without an error, and the page said "Your form had
    expired … We kept what you wrote" over empty boxes. It is refused as too large."""
    app = make_app("sqlite", MAX_FORM_MEMORY_SIZE=20_000)
    with app.app_context():
        org = make_org_key()
        code = _case(org).receipt_code
        client = app.test_client()
        if path == "/request":
            response = _request(client, what_happened="x" * 30_000)
        else:
            response = _follow_up(client, code, "x" * 30_000)
        assert response.status_code == 413
        page = html.unescape(response.text)
        assert "can be sent at once. Nothing was saved." in page
        assert "expired" not in page
        assert "kept" not in page
        db.session.rollback()
        assert table_count("cases") == 1
        assert _follow_ups() == []


def test_a_language_change_keeps_a_whole_follow_up_written_with_crlf(any_app: Flask) -> None:
    """The status page's language buttons (no JavaScript) post the message being written: one
    that fits, posted with CRLF line breaks, comes back whole (its end was cut)."""
    org = make_org_key()
    submission = _case(org)
    client = any_app.test_client()
    token = csrf_token(client, "/status")
    posted = story(LONG_MAX)
    response = client.post(
        "/status?lang=ar&change_language=1",
        data={"csrf_token": token, "code": submission.receipt_code, "body": posted},
    )
    assert response.status_code == 200, response.text
    assert _box(response.text, "body") == posted.replace("\r\n", "\n")
