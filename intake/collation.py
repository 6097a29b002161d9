"""Names in the order a reader of their language expects (the one place lists are sorted).

Python's ``sorted`` compares code points: "México" came after "Myanmar", French put "Égypte"
and "États-Unis" after "Zimbabwe", and Chinese came in code-point order. Here:

- every language but Chinese uses the Unicode Collation Algorithm with its default table
  (pyuca), which CLDR's English, French, Russian and Arabic orders follow; Spanish adds
  CLDR's one tailoring, ñ as a letter after n;
- Chinese, Simplified and Traditional alike, sorts by Hanyu Pinyin syllable and tone
  (pypinyin reads phrases, so 秘鲁 is bì lǔ). CLDR's default for zh_Hant is stroke count, but
  no well-kept package carries the stroke data; pinyin order is a known order for both
  scripts, where code-point order is none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, TypeVar

from pypinyin import Style, lazy_pinyin
from pyuca import Collator

T = TypeVar("T")

# Spanish ñ is a letter of its own after n: "n" followed by the highest code point sorts after
# every "n…" and before "o" (the table gives unassigned code points the highest weights).
_SPANISH_ENYE = {"ñ": "n\U0010ffff", "Ñ": "N\U0010ffff"}


@cache
def _collator() -> Collator:
    return Collator()


def sort_key(text: str, locale: str) -> tuple[Any, ...]:
    """A key that orders ``text`` as a reader of ``locale`` expects; ties by code point, so
    the order is the same on every run."""
    if locale.startswith("zh"):
        return (tuple(lazy_pinyin(text, style=Style.TONE3)), text)
    collated = text
    if locale.startswith("es"):
        collated = "".join(_SPANISH_ENYE.get(char, char) for char in text)
    return (_collator().sort_key(collated), text)


def by_name(items: Iterable[T], name: Callable[[T], str], locale: str) -> list[T]:
    """``items`` ordered by their shown ``name`` in ``locale``."""
    return sorted(items, key=lambda item: sort_key(name(item), locale))
