"""`flask directory import|export` and `flask triage` through Flask's CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import table_count

# The seed (shared/seeds/000_e16172a965b41fc8.txt), shipped with the project so that a clone
# tests on its own.
SEED = Path(__file__).resolve().parents[2] / "intake" / "directory" / "data" / "umbrella_zh_hant.md"


def test_import_without_path_loads_the_shipped_data_and_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["directory", "import"])
    assert result.exit_code == 0, result.output
    assert "32 created" in result.output
    again = runner.invoke(args=["directory", "import", "--shipped"])
    assert again.exit_code == 0
    assert "0 created" in again.output
    assert "32 kept" in again.output
    assert table_count("directory_entries") == 32


def test_import_seed_prints_summary_and_warnings(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["directory", "import", str(SEED)])
    assert result.exit_code == 0, result.output
    assert "Imported 28 entries" in result.output
    assert "保護人權維護者觀察站" in result.output
    assert "各種" in result.output
    assert "6 warning(s)" in result.output  # among them CPJ's version 2 onion, left out


def test_import_malformed_file_fails_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("## Only a heading\nno labels at all\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["directory", "import", str(bad)])
    assert result.exit_code != 0
    assert "nothing was imported" in result.output
    assert "no recognised fields" in result.output
    assert table_count("directory_entries") == 0


def test_import_missing_or_binary_file_is_a_clear_error(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["directory", "import", str(tmp_path / "nope.md")])
    assert missing.exit_code != 0
    binary = tmp_path / "x.md"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    result = runner.invoke(args=["directory", "import", str(binary)])
    assert result.exit_code != 0
    assert "not UTF-8" in result.output
    both = runner.invoke(args=["directory", "import", str(SEED), "--shipped"])
    assert both.exit_code != 0


def test_export_lists_every_entry_as_json(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["directory", "import"])
    result = runner.invoke(args=["directory", "export"])
    assert result.exit_code == 0
    entries = json.loads(result.output)
    assert len(entries) == 32
    assert {"un-wgad", "un-wgeid", "ohchr-reprisals", "un-sr-hrds"} <= {e["id"] for e in entries}


def test_triage_prints_the_contract_shape(app: Flask) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["directory", "import"])
    request = {
        "threats": ["physical_attack"],
        "profiles": ["freelance_journalist"],
        "country": "MX",
        "languages": ["es"],
        "urgency": "immediate",
    }
    result = runner.invoke(args=["triage"], input=json.dumps(request))
    assert result.exit_code == 0, result.output
    suggestions = json.loads(result.output)
    assert suggestions
    for item in suggestions:
        assert set(item) == {"id", "name", "score", "reasons", "caveats"}
        assert item["reasons"]
    assert suggestions[0]["id"] == "embassies"
    again = runner.invoke(args=["triage"], input=json.dumps(request))
    assert again.output == result.output


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"threats": ["x"]}', "unknown threats"),
        ('{"country": "Mexico"}', "ISO 3166"),
        ('{"colour": 1}', "unknown field"),
        ("[]", "JSON object"),
        ("{" + " " * 70000 + "}", "too large"),
    ],
)
def test_triage_rejects_bad_input(app: Flask, stdin: str, message: str) -> None:
    result = app.test_cli_runner().invoke(args=["triage"], input=stdin)
    assert result.exit_code != 0
    assert message in result.output
