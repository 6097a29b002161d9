"""Cases a search cannot find yet: every search by words says how many there are, and
/cases/search-backlog hands a key holder's browser their ciphertext, a few at a time, to
index in the background (search-backlog.js) — to case writers only, refusing what it cannot
read without a 500 and without writing anything."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from intake import crypto
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseMessage,
    CaseSearchIndex,
    CaseSearchToken,
    MessageKind,
    Role,
)
from tests.builders import OrgKeyPair, make_case, make_org_key, make_user, sign_in

CANARY = "CANARY-backlog-3e1d"


def tokens(*numbers: int) -> list[str]:
    return [f"{n:032x}" for n in numbers]


def csrf(client: FlaskClient) -> str:
    page = client.get("/cases/?view=all").get_data(as_text=True)
    found = re.search(r'data-csrf-token="([^"]+)"', page)
    assert found
    return found.group(1)


def index(client: FlaskClient, case: Case, key_id: int, values: list[str]) -> None:
    response = client.post(
        f"/cases/{case.ref}/search-tokens",
        data={"org_key_id": key_id, "tokens": " ".join(values), "csrf_token": csrf(client)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def search_page(client: FlaskClient, key_id: int, values: list[str]) -> str:
    response = client.get(f"/cases/?view=all&k={key_id}&t={','.join(values)}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def pending_note(html: str) -> str | None:
    found = re.search(r"<p [^>]*data-search-pending[^>]*>\s*(.*?)\s*</p>", html, re.S)
    return found.group(1) if found else None


def refs_in(html: str) -> list[str]:
    return re.findall(r'<tr class="case-row[^"]*" data-ref="([^"]+)"', html)


def backlog(client: FlaskClient, query: str = "") -> Any:
    return client.get(f"/cases/search-backlog{query}", headers={"Accept": "application/json"})


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


def test_every_search_by_words_says_how_many_cases_it_cannot_find_yet(
    app: Flask, client: FlaskClient
) -> None:
    old = make_org_key()  # a case indexed with it only is not searchable under the current key
    org = make_org_key()
    cases = [make_case(org, ref=f"RF-NOTE{n:02d}") for n in range(4)]
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    index(client, cases[0], org.key.id, tokens(1, 2))
    index(client, cases[1], org.key.id, tokens(2))
    db.session.add(CaseSearchIndex(case_id=cases[2].id, org_key_id=old.key.id, token_count=1))
    db.session.commit()

    # Results found, and none: both say that two cases could not be searched.
    found = search_page(client, org.key.id, tokens(2))
    assert refs_in(found) == ["RF-NOTE00", "RF-NOTE01"]
    assert pending_note(found) == (
        "2 cases are not yet searchable: they are being prepared while someone with the key"
        " has the case list open. Search again later to include them."
    )
    empty = search_page(client, org.key.id, tokens(9))
    assert refs_in(empty) == []
    assert "No case matches this search." in empty
    assert pending_note(empty) is not None
    assert pending_note(empty).startswith("2 cases are not yet searchable")  # type: ignore[union-attr]

    # A viewer's search says so too (their browser indexes nothing; someone else's does).
    viewer = app.test_client()
    sign_in(viewer, Role.VIEWER)
    assert pending_note(search_page(viewer, org.key.id, tokens(2))) is not None

    # One left: the singular; none left: nothing to say.
    index(client, cases[2], org.key.id, tokens(3))
    assert pending_note(search_page(client, org.key.id, tokens(2))) == (
        "1 case is not yet searchable: it is being prepared while someone with the key"
        " has the case list open. Search again later to include it."
    )
    index(client, cases[3], org.key.id, tokens(4))
    assert pending_note(search_page(client, org.key.id, tokens(2))) is None

    # A reference is searched by the server over every case: no note; nor on a plain list.
    make_case(org, ref="RF-NOTE99")
    db.session.commit()
    assert pending_note(client.get("/cases/?view=all&q=RF-NOTE0").get_data(as_text=True)) is None
    assert pending_note(client.get("/cases/?view=all").get_data(as_text=True)) is None
    assert pending_note(search_page(client, org.key.id, tokens(2))) is not None


def test_the_note_is_in_the_staffs_chinese(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    make_case(org, ref="RF-ZH001")
    make_case(org, ref="RF-ZH002")
    db.session.commit()
    sign_in(client, Role.CASEWORKER)
    expected = {"zh_Hant": "還有 2 件案件尚無法搜尋", "zh_Hans": "还有 2 件案件尚无法搜索"}
    for lang, words in expected.items():
        html = client.get(f"/cases/?view=all&k={org.key.id}&t={tokens(1)[0]}&lang={lang}")
        note = pending_note(html.get_data(as_text=True))
        assert note is not None
        assert note.startswith(words), note
        assert "您" not in note
        # The progress words search-backlog.js shows are translated on the page too.
        text = re.search(
            r'<script type="application/json" id="queue-text">(.*?)</script>',
            html.get_data(as_text=True),
            re.S,
        )
        assert text
        preparing = json.loads(text.group(1))["preparing"]
        assert preparing.startswith("正在準備搜尋" if lang == "zh_Hant" else "正在准备搜索")
        assert "{done}" in preparing
        assert "{total}" in preparing


def test_the_backlog_gives_unindexed_cases_in_batches_as_ciphertext_only(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    cases = [
        make_case(org, {"victim_name": CANARY, "what_happened": CANARY}, ref=f"RF-BACK{n:02d}")
        for n in range(5)
    ]
    follow_up = CaseMessage(
        case_id=cases[1].id,
        kind=MessageKind.SUBMITTER_FOLLOW_UP,
        sealed_body=crypto.seal_answers({"body": CANARY}, org.public),
        org_key_id=org.key.id,
    )
    reply = CaseMessage(
        case_id=cases[1].id,
        kind=MessageKind.STAFF_REPLY,
        sealed_body=crypto.seal_answers({"body": CANARY}, org.public),
        org_key_id=org.key.id,
    )
    db.session.add_all([follow_up, reply])
    db.session.commit()
    user = sign_in(client, Role.CASEWORKER)
    index(client, cases[0], org.key.id, tokens(1))
    before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))

    first = backlog(client, "?limit=2")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert body["org_key_id"] == org.key.id
    assert (body["total"], body["unindexed"]) == (5, 4)
    assert [c["ref"] for c in body["cases"]] == ["RF-BACK01", "RF-BACK02"]
    assert body["next"] == "RF-BACK02"
    one = body["cases"][0]
    assert one["tokens_url"] == "/cases/RF-BACK01/search-tokens"
    assert one["org_key_id"] == org.key.id
    assert one["sealed_answers"] == cases[1].sealed_answers
    # Only what is searched with the case: the follow-up, not the reply sealed to the submitter.
    assert [(m["id"], m["kind"]) for m in one["messages"]] == [
        (follow_up.id, "submitter_follow_up")
    ]
    assert CANARY.lower() not in first.get_data(as_text=True).lower()

    second = backlog(client, "?limit=2&after=RF-BACK02").get_json()
    assert [c["ref"] for c in second["cases"]] == ["RF-BACK03", "RF-BACK04"]
    third = backlog(client, "?limit=2&after=RF-BACK04").get_json()
    assert (third["cases"], third["next"]) == ([], None)
    # Without a limit: BACKLOG_BATCH; fewer than asked for: no next batch.
    default = backlog(client).get_json()
    assert [c["ref"] for c in default["cases"]] == [f"RF-BACK0{n}" for n in range(1, 5)]
    assert default["next"] is None

    # Each case whose ciphertext went out is audited as a view of it, by whom.
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)
    ).all()
    views = [e for e in events if e.action == "case.view"]
    assert len(views) == 2 + 2 + 4
    assert {e.detail["part"] for e in views} == {"search_backlog"}
    assert {e.actor_id for e in views} == {user.id}

    # Indexed since: no longer given, and counted.
    index(client, cases[2], org.key.id, tokens(2))
    after = backlog(client).get_json()
    assert [c["ref"] for c in after["cases"]] == ["RF-BACK01", "RF-BACK03", "RF-BACK04"]
    assert after["unindexed"] == 3


def test_the_backlog_is_empty_without_an_organisation_key(app: Flask, client: FlaskClient) -> None:
    sign_in(client, Role.CASEWORKER)
    body = backlog(client).get_json()
    assert body == {"org_key_id": None, "total": 0, "unindexed": 0, "cases": [], "next": None}


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=26",
        "?limit=-1",
        "?limit=1e3",
        "?limit=%EF%BC%91",  # a full-width digit
        "?limit=99999999999999999999",
        "?limit=abc",
        "?after=%3Cscript%3E",
        "?after=" + "A" * 25,
        "?after=RF%00X",
        "?after=RF-%E4%B8%80",
    ],
)
def test_the_backlog_refuses_malformed_requests_without_a_500(
    app: Flask, client: FlaskClient, org: OrgKeyPair, query: str
) -> None:
    make_case(org, {"what_happened": CANARY})
    sign_in(client, Role.CASEWORKER)
    before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    response = backlog(client, query)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert CANARY.lower() not in response.get_data(as_text=True).lower()
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == before


def test_the_backlog_is_for_case_writers_only(
    app: Flask, client: FlaskClient, org: OrgKeyPair
) -> None:
    make_case(org, {"what_happened": CANARY})
    assert backlog(client).status_code == 302  # signed out: to the sign-in page
    assert "/login" in backlog(client).headers["Location"]
    sign_in(client, make_user(Role.VIEWER))
    refused = backlog(client)
    assert refused.status_code == 403
    assert CANARY.lower() not in refused.get_data(as_text=True).lower()
    for role in (Role.CASEWORKER, Role.ADMIN):
        writer = app.test_client()
        sign_in(writer, role)
        assert backlog(writer).status_code == 200
    assert client.post("/cases/search-backlog").status_code in (400, 405)
    # Only a case writer's queue page tells its script where the backlog is.
    viewer_page = client.get("/cases/?view=all").get_data(as_text=True)
    assert "data-backlog-url" not in viewer_page
    writer = app.test_client()
    sign_in(writer, Role.CASEWORKER)
    assert 'data-backlog-url="/cases/search-backlog"' in writer.get("/cases/").get_data(
        as_text=True
    )


def test_the_folding_migration_has_every_case_indexed_again_keeping_its_tokens(
    unmigrated_app: Callable[[str], Flask],
) -> None:
    """Tokens made before search.js folded Traditional into Simplified characters would miss a
    folded query: migration 0033 marks every case as not indexed (the background indexing
    computes them again) and leaves its tokens, so what was findable still is until then."""
    app = unmigrated_app("sqlite")
    with app.app_context():
        upgrade(revision="0032")
        org = make_org_key()
        case = make_case(org)
        db.session.add(CaseSearchToken(case_id=case.id, token=tokens(1)[0], org_key_id=org.key.id))
        db.session.add(CaseSearchIndex(case_id=case.id, org_key_id=org.key.id, token_count=1))
        db.session.commit()
        upgrade()
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count(CaseSearchIndex.case_id))) == 0
        assert db.session.scalars(sa.select(CaseSearchToken.token)).all() == tokens(1)
        db.session.remove()
        db.engine.dispose()
