"""Simplified Chinese as mainland readers write it: reviews found Taiwanese usage in the
zh_Hans catalogues (分页 for a browser tab, 共用云端硬碟, 产生时间) and two words for one thing
(政府答复期限 beside 政府回复期限, 笔电 for a laptop). Each term here was found and mended once."""

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "intake"
# Taiwanese or mixed usage -> what the catalogues say instead.
TERMS = {
    "分页": "标签页",
    "云端硬碟": "网盘",
    "产生时间": "生成时间",
    "答复": "回复",
    "组织资料": "组织信息",
    "笔电": "笔记本",  # a laptop (an admin's walkthrough: the passkey's example name)
}


def msgstrs() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("zh_Hans/LC_MESSAGES/messages.po")):
        for text in re.findall(r'^msgstr(?:\[\d\])? "(.*)"$', path.read_text("utf-8"), re.M):
            found.append((str(path.relative_to(PACKAGE)), text))
    return found


@pytest.mark.parametrize(("term", "instead"), TERMS.items())
def test_simplified_chinese_does_not_use(term: str, instead: str) -> None:
    found = [(path, text) for path, text in msgstrs() if term in text]
    assert found == [], f"{term}: write {instead}"


def test_the_check_reads_the_catalogues() -> None:
    assert any("标签页" in text for _, text in msgstrs())
