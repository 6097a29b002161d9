"""The per-area catalogues are merged into one per language (intake/i18n), so a message that
two areas translate differently shows whichever catalogue was read last, on every page: the
request form's "Next" read 下一页 ("next page", the staff lists' pager) in Chinese, and the
staff pages' 你 turned into the public pages' 您. One message, one translation."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent / "intake"
LANGUAGES = sorted(
    {path.parent.parent.name for path in ROOT.glob("**/translations/*/LC_MESSAGES/messages.po")}
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_message_shared_by_two_catalogues_is_translated_once(language: str) -> None:
    translations: dict[tuple[str | None, str], dict[str, object]] = defaultdict(dict)
    for path in sorted(ROOT.glob(f"**/translations/{language}/LC_MESSAGES/messages.po")):
        with path.open("rb") as source:
            catalogue = read_po(source)
        area = str(path.relative_to(ROOT)).split("translations")[0] or "(global)"
        for message in catalogue:
            if not message.id or not message.string or message.fuzzy:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            text = message.string if isinstance(message.string, str) else tuple(message.string)
            translations[(message.context, msgid)][area] = text
    disagree = {
        key: by_area for key, by_area in translations.items() if len(set(by_area.values())) > 1
    }
    assert not disagree, disagree
    assert len(translations) > 100  # the catalogues were read


# Messages whose count the browser fills in one form for every number (no plural forms reach
# the page): a word after the count that agrees with it reads wrong for one of them.
COUNT_FILLED_IN_THE_BROWSER = ("{count} answered",)


@pytest.mark.parametrize("language", ["es", "fr"])
def test_a_count_filled_in_by_the_browser_has_no_word_that_agrees_with_it(language: str) -> None:
    """The review step said "1 respondidas" and "1 répondues": these languages inflect the word
    after a number, and the page has one form for every count. They read as a label instead
    ("respuestas: 1"), as the Russian and Arabic ones did already."""
    path = ROOT / "public" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalogue = read_po(source)
    for msgid in COUNT_FILLED_IN_THE_BROWSER:
        text = str(catalogue[msgid].string)
        assert text.rstrip().endswith("{count}"), (language, text)


@pytest.mark.parametrize("language", ["zh_Hant", "zh_Hans"])
def test_sealed_to_a_key_is_one_word_in_chinese(language: str) -> None:
    """ "Sealed to a key" (encrypted for it) is 加密 on every page: the key rotation's pages said
    封存, "archived", of the very same thing."""
    sealed_to = []
    for path in sorted(ROOT.glob(f"**/translations/{language}/LC_MESSAGES/messages.po")):
        with path.open("rb") as source:
            for message in read_po(source):
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                if "sealed to" in msgid and message.string:
                    strings = (
                        message.string if isinstance(message.string, tuple) else (message.string,)
                    )
                    sealed_to.append((msgid, " ".join(map(str, strings))))
    assert sum("加密" in text for _msgid, text in sealed_to) >= 5  # (one paraphrases it)
    wrong = [(msgid, text) for msgid, text in sealed_to if "封存" in text]
    assert not wrong, wrong


STAFF_AREAS = ("admin", "auth", "cases", "directory", "referrals", "reports")


@pytest.mark.parametrize("language", ["zh_Hant", "zh_Hans"])
def test_staff_catalogues_speak_to_a_colleague(language: str) -> None:
    """Staff pages say 你 and 组织 to a colleague; the honorific register (您, 贵/貴组织, "your
    esteemed organisation") is the public pages' register for a defender. The referral form's
    date label said 贵组织时区 beside pages that say 你."""
    honorific = ("您", "贵", "貴")
    found = []
    for area in STAFF_AREAS:
        path = ROOT / area / "translations" / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as source:
            for message in read_po(source):
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                text = " ".join(str(s) for s in strings if s)
                if any(word in text for word in honorific):
                    found.append((area, message.id, text))
    assert not found, found


def test_french_is_set_as_french_typography_sets_it() -> None:
    """One apostrophe (’; the catalogues mixed it with ' in one sentence, "s'est" beside
    "l’ONU"), and no breakable space before : ? ! ; » or after «: a phone broke « Le plus sûr »
    across two lines, and a line could begin with a lone "?"."""
    wrong = []
    for path in sorted(ROOT.glob("**/translations/fr/LC_MESSAGES/messages.po")):
        with path.open("rb") as source:
            for message in read_po(source):
                if not message.id:
                    continue  # the header
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                for text in (str(s) for s in strings if s):
                    bad = "'" in text or any(
                        mark in text for mark in (" :", " ?", " !", " ;", " »", "« ")
                    )
                    if bad:
                        wrong.append((str(path.relative_to(ROOT)), text))
    assert not wrong, wrong[:5]
