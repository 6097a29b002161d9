"""Over the submission limit without JavaScript, the form comes back with what was typed.

REQUEST_RATE_LIMIT counts every post of the form, the ones refused for a missing answer too,
and Tor Browser's exits (where JavaScript is often off) are shared by many people. The limit
used to answer with a bare "429" page: whatever the defender had written was gone. Now the
form comes back filled in, in their language, saying why and when to try again; nothing is
stored. A browser's sealed post still gets the plain 429 that intake.js explains (the tab keeps
the answers itself). And "Please attach your files again" is said only when a file was chosen:
a file field left empty is posted too, and the notice said it after every expired form."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask

from intake import crypto
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import (
    CANARY,
    PHOTO_BYTES,
    PHOTO_NAME,
    asks_for_files_again,
    canary_for,
    csrf_token,
    full_answers,
    routing_form,
)

OVER_THE_LIMIT = "Too many requests have come from your network recently"


def empty_file_field() -> tuple[io.BytesIO, str, str]:
    """What a browser posts for a file field left empty: a part without a file name."""
    return (io.BytesIO(b""), "", "application/octet-stream")


def _post(client: Any, data: dict[str, Any], path: str = "/request") -> Any:
    return client.post(path, data=data, content_type="multipart/form-data")


def _nothing_stored() -> None:
    for table in ("cases", "case_attachments", "consent_records"):
        assert table_count(table) == 0, table


def test_over_the_limit_the_form_comes_back_with_everything_typed(make_app: Any) -> None:
    app = make_app("sqlite", REQUEST_RATE_LIMIT="2 per hour")
    with app.app_context():
        make_org_key()
        client = app.test_client()
        token = csrf_token(client)
        # Two posts refused for a missing answer spend the limit, as a stressed defender may.
        for _ in range(2):
            refused = _post(client, {"csrf_token": token, "what_happened": "x"})
            assert refused.status_code == 422
        typed = {
            "csrf_token": token,
            **full_answers(),
            **routing_form(),
            "attachments": [empty_file_field()],
        }
        response = _post(client, typed, path="/request?lang=fr")
        assert response.status_code == 429
        assert '<html lang="fr"' in response.text
        assert "Trop de demandes sont arrivées récemment depuis votre réseau" in response.text
        assert f"\n{canary_for('what_happened')}</textarea>" in response.text
        assert re.search(r'value="TW"[^>]*selected|selected[^>]*value="TW"', response.text)
        assert not asks_for_files_again(response.text)  # none was chosen
        # A fresh token to send again with, and nothing stored meanwhile.
        assert 'name="csrf_token"' in response.text
        _nothing_stored()

        with_a_file = _post(
            client,
            {**typed, "attachments": [(io.BytesIO(PHOTO_BYTES), PHOTO_NAME, "image/png")]},
            path="/request?lang=en",
        )
        assert with_a_file.status_code == 429
        assert OVER_THE_LIMIT in with_a_file.text
        assert asks_for_files_again(with_a_file.text)
        assert PHOTO_NAME not in with_a_file.text  # a file cannot be handed back
        _nothing_stored()

        # An answer still missing is said beside its question now, not at the next refusal
        # an hour later; what is answered is not marked.
        missing = {
            name: value for name, value in typed.items() if name not in ("urgency", "attachments")
        }
        refused = _post(client, missing, path="/request?lang=en")
        assert refused.status_code == 429
        assert OVER_THE_LIMIT in refused.text
        assert 'id="urgency-error" data-error-for="urgency">' in refused.text
        assert 'id="what_happened-error" data-error-for="what_happened" hidden>' in refused.text
        _nothing_stored()


def test_a_sealed_post_over_the_limit_gets_the_429_the_script_explains(make_app: Any) -> None:
    app = make_app("sqlite", REQUEST_RATE_LIMIT="1 per hour")
    with app.app_context():
        org = make_org_key()
        client = app.test_client()
        key = client.get("/request/key").get_json()
        sealed = {
            "csrf_token": key["csrf_token"],
            "sealed_answers": crypto.seal_answers({"what_happened": CANARY}, org.public),
            "org_key_id": str(org.key.id),
            "consent_given": "1",
            **routing_form(),
        }
        assert client.post("/request", data=sealed).status_code == 201
        again = client.post("/request", data=sealed)
        assert again.status_code == 429
        assert "<form" not in again.text
        assert CANARY not in again.text
        assert table_count("cases") == 1


def test_an_expired_form_asks_for_files_again_only_when_one_was_chosen(app: Flask) -> None:
    make_org_key()
    client = app.test_client()
    csrf_token(client)  # a session, and a token that this post does not carry
    expired = {**full_answers(), **routing_form(), "csrf_token": "expired"}
    without = _post(client, {**expired, "attachments": [empty_file_field()]})
    assert without.status_code == 400
    assert "Your form had expired" in without.text
    assert not asks_for_files_again(without.text)
    chosen = [(io.BytesIO(PHOTO_BYTES), PHOTO_NAME, "image/png")]
    with_a_file = _post(client, {**expired, "attachments": chosen})
    assert with_a_file.status_code == 400
    assert asks_for_files_again(with_a_file.text)
    _nothing_stored()


def test_over_the_limit_an_immediate_request_is_sent_to_the_channels_that_act_now(
    make_app: Any,
) -> None:
    """A reviewer's Immediate request over the limit was told to "contact the organisation
    another way", on an instance that listed no way: the form below shows the channels that
    take urgent requests, and the notice now sends the person there, in their language."""
    from intake.services.directory import import_shipped

    app = make_app("sqlite", REQUEST_RATE_LIMIT="1 per hour")
    with app.app_context():
        make_org_key()
        import_shipped()
        client = app.test_client()
        token = csrf_token(client)
        assert _post(client, {"csrf_token": token, "what_happened": "x"}).status_code == 422
        typed = {"csrf_token": token, **full_answers(), **routing_form(), "urgency": "immediate"}
        # And the script's path, which the limit does not stop (the browser does a little
        # work instead): "in an hour" was all a person in danger was told without JavaScript.
        for lang, points_to, panel, script in (
            (
                "en",
                "under “If you are in danger now” below",
                "Front Line Defenders",
                "With JavaScript on (in Tor Browser, the “Safer” level), this form can send",
            ),
            (
                "ar",
                "تحت «إن كنت في خطر الآن» أدناه",
                "tel:+35312100489",
                "مع تفعيل JavaScript (في متصفح Tor، المستوى «أكثر أمانًا»)",
            ),
        ):
            response = _post(client, typed, path=f"/request?lang={lang}")
            assert response.status_code == 429
            assert points_to in response.text
            assert script in response.text
            assert "contact the organisation another way" not in response.text
            assert response.text.index(points_to) < response.text.index(panel)
        # Any other urgency: the notice as before.
        days = _post(client, {**typed, "urgency": "days"}, path="/request?lang=en")
        assert days.status_code == 429
        assert "contact the organisation another way" in days.text
        _nothing_stored()


def test_the_sent_request_sent_again_unchanged_spends_nothing_of_the_limit(
    make_app: Any,
) -> None:
    """A reloaded receipt tells the person to go Back and press Send again; on a network whose
    limit was spent by then (a Tor exit) they were told their request was "not sent yet",
    though it had been filed (a review in Chromium). The same request again is answered with
    its receipt; anything else from that browser is counted as before."""
    app = make_app("sqlite", REQUEST_RATE_LIMIT="1 per hour")
    with app.app_context():
        make_org_key()
        client = app.test_client()
        page = client.get("/request").get_data(as_text=True)
        found = re.search(r'name="submission_token" value="([^"]+)"', page)
        assert found is not None
        typed = {
            "csrf_token": csrf_token(client),
            "submission_token": found.group(1),
            **full_answers(),
            **routing_form(),
        }
        first = _post(client, typed)
        assert first.status_code == 303
        code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', client.get(first.location).text)
        assert code is not None
        assert table_count("cases") == 1
        # The limit (1 an hour) is spent. Back and Send again, unchanged: the same receipt.
        again = _post(client, typed)
        assert again.status_code == 303
        assert code.group(1) in client.get(again.location).text
        assert table_count("cases") == 1
        # Changed, it is another request: counted, and refused over the limit.
        changed = _post(client, {**typed, "what_happened": "Another person was taken today."})
        assert changed.status_code == 429
        assert OVER_THE_LIMIT in changed.text
        assert table_count("cases") == 1
