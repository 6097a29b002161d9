"""/admin/audit as staff read it: an action in words (its code beside it), a case by its
reference linked to its page, a deleted case by the id the audit keeps, in every staff
language; the references of a page in one query; never any case content."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.admin.audit_view import ACTION_LABELS
from intake.extensions import db
from intake.models import Role, User
from intake.services import audit
from intake.services.referrals import TRANSITIONS
from tests.builders import make_case, make_org_key, make_staff_with_keys, sign_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> User:
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    sign_in(client, admin)
    return admin


def rows(html: str) -> dict[str, str]:
    """Each event's row (by event id) as its text, tags removed."""
    found = re.findall(r'<tr data-event="(\d+)">(.*?)</tr>', html, re.S)
    return {n: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for n, row in found}


def test_a_case_is_named_by_its_reference_and_linked_a_deleted_one_by_its_id(
    client: FlaskClient, admin: User
) -> None:
    case = make_case(make_org_key(), {"what_happened": "CANARY-PLAINTEXT"})
    viewed = audit.record(
        "case.view", "case", case.id, actor=admin, detail={"part": "page", "outcome": None}
    )
    asked = audit.record("case.status_viewed", "case", case.id, actor_label="submitter")
    purged = audit.record("case.purged", "case", 99999, actor_label="system")
    listed = audit.record("case.list", "case", "*", actor=admin)
    db.session.commit()
    response = client.get("/admin/audit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = rows(html)
    link = f'<a class="case-ref" href="/cases/{case.ref}">{case.ref}</a>'
    assert html.count(link) == 2
    assert "Case opened" in shown[str(viewed.id)]
    assert "case.view" in shown[str(viewed.id)]  # the code stays, for whoever greps
    assert "outcome=—" in shown[str(viewed.id)]  # not Python's "None"
    assert "None" not in shown[str(viewed.id)]
    assert "admin@example.org" in shown[str(viewed.id)]
    assert "user:admin@example.org" not in shown[str(viewed.id)]
    assert "Requester checked the status" in shown[str(asked.id)]
    assert "submitter" not in shown[str(asked.id)]  # who acted, in words too
    assert "Case 99999 (deleted)" in shown[str(purged.id)]
    assert "Case list" in shown[str(listed.id)]
    assert "case 41" not in html
    assert "CANARY" not in html


def test_a_case_list_says_which_cases_it_showed_and_a_cases_filter_finds_it(
    any_app: Flask,
) -> None:
    """The queue's rows carry each case's ciphertext, and the browser opens its name and
    summary: a security review found the audit said only "Case list", not which. Now the
    event names its cases, the page links them, and the Target filter by a reference finds
    the lists that showed it (on both databases), and only those."""
    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    shown = [make_case(org) for _n in range(3)]
    db.session.commit()
    client = any_app.test_client()
    sign_in(client, admin)
    assert client.get("/cases/?view=all&sort=received_asc").status_code == 200
    other = make_case(org)
    db.session.commit()
    assert client.get(f"/cases/?view=all&q={other.ref}").status_code == 200
    html = client.get(f"/admin/audit?target_id={shown[1].ref}").get_data(as_text=True)
    found = rows(html)
    lists = [text for text in found.values() if "Case list" in text]
    assert len(lists) == 1, found
    for case in shown:
        assert f'href="/cases/{case.ref}">{case.ref}</a>' in html
    assert f'href="/cases/{other.ref}"' not in html
    assert "Cases shown:" in lists[0]
    assert "cases=[" not in html  # said as references, not as the stored ids
    html = client.get(f"/admin/audit?target_id={other.ref}").get_data(as_text=True)
    assert len([text for text in rows(html).values() if "Case list" in text]) == 1
    zh = client.get(f"/admin/audit?target_id={shown[0].ref}&lang=zh_Hant").get_data(as_text=True)
    assert "列出的案件：" in zh


def test_a_directory_entry_is_linked_as_a_case_is(client: FlaskClient, admin: User) -> None:
    entry = audit.record("directory.retire", "directory", "un-wgad", actor=admin)
    odd = audit.record("directory.retire", "directory", "../<x>", actor=admin)
    db.session.commit()
    html = client.get("/admin/audit").get_data(as_text=True)
    shown = html[html.index(f'data-event="{entry.id}"') :]
    assert '<a class="case-ref" href="/directory/un-wgad">Directory: un-wgad</a>' in shown
    odd_row = html[html.index(f'data-event="{odd.id}"') :]
    odd_row = odd_row[: odd_row.index("</tr>")]
    assert "<a " not in odd_row.split('class="cell-target"')[1].split("</td>")[0]
    assert "&lt;x&gt;" in odd_row


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Case opened", "Account reactivated", "Case 99999 (deleted)", "Requester"]),
        ("zh_Hant", ["開啟案件", "重新啟用帳號", "案件 99999（已刪除）", "求助者"]),
        ("zh_Hans", ["打开案件", "重新启用账号", "案件 99999（已删除）", "求助者"]),
    ],
)
def test_actions_and_targets_are_in_the_readers_language(
    client: FlaskClient, admin: User, lang: str, words: list[str]
) -> None:
    case = make_case(make_org_key())
    audit.record("case.view", "case", case.id, actor=admin)
    audit.record("admin.user_activated", "user", admin.id, actor=admin)
    audit.record("case.purged", "case", 99999, actor_label="system")
    audit.record("case.follow_up", "case", case.id, actor_label="submitter")
    audit.record("test.unknown_action", "thing", 1, actor=admin)
    db.session.commit()
    html = client.get(f"/admin/audit?lang={lang}").get_data(as_text=True)
    for word in words:
        assert word in html, word
    assert 'data-action="admin.user_activated"' in html
    assert "test.unknown_action" in html  # an action without words is shown by its code


def test_one_query_for_the_references_of_a_page_whatever_its_size(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    org = make_org_key()

    def statements_for_a_page_of(cases: int) -> list[str]:
        for _n in range(cases):
            case = make_case(org)
            audit.record("case.view", "case", case.id, actor=admin)
            audit.record("keys.granted", "user", admin.id, actor=admin)
        db.session.commit()
        seen: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert client.get("/admin/audit").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        return seen

    few, many = statements_for_a_page_of(2), statements_for_a_page_of(20)
    assert len(many) == len(few)
    refs = [s for s in many if re.search(r"SELECT cases\.id, cases\.ref\b", s)]
    assert len(refs) == 1


def test_paginated_as_before(client: FlaskClient, admin: User) -> None:
    for n in range(60):
        audit.record("keys.granted", "user", n + 1000, actor=admin)
    db.session.commit()
    first = client.get("/admin/audit").get_data(as_text=True)
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert len(rows(first)) == 50
    assert len(rows(second)) == 10
    assert "Account 1059" in first
    assert "Account 1000" in second


def _recorded_actions() -> set[str]:
    """Every action code passed to ``audit.record``/``audit.Entry`` in the application."""
    constants: dict[str, str] = {}
    calls: list[ast.expr] = []
    for path in (ROOT / "intake").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                module = func.value if isinstance(func, ast.Attribute) else None
                if name in {"record", "Entry"} and getattr(module, "id", "audit") == "audit":
                    calls += node.args[:1]
                    calls += [kw.value for kw in node.keywords if kw.arg == "action"]
    actions: set[str] = set()
    for expr in calls:
        for part in ast.walk(expr):
            if isinstance(part, ast.JoinedStr):  # f"referral.{action}"
                actions |= {f"referral.{action}" for action in TRANSITIONS}
            elif isinstance(part, ast.Constant) and isinstance(part.value, str):
                actions.add(part.value)
            elif isinstance(part, ast.Name | ast.Attribute):
                name = part.attr if isinstance(part, ast.Attribute) else part.id
                if name in constants:
                    actions.add(constants[name])
    return {action for action in actions if re.fullmatch(r"[a-z_]+\.[a-z_]+", action)}


def test_every_action_the_code_records_has_words() -> None:
    actions = _recorded_actions()
    assert len(actions) > 70
    assert {"case.view", "referral.send", "referral.owner_changed", "auth.totp_added"} <= actions
    assert actions - set(ACTION_LABELS) == set()


@pytest.fixture
def labels_in(app: Flask) -> Any:
    def labels(lang: str) -> dict[str, str]:
        with app.test_request_context(f"/admin/audit?lang={lang}"):
            app.preprocess_request()
            return {code: str(label) for code, label in ACTION_LABELS.items()}

    return labels


@pytest.mark.parametrize("lang", ["zh_Hant", "zh_Hans"])
def test_every_action_is_translated_for_staff(labels_in: Any, lang: str) -> None:
    english, translated = labels_in("en"), labels_in(lang)
    untranslated = [code for code in ACTION_LABELS if translated[code] == english[code]]
    assert untranslated == []
    assert len(set(translated.values())) == len(translated)  # no two actions read alike


def test_the_target_filter_takes_a_case_reference(client: FlaskClient, admin: User) -> None:
    """Staff know a case by its reference, the audit by its id: "RF-…" in the filter finds
    that case's events (and only a case's: a user with the same id is another target)."""
    org = make_org_key()
    case = make_case(org)
    other = make_case(org)
    mine = audit.record("case.view", "case", case.id, actor=admin, detail={"part": "page"})
    audit.record("case.view", "case", other.id, actor=admin, detail={"part": "page"})
    same_id = audit.record("admin.role_changed", "user", case.id, actor=admin)
    db.session.commit()
    for typed in (case.ref, case.ref.lower(), f"  {case.ref} "):
        html = client.get("/admin/audit", query_string={"target_id": typed}).get_data(as_text=True)
        assert list(rows(html)) == [str(mine.id)], typed
    by_id = client.get("/admin/audit", query_string={"target_id": str(case.id)})
    assert str(same_id.id) in rows(by_id.get_data(as_text=True))
    unknown = client.get("/admin/audit", query_string={"target_id": "RF-NOSUCHREF"})
    assert unknown.status_code == 200
    assert rows(unknown.get_data(as_text=True)) == {}
    page = client.get("/admin/audit").get_data(as_text=True)
    assert 'aria-describedby="target_id-hint"' in page
