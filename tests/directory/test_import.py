"""Importing into the database: seed, shipped data, idempotence, all-or-nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import refresh

from intake import vocab
from intake.extensions import db
from intake.models import AuditEvent, DirectoryEntry, Role
from intake.services import directory as service
from intake.services.audit import verify_chain
from intake.umbrella import parser as umbrella
from tests.builders import make_user
from tests.conftest import table_count

# The seed (shared/seeds/000_e16172a965b41fc8.txt), shipped with the project so that a clone
# tests on its own.
SEED = Path(__file__).resolve().parents[2] / "intake" / "directory" / "data" / "umbrella_zh_hant.md"
UN_IDS = {"un-sr-hrds", "ohchr", "un-wgad", "un-wgeid", "ohchr-reprisals"}


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def test_seed_import_creates_28_entries_then_reimport_changes_nothing(any_app: Flask) -> None:
    first = service.import_markdown(seed_text(), source="seed")
    assert len(first.created) == 28
    assert table_count("directory_entries") == 28
    fld = db.session.get(DirectoryEntry, "frontline-defenders")
    assert fld is not None
    assert fld.threats == [
        "violence_threat",
        "physical_attack",
        "detention",
        "lawsuit",
        "rights_violation",
    ]
    second = service.import_markdown(seed_text(), source="seed")
    assert second.created == []
    assert second.updated == []
    assert len(second.unchanged) == 28
    assert table_count("directory_entries") == 28
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 2
    assert verify_chain().ok


def test_reimport_updates_in_place(app: Flask) -> None:
    service.import_markdown(seed_text(), source="seed")
    changed = seed_text().replace(
        "**接受緊急呼籲？**無\n\n**說明：**國際人權聯合會",
        "**接受緊急呼籲？**是的！\n\n**說明：**國際人權聯合會",
    )
    assert changed != seed_text()
    summary = service.import_markdown(changed, source="seed")
    assert summary.updated == ["fidh"]
    assert table_count("directory_entries") == 28
    assert db.session.get_one(DirectoryEntry, "fidh").accepts_urgent_appeals is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "## Good\n**Where:** Global\n## Broken\njust words\n",
        "## A\n**Where:** Global\n## A\n**Where:** Global\n",
        "---\nunclosed front matter\n## A\n**Where:** Global\n",
    ],
)
def test_malformed_markdown_writes_nothing(app: Flask, text: str) -> None:
    with pytest.raises(service.DirectoryImportError) as raised:
        service.import_markdown(text, source="bad.md")
    assert raised.value.problems
    assert table_count("directory_entries") == 0
    assert table_count("audit_events") == 0


def test_json_with_one_bad_record_writes_nothing(app: Flask) -> None:
    records = service.load_shipped()
    records[5] = {**records[5], "threats": ["not-a-threat"]}
    records[7] = {**records[7], "contacts": [{"kind": "web", "value": "javascript:alert(1)"}]}
    with pytest.raises(service.DirectoryImportError) as raised:
        service.import_records(records, source="x.json")
    text = " ".join(raised.value.problems)
    assert "not-a-threat" in text
    assert "http" in text
    assert table_count("directory_entries") == 0


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        "[1, 2]",
        '{"entries": "x"}',
        '[{"id": "Bad Id", "name": "x"}]',
        '[{"id": "ok-id"}]',
        '[{"id": "ok-id", "name": "x", "response_days": -3}]',
        '[{"id": "ok-id", "name": "x", "last_verified": "yesterday"}]',
        '[{"id": "ok-id", "name": "' + "x" * 300 + '"}]',
        '[{"id": "ok-id", "name": "Defenders \\u202ereversed"}]',
        '[{"id": "ok-id", "name": "x", "contacts": [{"kind": "phone", "value": "+1 \\u2066555"}]}]',
        '[{"id": "ok-id", "name": "x", "contacts": [{"kind": "phone", "value": "+1 555",'
        ' "note": "\\u202eetoN"}]}]',
        '[{"id": "ok-id", "name": "x", "conditions": [{"id": "note", "text": "a \\u202db"}]}]',
        "[" * 100_000,  # deeper than the parser goes: a RecursionError, not a 500
    ],
)
def test_hostile_json_is_refused(app: Flask, payload: str) -> None:
    with pytest.raises(service.DirectoryImportError):
        service.import_json_text(payload, source="x.json")
    assert table_count("directory_entries") == 0


def test_shipped_data_has_the_seed_and_the_un_mechanisms(any_app: Flask) -> None:
    summary = service.import_shipped()
    assert len(summary.created) == 32
    ids = {e["id"] for e in service.export_all()}
    assert {e["id"] for e in umbrella.parse(seed_text()).entries} <= ids
    assert ids >= UN_IDS
    reprisals = db.session.get_one(DirectoryEntry, "ohchr-reprisals")
    assert {"kind": "email", "value": "ohchr-reprisals@un.org"} in reprisals.contacts
    assert reprisals.referral_kinds == ["reprisals_report"]
    wgad = db.session.get_one(DirectoryEntry, "un-wgad")
    assert "detention_only" in wgad.condition_ids()
    assert "wgad_opinion" in wgad.referral_kinds
    assert db.session.get_one(DirectoryEntry, "un-wgeid").condition_ids()[0] == "disappearance_only"
    sr = db.session.get_one(DirectoryEntry, "un-sr-hrds")
    assert {"kind": "email", "value": "urgent-action@ohchr.org"} in sr.contacts
    assert "states_only" in db.session.get_one(DirectoryEntry, "icc").condition_ids()
    for entry in db.session.scalars(sa.select(DirectoryEntry)):
        assert entry.last_verified is not None
        assert entry.description_en, entry.id
        assert entry.description_zh, entry.id


def test_shipped_data_keeps_the_seed_facts() -> None:
    shipped = {e["id"]: e for e in service.load_shipped()}
    curated_places = {"a4id", "lex-mundi-pro-bono", "icc"}  # the seed gives no location
    for parsed in umbrella.parse(seed_text()).entries:
        ours = shipped[parsed["id"]]
        assert ours["accepts_urgent_appeals"] is parsed["accepts_urgent_appeals"], parsed["id"]
        if parsed["id"] not in curated_places:
            assert ours["regions"] == parsed["regions"], parsed["id"]
        assert ours["countries"] == parsed["countries"] or parsed["id"] in {"echr", "achpr"}
        assert set(parsed["threats"]) <= set(ours["threats"]), parsed["id"]
        assert set(parsed["languages"]) <= set(ours["languages"]), parsed["id"]
        seed_values = {c["value"] for c in parsed["contacts"]}
        assert seed_values <= {c["value"] for c in ours["contacts"]}, parsed["id"]
        if parsed["id"] in RENAMED:  # the seed's own name, now out of date
            assert ours["name_zh"] == RENAMED[parsed["id"]] != parsed["name_zh"]
        else:
            assert (ours["name_zh"] or ours["name"]) == parsed["name_zh"]


# Shipped names that differ from the seed's: the UN mandate has been a Special Rapporteur
# (特別報告員) since 2008; the seed still calls it a Special Representative (特別代表), the
# title before, and pages showed that in every case, referral and directory view.
RENAMED = {"un-sr-hrds": "聯合國人權維護者處境問題特別報告員"}


def test_the_special_rapporteurs_chinese_title_is_the_current_one(any_app: Flask) -> None:

    service.import_shipped()
    sr = db.session.get_one(DirectoryEntry, "un-sr-hrds")
    with any_app.test_request_context("/directory/?lang=zh_Hans"):
        refresh()  # the locale is kept on the test's app context
        assert vocab.entry_name(sr) == "联合国人权维护者处境问题特别报告员"
    with any_app.test_request_context("/directory/?lang=zh_Hant"):
        refresh()
        assert vocab.entry_name(sr) == "聯合國人權維護者處境問題特別報告員"
    assert "特別代表" not in (sr.name_zh or "")


def test_shipped_reload_keeps_admin_edits_unless_forced(app: Flask) -> None:
    service.import_shipped()
    admin = make_user(Role.ADMIN)
    record = service.entry_to_dict(db.session.get_one(DirectoryEntry, "cpj"))
    record.pop("retired_at")
    record.update(response_days=9, last_verified=date(2099, 1, 1))
    service.update_entry("cpj", record, actor=admin)
    again = service.import_shipped()
    assert "cpj" in again.kept
    assert not again.updated
    assert db.session.get_one(DirectoryEntry, "cpj").response_days == 9
    forced = service.import_shipped(force=True)
    assert "cpj" in forced.updated
    assert db.session.get_one(DirectoryEntry, "cpj").response_days == 3


def test_markdown_reimport_keeps_curated_fields(app: Flask) -> None:
    service.import_shipped()
    service.import_markdown(seed_text(), source="seed")
    hrln = db.session.get_one(DirectoryEntry, "hrln")
    assert hrln.referral_kinds == ["ngo_referral"]
    assert hrln.threats  # curated; the seed lists none for legal networks
    assert hrln.description_en.startswith("Indian network")


def test_export_round_trips_including_retirement(app: Flask) -> None:
    service.import_shipped()
    service.set_retired("witness", True, actor=make_user(Role.ADMIN))
    exported = json.dumps(service.export_all())
    db.session.execute(sa.delete(DirectoryEntry))
    db.session.commit()
    summary = service.import_json_text(exported, source="export.json")
    assert len(summary.created) == 32
    assert db.session.get_one(DirectoryEntry, "witness").retired_at is not None
    assert db.session.get_one(DirectoryEntry, "cpj").retired_at is None
    with pytest.raises(service.DirectoryImportError):
        service.import_json_text(
            '[{"id": "x-y", "name": "X", "retired_at": "2026-01-01T00:00"}]', source="naive.json"
        )
