"""The reviewer's scenario in real Chromium (fr, a 360 px phone, JavaScript on): the sealed
request reaches the server, its answer is lost on the way back, the page says it could not
confirm the request arrived and that sending again is safe (not that it "could not be sent",
which makes a frightened person start a new request), and the person sends again (or reloads,
then sends again). One case is filed, and the receipt code shown opens that case at /status.
A refusal the server did answer keeps its own message."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from intake import crypto
from intake.extensions import db
from intake.models import AuditEvent, Case
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import PHONE, fill_required_answers

pytestmark = pytest.mark.browser


class LoseFirstAnswer:
    """page.route handler: the first POST of the form reaches the server (route.fetch), then
    its answer is dropped (route.abort), as on a flaky Tor circuit; later ones pass."""

    def __init__(self) -> None:
        self.delivered: list[int] = []

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        if not self.delivered:
            response = route.fetch()
            self.delivered.append(response.status)
            route.abort()
            return
        route.continue_()


@pytest.mark.parametrize("retry", ["send again", "reload, then send again"])
def test_an_answer_lost_on_the_way_then_send_again_files_one_case_with_its_receipt(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, retry: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    try:
        page = context.new_page()
        lose = LoseFirstAnswer()
        page.route(lambda url: urlsplit(url).path == "/request", lose)
        page.goto(f"{live_server.url}/request?lang=fr")
        fill_required_answers(page)

        page.click("#send-request")
        page.wait_for_selector("#error-summary:not([hidden])")
        said = page.inner_text("#error-summary")
        assert "n’a pas pu être envoyée" not in said
        assert "Nous n’avons pas pu confirmer que votre demande est arrivée" in said
        assert "ne sera pas enregistrée deux fois" in said
        assert lose.delivered == [201]  # the server filed it; the page never heard
        db.session.rollback()
        assert table_count("cases") == 1

        if retry.startswith("reload"):
            page.reload()
            page.wait_for_selector("#restored-notice:not([hidden])")
            page.evaluate("window.Refuge.steps.show(4)")
        page.click("#send-request")
        page.wait_for_selector("#receipt-panel:not([hidden])")
        code = page.inner_text("#receipt-code").strip()
        page.screenshot(path=str(tmp_path / "receipt-after-retry-360.png"), full_page=True)
        # The tab forgot the answers and the token with them: the next form is a new request.
        assert page.evaluate("sessionStorage.getItem('refuge-intake-session')") is None

        db.session.rollback()
        (case,) = db.session.scalars(sa.select(Case)).all()
        assert crypto.normalise_receipt_code(code) is not None

        page.goto(f"{live_server.url}/status?lang=fr")
        page.fill("input[name=code]", code)
        page.click("main button[type=submit]")
        page.wait_for_selector("#shared-status")
        db.session.rollback()
        viewed = db.session.scalars(
            sa.select(AuditEvent.target_id).where(AuditEvent.action == "case.status_viewed")
        ).all()
        assert viewed == [str(case.id)]
    finally:
        context.close()


# The reviewer's Chinese screenshot: 您的请求无法发送 while the server had filed the request.
LOST_ANSWER_SAYS = {
    "zh_Hans": ("我们无法确认您的请求是否已送达", "您的请求无法发送"),
    "en": ("We could not confirm that your request arrived", "could not be sent"),
}


@pytest.mark.parametrize("locale", sorted(LOST_ANSWER_SAYS))
def test_a_lost_answer_says_unconfirmed_and_safe_to_send_again_in_the_readers_language(
    app: Flask, live_server: Any, browser: Any, tmp_path: Path, locale: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        lose = LoseFirstAnswer()
        page.route(lambda url: urlsplit(url).path == "/request", lose)
        page.goto(f"{live_server.url}/request?lang={locale}")
        fill_required_answers(page)
        page.click("#send-request")
        page.wait_for_selector("#error-summary:not([hidden])")
        page.screenshot(path=str(tmp_path / f"lost-answer-{locale}.png"), full_page=True)
        said = page.inner_text("#error-summary")
        unconfirmed, could_not_be_sent = LOST_ANSWER_SAYS[locale]
        assert unconfirmed in said
        assert could_not_be_sent not in said
        assert lose.delivered == [201]
    finally:
        context.close()


def _answer_with(status: int, body: str) -> Any:
    def handler(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fulfill(status=status, content_type="application/json", body=body)

    return handler


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # A refusal the server answered: its own message, not "could not confirm".
        (400, '{"error": "Cette pièce jointe est refusée."}', "Cette pièce jointe est refusée."),
        # Refused without a reason: nothing was filed, "could not be sent" is true.
        (400, "{}", "n’a pas pu être envoyée"),
        # An answer cut off in its body, or a gateway's error: it may have been filed.
        (201, '{"receipt_co', "Nous n’avons pas pu confirmer"),
        (502, "", "Nous n’avons pas pu confirmer"),
    ],
)
def test_an_answered_failure_says_what_is_true_of_it(
    app: Flask, live_server: Any, browser: Any, status: int, body: str, expected: str
) -> None:
    make_org_key()
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.route(lambda url: urlsplit(url).path == "/request", _answer_with(status, body))
        page.goto(f"{live_server.url}/request?lang=fr")
        fill_required_answers(page)
        page.click("#send-request")
        page.wait_for_selector("#error-summary:not([hidden])")
        assert expected in page.inner_text("#error-summary")
    finally:
        context.close()
