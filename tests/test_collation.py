"""Lists of names in the reader's order (intake/collation.py): the public form's country and
language selects (built on the server, so the no-JavaScript form too), the staff queue's
country filter and the directory, with the examples a reviewer found in code-point order."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import collation
from intake.models import Role
from tests.builders import make_entry, make_org_key, sign_in


def ordered(names: list[str], locale: str) -> list[str]:
    return collation.by_name(names, str, locale)


def options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select #{select_id} in the page"
    return [
        re.sub(r"<[^>]+>", "", text).strip()
        for text in re.findall(r"<option[^>]*>(.*?)</option>", select.group(1), re.S)
    ]


def before(names: list[str], first: str, second: str) -> bool:
    return names.index(first) < names.index(second)


def test_spanish_accents_sort_with_their_letter() -> None:
    assert ordered(["Myanmar (Birmania)", "México"], "es") == ["México", "Myanmar (Birmania)"]
    assert ordered(["Bután", "Bélgica"], "es") == ["Bélgica", "Bután"]


def test_spanish_enye_is_a_letter_after_n() -> None:
    assert ordered(["Ñandú", "Nzeta", "Oro"], "es") == ["Nzeta", "Ñandú", "Oro"]


def test_french_initial_accents_sort_with_e_and_grece_before_groenland() -> None:
    names = ["Zimbabwe", "Éthiopie", "Espagne", "États-Unis", "Égypte", "Groenland", "Grèce"]
    assert ordered(names, "fr") == [
        "Égypte", "Espagne", "États-Unis", "Éthiopie", "Grèce", "Groenland", "Zimbabwe",
    ]  # fmt: skip


def test_english_aland_sorts_under_a() -> None:
    assert ordered(["Zambia", "Åland Islands", "Albania"], "en")[:2] == ["Åland Islands", "Albania"]


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_chinese_sorts_by_pinyin_not_code_point(locale: str) -> None:
    # Code points: 中 U+4E2D before 巴 U+5DF4 before 阿 U+963F; pinyin: ā, bā, zhōng.
    assert ordered(["中国", "巴西", "阿富汗"], locale) == ["阿富汗", "巴西", "中国"]


def test_chinese_reads_phrases_so_peru_is_bi() -> None:
    # 秘鲁 is Bìlǔ (not mì): between 比利时 (bǐ) and 冰岛 (bīng).
    assert ordered(["冰岛", "秘鲁", "比利时"], "zh_Hans") == ["比利时", "秘鲁", "冰岛"]


@pytest.mark.parametrize(
    ("locale", "first", "second"),
    [
        ("es", "México", "Myanmar (Birmania)"),
        ("es", "Bélgica", "Bután"),
        ("fr", "Égypte", "Espagne"),
        ("fr", "États-Unis", "Finlande"),
        ("fr", "Éthiopie", "Finlande"),
        ("fr", "Grèce", "Groenland"),
        ("zh_Hans", "阿富汗", "中国"),
        ("zh_Hans", "巴西", "中国"),
        ("zh_Hant", "阿富汗", "中國"),
        ("en", "Åland Islands", "Albania"),
    ],
)
def test_public_form_country_select_in_reader_order(
    client: FlaskClient, locale: str, first: str, second: str
) -> None:
    make_org_key()
    html = client.get(f"/request?lang={locale}").text
    assert before(options(html, "country"), first, second)


def test_public_form_other_languages_in_reader_order(client: FlaskClient) -> None:
    make_org_key()
    names = options(client.get("/request?lang=fr").text, "languages_other")
    # "éwé" (ee) code-point-sorts after every unaccented name.
    assert before(names, "éwé", "finnois")


def test_staff_queue_country_filter_in_reader_order(app: Flask, client: FlaskClient) -> None:
    sign_in(client, Role.CASEWORKER)
    names = options(client.get("/cases/?lang=zh_Hans").text, "country")
    assert before(names, "阿富汗", "中国")
    assert before(names, "巴西", "中国")


def test_directory_lists_entries_and_languages_by_the_shown_name(
    app: Flask, client: FlaskClient
) -> None:
    make_entry("entry-zhong", name="Aardvark Aid", name_zh="中华援助", languages=["es"])
    make_entry("entry-a", name="Zulu Legal", name_zh="阿拉法律", languages=["eu"])
    sign_in(client, Role.VIEWER)
    html = client.get("/directory/?lang=zh_Hans").text
    assert html.index("阿拉法律") < html.index("中华援助")
    languages = options(html, "language")
    # Code order (es, eu) is the reverse of the names' pinyin (bāsīkè, xībānyá).
    assert before(languages, "巴斯克语", "西班牙语")
