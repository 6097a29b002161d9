"""Triage reasons are stored in English and shown to staff in their own language."""

from __future__ import annotations

from typing import Any

from flask import Flask

from intake.models import Role, Urgency
from intake.services import directory as directory_service
from intake.services.triage import Routing, suggestions_for
from intake.services.triage_phrases import lines
from tests.builders import make_case, make_org_key, sign_in

SCENARIOS: list[tuple[list[str], list[str], str, list[str], Urgency]] = [
    (["detention"], ["lawyer"], "CN", ["zh"], Urgency.IMMEDIATE),
    (["physical_attack"], ["freelance_journalist"], "MX", ["es"], Urgency.DAYS),
    (["violence_threat"], ["woman_hrd"], "PH", ["tl", "en"], Urgency.WEEKS),
    (["lawsuit"], ["journalist"], "IN", ["hi"], Urgency.NOT_URGENT),
    (["disappearance"], ["family_member"], "BD", ["bn"], Urgency.IMMEDIATE),
]


def test_phrases_render_exactly_the_stored_english_reasons(app: Flask) -> None:
    directory_service.import_shipped()
    seen = 0
    with app.test_request_context("/?lang=en"):
        for threats, profiles, country, languages, urgency in SCENARIOS:
            routing = Routing(urgency, threats, profiles, country, languages)
            for suggestion in suggestions_for(routing):
                assert lines(suggestion, "reasons") == suggestion["reasons"]
                assert lines(suggestion, "caveats") == suggestion["caveats"]
                seen += len(suggestion["reasons"])
    assert seen > 20


def test_staff_read_triage_reasons_in_traditional_chinese(app: Flask) -> None:
    directory_service.import_shipped()
    case = make_case(
        make_org_key(),
        urgency=Urgency.IMMEDIATE,
        threats=["detention"],
        profiles=["lawyer"],
        country="CN",
        languages=["zh"],
    )
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/cases/{case.ref}?lang=zh_Hant").get_data(as_text=True)
    assert "生命或人身自由正處於危險：請在 24 小時內聯繫使館" in html
    assert "服務範圍遍及全球" in html
    assert "Works worldwide" not in html
    english = client.get(f"/cases/{case.ref}?lang=en").get_data(as_text=True)
    assert "Works worldwide" in english


def test_suggestions_stored_before_phrases_still_show_their_english(app: Flask) -> None:
    old: dict[str, Any] = {"id": "x", "name": "X", "score": 1, "reasons": ["Old reason"]}
    with app.test_request_context("/?lang=zh_Hant"):
        assert lines(old, "reasons") == ["Old reason"]
        assert lines(old, "caveats") == []
        broken = {**old, "reasons_i18n": [{"msg": "Handles %(threats)s", "args": {}}]}
        assert lines(broken, "reasons") == ["Old reason"]  # the stored English, never a 500
        junk = {**old, "reasons_i18n": [{"msg": "%(x)s", "args": {"x": "not a list"}}]}
        assert lines(junk, "reasons") == ["Old reason"]
