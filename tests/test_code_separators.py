"""What may stand between the groups of a receipt code or a recovery key is one class, written
out the same in crypto.py, submitter.js and recovery.js (a review: the server read a code
split by U+0085 that the browser refused, the browser one split by U+FEFF that the server
refused, and the recovery key took no phone dash at all). Node runs the scripts' own
expressions, so the test checks what the browser does, not only the text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from intake import crypto

JS = Path(__file__).resolve().parents[1] / "intake" / "static" / "js"
# Between groups: a chat app's zero-width space, a byte-order mark, NEL, a word joiner, a
# phone's en dash, an ideographic space, a soft hyphen, a full-width hyphen, a tab.
ODD = ["\u200b", "\ufeff", "\u0085", "\u2060", "\u2013", "\u3000", "\u00ad", "\uff0d", "\t"]


def _class_in(script: str, name: str) -> str:
    source = (JS / script).read_text(encoding="utf-8")
    found = re.search(rf"const {name} = /\[(.*?)\]\+/g;", source)
    assert found, f"{name} in {script}"
    return found.group(1)


@pytest.mark.parametrize(
    ("script", "name"), [("submitter.js", "CODE_SEPARATORS"), ("recovery.js", "SEPARATORS")]
)
def test_the_scripts_carry_the_servers_separators(script: str, name: str) -> None:
    assert _class_in(script, name) == crypto.CODE_SEPARATOR_CLASS


def _joined(groups: list[str], separator: str) -> str:
    return separator.join(groups)


def test_the_server_reads_a_code_and_a_key_split_by_any_of_them() -> None:
    code = crypto.new_receipt_code()
    key = crypto.new_recovery_key()
    for separator in ODD:
        assert crypto.normalise_receipt_code(_joined(code.split("-"), separator)) == code.replace(
            "-", ""
        ), repr(separator)
        assert crypto.normalise_recovery_key(_joined(key.split("-"), separator)) == key.replace(
            "-", ""
        ), repr(separator)
    # Not a separator: a letter between the groups is a stranger, not dropped.
    assert crypto.normalise_receipt_code(code.replace("-", "U", 1)) is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_drops_the_same_characters_as_the_server() -> None:
    """Every character up to U+FFFF that one side drops between groups, the other drops too."""
    expression = "/[" + _class_in("submitter.js", "CODE_SEPARATORS") + "]+/g"
    program = (
        f"const re = {expression};"
        "const out = [];"
        "for (let c = 0; c <= 0xffff; c += 1) {"
        "  if (c >= 0xd800 && c <= 0xdfff) continue;"
        "  const ch = String.fromCharCode(c);"
        "  if (('A' + ch.normalize('NFKC') + 'B').replace(re, '') === 'AB') out.push(c);"
        "}"
        "process.stdout.write(JSON.stringify(out));"
    )
    browser = json.loads(
        subprocess.run(  # noqa: S603 — node on our own program
            ["node", "-e", program], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    )
    server = [
        c
        for c in range(0x10000)
        if not 0xD800 <= c <= 0xDFFF
        and crypto._CODE_SEPARATORS.sub("", "A" + unicodedata.normalize("NFKC", chr(c)) + "B")
        == "AB"
    ]
    assert browser == server
    assert {ord(ch) for ch in ODD} <= set(server)
