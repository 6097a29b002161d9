""" "Immediate" on the form: what to do now, from routing facts only (JavaScript off here;
the browser test covers the page with JavaScript on)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import vocab
from intake.extensions import db
from intake.models import DirectoryEntry
from intake.services import urgent_help
from intake.services.directory import import_shipped
from tests.builders import make_org_key
from tests.conftest import table_count
from tests.public.conftest import csrf_token, full_answers, routing_form

URL = "/request/urgent-help"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    make_org_key()
    import_shipped()
    return app.test_client()


def test_immediate_lists_24_hour_lines_and_urgent_appeal_channels(client: FlaskClient) -> None:
    response = client.get(URL, query_string={"urgency": "immediate", "threats": ["detention"],
                                             "country": "MX"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    channels = response.get_json()["channels"]
    ids = [channel["id"] for channel in channels]
    assert "embassies" in ids
    assert "frontline-defenders" in ids
    line = next(c for c in channels if c["id"] == "frontline-defenders")["contacts"][0]
    assert line == {"kind": "phone", "value": "(+353) 1 210 0489",
                    "place": "24-hour emergency line", "round_the_clock": True,
                    "href": "tel:+35312100489"}  # fmt: skip
    assert response.get_json()["shown_first"] == urgent_help.SHOWN_FIRST
    # Regional courts need domestic remedies exhausted first: not a "right now" channel.
    assert "inter-american-system" not in ids


def test_other_urgencies_get_no_channels(client: FlaskClient) -> None:
    answer = client.get(URL, query_string={"urgency": "weeks", "country": "MX"}).get_json()
    assert answer == {"immediate": False, "channels": []}


@pytest.mark.parametrize(
    "query",
    [
        {"urgency": "immediate", "what_happened": "they took my brother"},  # free text
        {"urgency": "immediate", "q": "x"},
        {"urgency": "now"},
        {},
        {"urgency": "immediate", "threats": "<script>"},
        {"urgency": "immediate", "country": "ZZ"},
        {"urgency": "immediate", "country": "mx' OR 1=1 --"},
        {"urgency": "immediate", "country": ["MX", "SD"]},
        {"urgency": ["immediate", "days"]},
        {"urgency": "immediate", "threats": ["detention"] * 21},
        {"urgency": "immediate", "country": "M" * 5000},
    ],
)
def test_anything_but_routing_facts_is_refused(client: FlaskClient, query: dict[str, Any]) -> None:
    response = client.get(URL, query_string=query)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_the_endpoint_is_rate_limited(make_app: Any) -> None:
    app = make_app("sqlite", URGENT_HELP_RATE_LIMIT="3 per minute")
    with app.app_context():
        client = app.test_client()
        codes = [client.get(URL, query_string={"urgency": "immediate"}).status_code
                 for _ in range(4)]  # fmt: skip
    assert codes == [200, 200, 200, 429]


def test_without_javascript_a_reshown_form_shows_what_to_do_now(client: FlaskClient) -> None:
    token = csrf_token(client)
    data = {"csrf_token": token, **routing_form(), "what_happened": ""}
    data["country"] = "MX"
    page = client.post("/request", data=data, content_type="multipart/form-data")
    assert page.status_code == 422
    assert 'id="urgent-help-panel"' in page.text
    panel = page.text.split('id="urgent-help-panel"')[1].split("</section>")[0]
    assert "hidden" not in panel.split(">")[0]
    assert "(+353) 1 210 0489" in panel
    assert "If you are in danger now" in panel


@pytest.mark.parametrize(
    ("locale", "note"),
    [("en", " <bdi>(24 hours)</bdi>"), ("zh_Hant", "<bdi>（24 小時）</bdi>"), ("ar", " <bdi>(")],
)
def test_a_channels_note_is_in_the_languages_brackets(
    client: FlaskClient, locale: str, note: str
) -> None:
    """Chinese pages showed " (24 小時)": ASCII brackets after a space (a review)."""
    token = csrf_token(client)
    data = {"csrf_token": token, **routing_form(), "what_happened": "", "country": "MX"}
    page = client.post(f"/request?lang={locale}", data=data, content_type="multipart/form-data")
    panel = page.text.split('id="urgent-help-panel"')[1].split("</section>")[0]
    assert f"(+353) 1 210 0489</a>{note}" in panel
    brackets = re.search(r'data-brackets="([^"]+)"', page.text)
    assert brackets is not None
    assert brackets.group(1) == ("（%(text)s）" if locale.startswith("zh") else "(%(text)s)")


def test_the_form_hides_the_guidance_until_immediate_is_chosen(client: FlaskClient) -> None:
    page = client.get("/request").text
    opening = page.split('id="urgent-help-panel"')[1].split(">")[0]
    assert "hidden" in opening


def test_without_javascript_the_receipt_of_an_immediate_request_says_what_to_do_now(
    client: FlaskClient,
) -> None:
    token = csrf_token(client)
    data: dict[str, Any] = {"csrf_token": token, **full_answers(), **routing_form()}
    data["attachments"] = [(io.BytesIO(b""), "", "application/octet-stream")]
    response = client.post("/request", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.text[:2000]
    receipt = client.get(response.headers["Location"]).text
    assert "data-request-filed" in receipt
    assert "(+353) 1 210 0489" in receipt
    assert table_count("cases") == 1
    # Shown once, like the code.
    assert "(+353) 1 210 0489" not in client.get(response.headers["Location"]).text


def test_before_the_threat_is_chosen_the_round_the_clock_lines_are_shown(
    client: FlaskClient,
) -> None:
    # The urgency is asked in step 1, the threat and country only in step 4.
    channels = client.get(URL, query_string={"urgency": "immediate"}).get_json()["channels"]
    ids = [channel["id"] for channel in channels]
    assert ids[:2] == ["embassies", "frontline-defenders"]


@pytest.mark.parametrize(
    ("kind", "value", "href"),
    [
        ("phone", "(+353) 1 210 0489", "tel:+35312100489"),
        ("phone", "+1 (212) 465-1004", "tel:+12124651004"),
        ("phone", "0800 123 456", "tel:0800123456"),
        ("phone", "call us", ""),
        ("phone", "1" * 30, ""),
        ("email", "urgent-action@ohchr.org", "mailto:urgent-action@ohchr.org"),
        ("email", "a@b.org?cc=x@y.org", ""),
        ("email", 'x"@y.org', ""),
        ("email", "a@b.org?subject=x", ""),
        ("web", "https://www.frontlinedefenders.org/", "https://www.frontlinedefenders.org/"),
        ("secure_form", "https://example.org/form?a=1", "https://example.org/form?a=1"),
        # The source directory's http:// addresses open over https (a watcher on the network
        # would see which page a person in danger opened).
        (
            "web",
            "http://www.omct.org/human-rights-defenders/",
            "https://www.omct.org/human-rights-defenders/",
        ),
        ("secure_form", "http://www2.ohchr.org/a.htm", "https://www2.ohchr.org/a.htm"),
        ("web", "javascript:alert(1)", ""),
        ("web", "data:text/html,<script>alert(1)</script>", ""),
        ("web", "https://x.org <script>", ""),
        ("web", "//evil.example", ""),
        ("onion", "abc.onion", ""),
        ("signal", "+353 1 210 0489", ""),
    ],
)
def test_a_contact_links_only_to_a_dialler_a_mail_app_or_a_web_page(
    kind: str, value: str, href: str
) -> None:
    """What a person in danger can tap; a hostile directory value never becomes a link."""
    assert urgent_help.contact_href(kind, value) == href


@pytest.mark.parametrize(
    ("language", "embassies", "note"),
    [
        ("es", "Embajadas (primeras 24 horas)", "lista de embajadas en todo el mundo"),
        ("ar", "السفارات (خلال أول 24 ساعة)", "قائمة بالسفارات حول العالم"),
        ("ru", "Посольства (первые 24 часа)", "список посольств по всему миру"),
        ("fr", "Ambassades (premières 24 heures)", "liste des ambassades dans le monde"),
        ("zh_Hans", "大使馆（首24小时）", "世界各地大使馆列表"),
        ("en", "Embassies (first 24 hours)", "list of embassies worldwide"),
    ],
)
def test_the_un_names_and_embassies_are_in_the_readers_language(
    client: FlaskClient, language: str, embassies: str, note: str
) -> None:
    """ "If you are in danger now" named the embassies and the UN mechanisms in English on the
    Spanish, Arabic, French and Russian pages; organisations keep their own names."""
    response = client.get(URL, query_string={"urgency": "immediate", "threats": ["detention"],
                                             "country": "MX", "lang": language})  # fmt: skip
    channels = {c["id"]: c for c in response.get_json()["channels"]}
    assert channels["embassies"]["name"] == embassies
    assert channels["embassies"]["contacts"][0]["place"] == note
    assert channels["frontline-defenders"]["name"] == "Front Line Defenders"
    if language == "es" and "un-wgad" in channels:
        assert channels["un-wgad"]["name"].startswith("Grupo de Trabajo")


def _danger_now(page: str) -> str:
    """The folded "If you are in danger now" for any emergency, as the server sent it."""
    assert 'id="danger-now"' in page
    return page.split('id="danger-now"')[1].split("</details>\n</details>")[0]


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("en", "If you are in danger now"),
        ("ar", "إن كنت في خطر الآن"),
        ("zh_Hant", "如果您現在有危險"),
    ],
)
def test_without_javascript_the_form_shows_the_24_hour_channels_before_anything_is_sent(
    client: FlaskClient, language: str, title: str
) -> None:
    """Without JavaScript nothing is asked while the person writes: "Immediate" showed no
    channel until the whole form was sent. The channels for any emergency are in the form,
    after the urgency question, in the reader's language, open to anyone (not hidden)."""
    page = client.get(f"/request?lang={language}").text
    panel = _danger_now(page)
    assert "hidden" not in panel.split(">")[0]
    assert title in panel
    assert 'href="tel:+35312100489"' in panel  # Front Line Defenders' 24-hour line
    assert 'data-channel="embassies"' in panel
    form = page.split('id="intake-form"')[1].split("</form>")[0]
    assert form.index('name="urgency"') < form.index('id="danger-now"')
    assert form.index('id="danger-now"') < form.index('name="urgency_reason"')


def test_no_emergency_channel_is_shown_or_linked_as_an_unencrypted_page(
    client: FlaskClient,
) -> None:
    """The reviewer's "More channels" linked two www2.ohchr.org pages and omct.org as
    http://, in every language: each threat's Immediate channels, and the general ones on the
    landing page and the form, say and open https:// only."""
    shown = [client.get("/").get_data(as_text=True), client.get("/request").get_data(as_text=True)]
    for threat in vocab.THREATS:
        answer = client.get(URL, query_string={"urgency": "immediate", "threats": [threat]})
        shown.append(answer.get_data(as_text=True))
    everything = "\n".join(shown)
    assert "https://" in everything
    assert "http://" not in everything.replace("http://localhost", "")


def test_the_landing_page_shows_the_24_hour_channels(client: FlaskClient) -> None:
    panel = _danger_now(client.get("/?lang=zh_Hans").text)
    assert "(+353) 1 210 0489" in panel
    assert 'data-channel="embassies"' in panel


def test_a_reshown_immediate_form_hides_the_general_channels_beside_its_own(
    client: FlaskClient,
) -> None:
    """The tailored panel is shown (no JavaScript, form sent with "Immediate"): one panel."""
    token = csrf_token(client)
    data = {"csrf_token": token, **routing_form(), "what_happened": ""}
    page = client.post("/request", data=data, content_type="multipart/form-data").text
    assert "hidden" not in page.split('id="urgent-help-panel"')[1].split(">")[0]
    assert "hidden" in _danger_now(page).split(">")[0]
    # Chosen something else: the general channels, and no tailored panel.
    data["urgency"] = "days"
    page = client.post("/request", data=data, content_type="multipart/form-data").text
    assert "hidden" in page.split('id="urgent-help-panel"')[1].split(">")[0]
    assert "hidden" not in _danger_now(page).split(">")[0]


def test_without_a_directory_the_pages_show_no_empty_emergency_panel(app: Flask) -> None:
    make_org_key()
    client = app.test_client()
    assert 'id="danger-now"' not in client.get("/request").text
    assert 'id="danger-now"' not in client.get("/").text


def test_the_general_channels_follow_the_directory_and_the_language(client: FlaskClient) -> None:
    """Kept per process for one directory version and language: a change shows at once."""
    english = _danger_now(client.get("/?lang=en").text)
    assert "Embassies (first 24 hours)" in english
    assert _danger_now(client.get("/?lang=en").text) == english  # (from the cache)
    assert "السفارات (خلال أول 24 ساعة)" in _danger_now(client.get("/?lang=ar").text)
    assert 'data-channel="frontline-defenders"' in english
    entry = db.session.get(DirectoryEntry, "frontline-defenders")
    assert entry is not None
    db.session.delete(entry)
    db.session.commit()  # (a new directory version)
    assert 'data-channel="frontline-defenders"' not in _danger_now(client.get("/?lang=en").text)


@pytest.mark.parametrize(
    ("language", "phone"),
    [("fr", "Téléphone\u00a0: "), ("zh_Hans", "电话："), ("en", "Phone: ")],
)
def test_a_contacts_label_has_its_colon_as_the_language_writes_it(
    client: FlaskClient, language: str, phone: str
) -> None:
    """French puts a no-break space before a colon, Chinese a full-width colon with no space
    after; the panel wrote ": " after every label, and its script does the same."""
    token = csrf_token(client)
    data = {"csrf_token": token, **routing_form(), "what_happened": "", "country": "MX"}
    page = client.post(
        f"/request?lang={language}", data=data, content_type="multipart/form-data"
    ).text
    panel = page.split('id="urgent-help-panel"')[1].split("</section>")[0]
    label = phone.rstrip().rstrip(":：\u00a0")
    assert f'data-colon="{phone[len(label) :]}"' in panel  # what urgent-help.js writes with
    lines = [line for line in panel.split("<li>") if line.startswith(label)]
    assert lines, panel
    assert all(line.startswith(phone) for line in lines), lines
