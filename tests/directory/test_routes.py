"""Directory pages: who may see and change what, filters, forms, CSRF and hostile input."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.models import AuditEvent, DirectoryEntry, Role
from intake.services import directory as service
from tests.builders import make_entry, sign_in
from tests.conftest import table_count

# The Tor Project's own onion service (version 3).
TOR_PROJECT = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid"


@pytest.fixture
def loaded(app: Flask) -> Flask:
    service.import_shipped()
    return app


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def entry_form(**override: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "test-legal-aid",
        "name": "Test Legal Aid",
        "name_zh": "測試法律援助",
        "kind": "organisation",
        "section": "legal_network",
        "regions": ["south_asia"],
        "countries": "IN, pk",
        "threats": ["lawsuit", "detention"],
        "profiles": ["lawyer"],
        "languages": "en, HI",
        "accepts_urgent_appeals": "y",
        "description_en": "Lawyers for defenders.",
        "description_zh": "為人權捍衛者提供律師。",
        "contacts": "web | https://example.org | Delhi\nemail | help@example.org",
        "conditions": ["domestic_remedies_exhausted"],
        "notes": "Call first.",
        "referral_kinds": ["ngo_referral"],
        "response_days": "5",
        "last_verified": "2026-11-20",
    }
    data.update(override)
    return data


def test_anonymous_is_sent_to_login(client: FlaskClient, loaded: Flask) -> None:
    for url in ("/directory/", "/directory/cpj", "/directory/new", "/directory/cpj/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_viewer_reads_list_and_detail_but_cannot_edit(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.VIEWER)
    page = client.get("/directory/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Front Line Defenders" in html
    assert "Add an entry" not in html
    detail = client.get("/directory/un-wgad").get_data(as_text=True)
    assert "Only for people deprived of their liberty" in detail
    assert "/retire" not in detail
    assert client.get("/directory/new").status_code == 403
    assert client.get("/directory/cpj/edit").status_code == 403
    assert client.post("/directory/cpj/retire").status_code in (400, 403)
    assert db.session.get_one(DirectoryEntry, "cpj").retired_at is None


def test_caseworker_reads_too(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.CASEWORKER)
    assert client.get("/directory/cpj").status_code == 200
    assert client.get("/directory/cpj/edit").status_code == 403


def test_filters_search_and_pagination(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.VIEWER)
    html = client.get("/directory/?q=wgad").get_data(as_text=True)
    assert "Working Group on Arbitrary Detention" in html
    assert "Rory Peck" not in html
    html = client.get("/directory/?region=south_asia&threat=lawsuit").get_data(as_text=True)
    assert "Human Rights Law Network" in html
    assert "Inter-American" not in html
    html = client.get("/directory/?language=hi").get_data(as_text=True)
    assert "Human Rights Law Network" in html
    assert "Front Line" not in html
    html = client.get("/directory/?urgent=1&q=eisf").get_data(as_text=True)
    assert "No entries match. Try fewer filters." in html
    assert "directory import" not in html  # the directory is there: only the filters are wrong
    first = client.get("/directory/").get_data(as_text=True)
    assert "Page 1 of 2" in first
    second = client.get("/directory/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second
    assert client.get("/directory/?page=999999999999").status_code == 200
    assert client.get("/directory/?region=<script>&threat=x&page=x").status_code == 200
    # NUL bytes are refused before any view runs (intake.web.refuse_nul_bytes).
    assert client.get("/directory/?threat=%00").status_code == 400


def test_empty_directory_shows_the_empty_state(client: FlaskClient, app: Flask) -> None:
    sign_in(client, Role.VIEWER)
    html = client.get("/directory/").get_data(as_text=True)
    assert "The directory is empty. Import it with" in html
    assert "No entries match" not in html


def test_unknown_or_hostile_ids_are_404(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.VIEWER)
    for entry_id in ("nope", "..%2f..%2fetc", "A" * 300, "%3Cscript%3E"):
        assert client.get(f"/directory/{entry_id}").status_code == 404


def test_staff_pages_in_traditional_chinese(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.VIEWER)
    html = client.get("/directory/?lang=zh_Hant").get_data(as_text=True)
    assert "名錄" in html
    detail = client.get("/directory/un-wgad").get_data(as_text=True)
    assert "聯絡方式" in detail


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("zh_Hant", "政府須在 60 天內回覆來文（涉及法律草案者為 48 小時）"),
        ("zh_Hans", "政府须在 60 天内回复来文（涉及法律草案者为 48 小时）"),
    ],
)
def test_a_shipped_entrys_conditions_read_in_the_staffs_chinese(
    client: FlaskClient, loaded: Flask, locale: str, said: str
) -> None:
    """The shipped entries' conditions ("the government has 60 days to reply…") showed in
    English on the Chinese staff pages, on the entry's page and among the case page's triage
    caveats (a review). An admin's own condition text is shown as written."""
    from intake.services import triage, triage_phrases
    from tests.builders import make_case, make_org_key

    sign_in(client, Role.VIEWER)
    client.get(f"/directory/?lang={locale}")
    detail = client.get("/directory/un-sr-hrds").get_data(as_text=True)
    assert said in detail
    assert "the government has 60 days" not in detail
    case = make_case(make_org_key(), threats=["detention"], urgency="weeks")
    found = {s["id"]: s for s in triage.current_suggestions(case)}
    assert "un-sr-hrds" in found
    with client.application.test_request_context(f"/?lang={locale}"):
        caveats = triage_phrases.lines(found["un-sr-hrds"], "caveats")
    assert any(said in line for line in caveats), caveats
    # Stored in English, whatever the reader's language.
    assert any("the government has 60 days" in line for line in found["un-sr-hrds"]["caveats"])
    own = make_entry(conditions=[{"id": "note", "text": "Ours, as we wrote it."}])
    assert "Ours, as we wrote it." in client.get(f"/directory/{own.id}").get_data(as_text=True)


def listed_ids(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/directory/([a-z0-9-]+)[?"]', html)


def test_a_search_term_starts_a_word_names_first_and_finds_where_an_entry_works(
    client: FlaskClient, loaded: Flask
) -> None:
    """A review searched "UN": 16 entries, matched inside "Fund", "Council" and "runs", with
    the UN mechanisms 10th to 15th; "Mexico", "墨西哥" and "MX" found nothing, though an
    entry works in Mexico."""
    sign_in(client, Role.CASEWORKER)
    found = listed_ids(client.get("/directory/?q=UN").get_data(as_text=True))
    mechanisms = {"un-sr-hrds", "un-wgad", "un-wgeid", "ohchr", "ohchr-reprisals"}
    assert mechanisms <= set(found[: len(mechanisms)]), found  # named "UN": first
    assert "global-fund-for-human-rights" not in found  # "Fund" does not start with "un"
    assert "urgent-action-fund" not in found
    for query in ("Mexico", "墨西哥", "MX", "mx"):
        found = listed_ids(client.get(f"/directory/?q={query}").get_data(as_text=True))
        assert "global-fund-for-human-rights" in found, query
    zh = client.get("/directory/?lang=zh_Hant&q=墨西哥").get_data(as_text=True)
    assert "global-fund-for-human-rights" in listed_ids(zh)
    # What an entry acts on, as the filter names it; two words both count.
    detention = listed_ids(client.get("/directory/?q=detention").get_data(as_text=True))
    assert len(detention) > 3
    assert listed_ids(client.get("/directory/?q=un%20wgad").get_data(as_text=True)) == ["un-wgad"]


def test_back_to_the_directory_keeps_the_search_and_filters_and_only_them(
    client: FlaskClient, loaded: Flask
) -> None:
    sign_in(client, Role.CASEWORKER)
    listing = client.get("/directory/?q=UN&threat=detention").get_data(as_text=True)
    link = re.search(r'<h2><a href="(/directory/un-wgad\?back=[^"]+)"', listing)
    assert link, listing
    entry = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    back = re.search(r'<a href="([^"]+)">Back to the directory</a>', entry)
    assert back is not None
    assert back.group(1).replace("&amp;", "&") == "/directory/?q=UN&threat=detention"
    # Only the list's own filters come back: nothing else, no other place.
    hostile = "/directory/un-wgad?back=" + quote("threat=<script>&next=//evil.example&q=x")
    entry = client.get(hostile).get_data(as_text=True)
    back = re.search(r'<a href="([^"]+)">Back to the directory</a>', entry)
    assert back is not None
    assert back.group(1) == "/directory/?q=x"


@pytest.mark.parametrize(
    ("lang", "conditions", "languages", "note"),
    [
        (
            "en",
            "<strong>Only for people deprived of their liberty</strong></li>",
            "English, French, and Spanish",
            "English, French or Spanish",
        ),
        (
            "zh_Hans",
            "<strong>只处理被剥夺自由的人</strong></li>",
            "英语、法语和西班牙语",
            "英文、法文或西班牙文",
        ),
    ],
)
def test_an_entry_says_a_condition_once_and_lists_as_its_language_does(
    client: FlaskClient, loaded: Flask, lang: str, conditions: str, languages: str, note: str
) -> None:
    """A review read "Only for people deprived of their liberty: Only for people deprived of
    their liberty." on WGAD's page, and "英语, 法语, 西班牙语" with ASCII commas."""
    sign_in(client, Role.CASEWORKER)
    page = client.get(f"/directory/un-wgad?lang={lang}").get_data(as_text=True)
    assert conditions in page
    assert "liberty: Only" not in page
    assert "<dd>" + languages + "</dd>" in page
    # A note that says more than its label keeps its text, after the label's own colon.
    notes = re.findall(r"<li>(.*?)</li>", page.split('id="conditions-heading"')[1], re.S)
    assert any(note in said for said in notes), notes


def test_search_in_simplified_chinese_finds_the_names_it_shows(
    client: FlaskClient, loaded: Flask
) -> None:
    """简体中文 shows the Traditional names converted: a search finds what is shown, and a
    Traditional query still finds the entry."""
    sign_in(client, Role.VIEWER)
    for query in ("记者", "保护记者委员会", "記者", "保護記者"):
        html = client.get(f"/directory/?lang=zh_Hans&q={query}").get_data(as_text=True)
        assert "保护记者委员会" in html, query
        assert "没有符合的条目" not in html, query
    html = client.get("/directory/?lang=zh_Hant&q=保護記者").get_data(as_text=True)
    assert "保護記者委員會" in html
    # A Simplified query on a 繁體中文 (or English) page finds it too: 记者 found nothing there.
    for lang in ("zh_Hant", "en"):
        for query in ("记者", "保护记者委员会"):
            html = client.get(f"/directory/?lang={lang}&q={query}").get_data(as_text=True)
            assert "保護記者委員會" in html or "Committee to Protect Journalists" in html, (
                lang,
                query,
            )


def test_a_full_width_query_finds_what_its_ascii_letters_do(
    client: FlaskClient, loaded: Flask
) -> None:
    """A Chinese input method in full-width mode types ＣＰＪ: it found "0 entries" in every
    language where "cpj" found the Committee to Protect Journalists."""
    sign_in(client, Role.VIEWER)
    for lang in ("en", "zh_Hant", "zh_Hans"):
        ascii_page = client.get(f"/directory/?lang={lang}&q=cpj").get_data(as_text=True)
        wide_page = client.get(f"/directory/?lang={lang}&q=ＣＰＪ").get_data(as_text=True)
        found = listed_ids(ascii_page)
        assert "cpj" in found, lang
        assert listed_ids(wide_page) == found, lang


def test_admin_creates_edits_retires_and_restores_with_audit(
    client: FlaskClient, loaded: Flask
) -> None:
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/new").get_data(as_text=True))
    response = client.post("/directory/new", data={**entry_form(), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = db.session.get(DirectoryEntry, "test-legal-aid")
    assert entry is not None
    assert entry.countries == ["IN", "PK"]
    assert entry.languages == ["en", "hi"]
    assert entry.contacts[0] == {"kind": "web", "value": "https://example.org", "place": "Delhi"}
    assert {"id": "note", "text": "Call first."} in entry.conditions
    token = csrf_from(client.get("/directory/test-legal-aid/edit").get_data(as_text=True))
    response = client.post(
        "/directory/test-legal-aid/edit",
        data={**entry_form(name="Renamed Legal Aid", id="hijack"), "csrf_token": token},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get_one(DirectoryEntry, "test-legal-aid").name == "Renamed Legal Aid"
    assert db.session.get(DirectoryEntry, "hijack") is None
    token = csrf_from(client.get("/directory/test-legal-aid").get_data(as_text=True))
    # Retire asks first (nothing changes), then acts once confirmed.
    asked = client.post("/directory/test-legal-aid/retire", data={"csrf_token": token})
    assert asked.status_code == 200
    assert 'data-confirm="retire"' in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(DirectoryEntry, "test-legal-aid").retired_at is None
    retired = client.post(
        "/directory/test-legal-aid/retire", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert retired.status_code == 302
    db.session.expire_all()
    assert db.session.get_one(DirectoryEntry, "test-legal-aid").retired_at is not None
    assert "Renamed Legal Aid" not in client.get("/directory/?q=renamed").get_data(as_text=True)
    listed = client.get("/directory/?retired=1&q=renamed").get_data(as_text=True)
    assert "Renamed Legal Aid" in listed
    assert (
        client.post("/directory/test-legal-aid/restore", data={"csrf_token": token}).status_code
        == 302
    )
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-4:] == [
        "directory.create",
        "directory.update",
        "directory.retire",
        "directory.restore",
    ]


def test_csrf_is_enforced(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.ADMIN)
    before = table_count("directory_entries")
    assert client.post("/directory/new", data=entry_form()).status_code == 400
    assert client.post("/directory/cpj/retire").status_code == 400
    assert client.post("/directory/cpj/retire", data={"csrf_token": "forged"}).status_code == 400
    assert table_count("directory_entries") == before
    assert db.session.get_one(DirectoryEntry, "cpj").retired_at is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"id": "Bad Id!"}, "Lower-case"),
        ({"id": "cpj"}, "exists"),
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 201}, "200"),
        ({"countries": "XX, Narnia"}, "Not recognised: XX, Narnia."),
        ({"languages": "klingon"}, "Not recognised: klingon. Use a language&#39;s name"),
        ({"languages": "es, <b>x</b>"}, "Not recognised: &lt;b&gt;x&lt;/b&gt;."),
        ({"contacts": "web | javascript:alert(1)"}, "http"),
        ({"contacts": "telepathy | hello"}, "expected"),
        ({"response_days": "-1"}, "between"),
        ({"last_verified": "not a date"}, "date"),
        ({"threats": ["made_up"]}, "valid choice"),
        ({"kind": "<script>"}, "valid choice"),
        ({"description_en": "x" * 6000}, "5000"),
        # A name that shows reversed ("desrever"): the review's U+202E, and an isolate.
        ({"name": "Defenders \u202ereversed"}, "reverses the text after it"),
        ({"contacts": "email | help@\u2067example.org"}, "reverses the text after it"),
    ],
)
def test_hostile_form_input_is_refused_and_nothing_is_written(
    client: FlaskClient, loaded: Flask, override: dict[str, Any], message: str
) -> None:
    sign_in(client, Role.ADMIN)
    before = table_count("directory_entries")
    token = csrf_from(client.get("/directory/new").get_data(as_text=True))
    response = client.post("/directory/new", data={**entry_form(**override), "csrf_token": token})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert table_count("directory_entries") == before


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "en",
            [
                "Line 1: a web address starts with http:// or https://.",
                "Line 3: this is not an e-mail address.",
                "Line 4: expected 'kind | value'",
                "Line 5: this is not a working onion address",
                "Line 6: this is not a working onion address",  # version 2, gone since 2021
                "Line 7: this is not a working onion address",  # a typo: its checksum
            ],
        ),
        (
            "zh_Hant",
            [
                "第 1 行：網址須以 http:// 或 https:// 開頭。",
                "第 3 行：這不是電子郵件地址。",
                "第 4 行：格式應為",
                "第 5 行：這不是可用的洋蔥位址",
                "第 6 行：這不是可用的洋蔥位址",
                "第 7 行：這不是可用的洋蔥位址",
            ],
        ),
    ],
)
def test_every_bad_contact_line_is_said_beside_the_field_in_the_readers_language(
    client: FlaskClient, loaded: Flask, lang: str, said: list[str]
) -> None:
    """A bad web address came back as one English line in the summary, from the importer's
    checks ("test-org: web address must start with http:// or https://: 'not a url'"), and
    only the first bad line was named (a review in Chromium)."""
    sign_in(client, Role.ADMIN)
    before = table_count("directory_entries")
    token = csrf_from(client.get(f"/directory/new?lang={lang}").get_data(as_text=True))
    contacts = "\n".join(
        [
            "web | not a url",
            "phone | +886 2 1234",
            "email | nope",
            "fax",
            "onion | example.org",
            "onion | 2x2hb5ykeu4qlxqe.onion",
            f"onion | {TOR_PROJECT[:-1]}a.onion",
            f"onion | http://{TOR_PROJECT}.onion/",  # a working one: not said
        ]
    )
    response = client.post(
        "/directory/new", data={**entry_form(contacts=contacts), "csrf_token": token}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    beside = re.search(r'<p class="field-error" id="contacts-error">(.*?)</p>', page)
    assert beside, page
    lines = re.findall(r'<span class="field-error-line">([^<]*)</span>', beside.group(1))
    assert len(lines) == 6, beside.group(1)  # one line each, not one block on a phone
    shown = html.unescape(" ".join(lines))
    for words in said:
        assert words in shown, (words, shown)
    assert "Line 2" not in shown
    assert "Line 8" not in shown
    assert "must start with" not in page  # the importer's words are not the form's
    assert table_count("directory_entries") == before


COUNTRIES = ["CN", "TW", "IN", "PK"]
LANGUAGES = ["es", "en", "ar"]


@pytest.mark.parametrize(
    ("field", "lang", "typed", "stored"),
    [
        ("countries", "en", "China, Taiwan; in pk", COUNTRIES),
        ("countries", "zh_Hant", "中國、臺灣，IN PK", COUNTRIES),
        ("countries", "zh_Hans", "中国，台湾, in, pk", COUNTRIES),
        # Names in any language Refuge speaks.
        ("countries", "en", "中國, Taiwan, India, Pakistan", COUNTRIES),
        ("languages", "en", "Spanish, english; ar", LANGUAGES),
        ("languages", "zh_Hant", "西班牙文、英語，AR", LANGUAGES),
        ("languages", "zh_Hans", "西班牙语，英语, ar", LANGUAGES),
        ("languages", "en", "español, English, العربية", LANGUAGES),
        ("languages", "en", "es en ar", LANGUAGES),  # codes with spaces, as the box took them
    ],
)
def test_countries_and_languages_may_be_typed_by_name(
    client: FlaskClient, loaded: Flask, field: str, lang: str, typed: str, stored: list[str]
) -> None:
    """An admin typing names had "Unknown codes: CHINA, TAIWAN" (a review in Chromium), and
    "Spanish" "Unknown codes: spanish" (an admin's walkthrough), with nothing saying which
    codes: names in the languages Refuge speaks are read too."""
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get(f"/directory/new?lang={lang}").get_data(as_text=True))
    response = client.post(
        "/directory/new", data={**entry_form(**{field: typed}), "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    entry = db.session.get_one(DirectoryEntry, "test-legal-aid")
    assert getattr(entry, field) == stored


@pytest.mark.parametrize(
    "typed", ["Hong Kong", "香港", "中國香港特別行政區", "Hong Kong SAR China", "HK"]
)
def test_a_country_is_read_by_the_name_people_use(
    client: FlaskClient, loaded: Flask, typed: str
) -> None:
    """Only the official names were read: "Hong Kong", 香港 and 臺灣 were refused, the names
    staff in Taiwan and Hong Kong type (a review in Chromium)."""
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/new?lang=zh_Hant").get_data(as_text=True))
    response = client.post(
        "/directory/new", data={**entry_form(countries=typed), "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert db.session.get_one(DirectoryEntry, "test-legal-aid").countries == ["HK"]


def test_an_unknown_country_is_refused_as_not_recognised_listed_as_chinese_lists(
    client: FlaskClient, loaded: Flask
) -> None:
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/new?lang=zh_Hant").get_data(as_text=True))
    response = client.post(
        "/directory/new", data={**entry_form(countries="納尼亞, 中土"), "csrf_token": token}
    )
    assert response.status_code == 400
    assert "無法辨識：納尼亞、中土。" in response.get_data(as_text=True)


def test_user_text_is_escaped(client: FlaskClient, loaded: Flask) -> None:
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/new").get_data(as_text=True))
    client.post(
        "/directory/new",
        data={
            **entry_form(name="<script>alert(1)</script>", description_en="<img src=x onerror=1>"),
            "csrf_token": token,
        },
    )
    html = client.get("/directory/test-legal-aid").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_entry_texts_take_their_own_direction_isolated(client: FlaskClient, app: Flask) -> None:
    """Names, descriptions, conditions and contact details are typed by people, in any script:
    each container has dir="auto" (refuge.css isolates it), so an override inside cannot
    reverse the page around it."""
    make_entry(
        "rtl-entry",
        name="مركز \u202eevil",
        description_en="نساعد المدافعين.",
        conditions=[{"id": "note", "text": "بعد الاستنفاد."}],
        contacts=[{"kind": "phone", "value": "+20 2 1234", "place": "القاهرة", "note": "ليلاً"}],
    )
    sign_in(client, Role.VIEWER)
    listing = client.get("/directory/?lang=en").get_data(as_text=True)
    assert re.search(r'<a href="/directory/rtl-entry" dir="auto">مركز \u202eevil</a>', listing)
    assert re.search(r'<p class="directory-description" dir="auto">نساعد', listing)
    page = client.get("/directory/rtl-entry?lang=en").get_data(as_text=True)
    assert '<h1 dir="auto">مركز \u202eevil</h1>' in page
    assert 'class="written-block" dir="auto">نساعد المدافعين.</p>' in page
    for text in ("بعد الاستنفاد.", "القاهرة", "ليلاً"):
        assert f'<bdi dir="auto">{text}</bdi>' in page
    assert '<span class="directory-contact-value" dir="auto">+20 2 1234</span>' in page


def test_retiring_says_how_many_referrals_to_it_still_run(
    client: FlaskClient, loaded: Flask
) -> None:
    """One tap retired an organisation with about eight open referrals, and said nothing of
    them: the confirmation counts them, in the page's language."""
    from intake.models import ReferralKind
    from tests.referrals.conftest import sent_referral

    for _ in range(2):
        sent_referral(ReferralKind.NGO_REFERRAL, entry_id="cpj")
    sign_in(client, Role.ADMIN)
    token = csrf_from(client.get("/directory/cpj").get_data(as_text=True))
    html = client.post("/directory/cpj/retire", data={"csrf_token": token}).get_data(as_text=True)
    assert 'data-running-referrals="2"' in html
    assert "2 referrals to it still await a reply" in html
    chinese = client.post(
        "/directory/cpj/retire?lang=zh_Hant", data={"csrf_token": token}
    ).get_data(as_text=True)
    assert "有 2 個轉到它的轉介仍在等待回覆" in chinese
    assert "是，停用它" in chinese
    assert ">取消<" in chinese
    db.session.expire_all()
    assert db.session.get_one(DirectoryEntry, "cpj").retired_at is None


@pytest.mark.parametrize(
    ("lang", "label"),
    [("en", "Working Group on Arbitrary Detention follow-up (6 months)"), ("zh_Hant", None)],
)
def test_referral_kinds_are_named_as_the_referral_pages_name_them(
    client: FlaskClient, loaded: Flask, lang: str, label: str | None
) -> None:
    """The edit form said "WGAD opinion" for what referral pages call "Working Group on
    Arbitrary Detention follow-up (6 months)": one name per kind, with its deadline."""
    from flask_babel import force_locale

    from intake.labels import KIND_LABELS
    from intake.models import ReferralKind

    with loaded.test_request_context(), force_locale(lang):
        expected = label or str(KIND_LABELS[ReferralKind.WGAD_OPINION])
    assert expected != "WGAD opinion"
    sign_in(client, Role.ADMIN)
    detail = client.get(f"/directory/un-wgad?lang={lang}").get_data(as_text=True)
    edit = client.get(f"/directory/un-wgad/edit?lang={lang}").get_data(as_text=True)
    for page in (detail, edit):
        assert expected in page
        assert "WGAD opinion" not in page
