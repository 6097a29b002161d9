"""The queue sorted by country: by the country's name as the reader reads it, the cases without
one last whichever way round, paged like any list.

It sorted by ISO code: Switzerland (CH) came before Germany (DE) and Spain (ES) in English, and
中國 (CN) second in Chinese, where it comes last. Reversed, the cases without a country came
first, above every case that has one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseSearchToken, CaseStatus, Role
from intake.services import counting
from intake.services import queue as queue_service
from tests.builders import make_case, make_org_key, sign_in

# (reference, country, hours ago): oldest first within a country.
CASES = [
    ("RF-CH1", "CH", 30),
    ("RF-DE1", "DE", 20),
    ("RF-NO1", None, 50),
    ("RF-ES1", "ES", 10),
    ("RF-TW1", "TW", 40),
    ("RF-CN1", "CN", 5),
    ("RF-AR1", "AR", 15),
    ("RF-DE2", "DE", 60),
    ("RF-NO2", None, 5),
    ("RF-TW2", "TW", 3),
]
# Argentina, China, Germany, Spain, Switzerland, Taiwan; in Chinese by pinyin: 阿根廷 (a),
# 德國 (dé), 瑞士 (ruì), 台灣 (tái), 西班牙 (xī), 中國 (zhōng).
BY_NAME = {
    "en": ["RF-AR1", "RF-CN1", "RF-DE2", "RF-DE1", "RF-ES1", "RF-CH1", "RF-TW1", "RF-TW2"],
    "zh_Hant": ["RF-AR1", "RF-DE2", "RF-DE1", "RF-CH1", "RF-TW1", "RF-TW2", "RF-ES1", "RF-CN1"],
    "zh_Hans": ["RF-AR1", "RF-DE2", "RF-DE1", "RF-CH1", "RF-TW1", "RF-TW2", "RF-ES1", "RF-CN1"],
}
WITHOUT = ["RF-NO1", "RF-NO2"]  # oldest first


def refs_in(html: str) -> list[str]:
    return re.findall(r'class="case-ref" href="/cases/([^"]+)"', html)


def reader(any_app: Flask, locale: str) -> FlaskClient:
    client = any_app.test_client()
    me = sign_in(client, Role.CASEWORKER)
    me.language = locale
    db.session.commit()
    org = make_org_key()
    now = utcnow()
    for ref, country, hours in CASES:
        make_case(
            org,
            ref=ref,
            country=country,
            status=CaseStatus.ASSESSING,
            received_at=now - timedelta(hours=hours),
        )
    return client


def listed(client: FlaskClient, query: str) -> list[str]:
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200
    return refs_in(response.get_data(as_text=True))


@pytest.mark.parametrize("locale", ["en", "zh_Hant", "zh_Hans"])
def test_sorted_by_country_the_names_order_the_cases_in_the_readers_language(
    any_app: Flask, locale: str
) -> None:
    client = reader(any_app, locale)
    assert listed(client, "view=open&sort=country") == BY_NAME[locale] + WITHOUT
    # Reversed: the names from the end, the newest first within a country; the cases without
    # a country still last (newest first among them).
    reversed_names = list(reversed(BY_NAME[locale]))
    assert listed(client, "view=open&sort=country_desc") == reversed_names + WITHOUT[::-1]


@pytest.mark.parametrize("sort", ["country", "country_desc"])
def test_sorted_by_country_the_pages_follow_one_another(
    any_app: Flask, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    """A page is a slice of one list: every case once, across the cases without a country
    too, and the count and the pages' links as on any list."""
    monkeypatch.setattr(queue_service, "PAGE_SIZE", 3)
    monkeypatch.setattr(counting, "COUNT_CAP", 4)
    client = reader(any_app, "en")
    whole = listed(client, f"view=open&sort={sort}")[:3]
    html = client.get(f"/cases/?view=open&sort={sort}").get_data(as_text=True)
    assert "More than 4 cases" in html  # counted to the cap, as the other sorts
    for page in (2, 3, 4):
        whole += listed(client, f"view=open&sort={sort}&page={page}")
    expected = BY_NAME["en"] + WITHOUT if sort == "country" else BY_NAME["en"][::-1] + WITHOUT[::-1]
    assert whole == expected
    last = client.get(f"/cases/?view=open&sort={sort}&page=4").get_data(as_text=True)
    assert "page 4 of 4" in last


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A filter beside the sort: the same order, the other cases left out.
        ("view=open&status=assessing&sort=country", BY_NAME["en"] + WITHOUT),
        ("view=open&country=DE&sort=country", ["RF-DE2", "RF-DE1"]),
        ("view=open&country=DE&sort=country_desc", ["RF-DE1", "RF-DE2"]),
        # A search by reference finds few cases by its own index: sorted by name all the same.
        ("view=open&q=RF-&sort=country", BY_NAME["en"] + WITHOUT),
        ("view=open&q=RF-&sort=country_desc", BY_NAME["en"][::-1] + WITHOUT[::-1]),
        ("view=open&q=RF-D&sort=country", ["RF-DE2", "RF-DE1"]),
        ("view=closed&sort=country", []),
    ],
)
def test_sorted_by_country_with_a_filter_or_a_search(
    any_app: Flask, query: str, expected: list[str]
) -> None:
    client = reader(any_app, "en")
    assert listed(client, query) == expected


def test_sorted_by_country_a_search_by_keyed_tokens_keeps_the_order(any_app: Flask) -> None:
    client = reader(any_app, "zh_Hant")
    token = "0123456789abcdef0123456789abcdef"
    found = db.session.scalars(
        sa.select(Case).where(Case.ref.in_(["RF-CN1", "RF-NO2", "RF-CH1", "RF-DE1"]))
    ).all()
    for case in found:
        db.session.add(CaseSearchToken(case_id=case.id, token=token, org_key_id=case.org_key_id))
    db.session.commit()
    query = f"view=all&t={token}&k={found[0].org_key_id}&sort=country"
    assert listed(client, query) == ["RF-DE1", "RF-CH1", "RF-CN1", "RF-NO2"]
