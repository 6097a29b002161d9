"""The deadlines named in words (a referral kind's label, the reprisals digest line, the stated
deadline's error) are the ones intake.services.deadlines computes, in English and in every
translation: a rule changed in one place and not the other would have told caseworkers "60
days" beside a deadline of another length (a maintainer's one-home-per-rule audit)."""

from __future__ import annotations

import calendar
import re
from pathlib import Path

import pytest
from babel.dates import get_month_names
from babel.messages.pofile import read_po

from config.settings import BaseSettings
from intake.labels import KIND_LABELS
from intake.models import ReferralKind
from intake.services import deadlines

ROOT = Path(__file__).resolve().parent.parent
STAFF_LANGUAGES = set(BaseSettings.STAFF_LANGUAGES)
CATALOGUES = sorted((ROOT / "intake").glob("**/translations/*/LC_MESSAGES/messages.po"))

REPRISALS_MONTH, REPRISALS_DAY = deadlines.REPRISALS_CUTOFF


def msgid(kind: ReferralKind) -> str:
    """The English sentence of a kind's label, as written in the code (a lazy string)."""
    return str(KIND_LABELS[kind]._args[0])


REPRISALS_BY = f"{REPRISALS_DAY} {calendar.month_name[REPRISALS_MONTH]}"

# Each sentence naming a deadline, and the numbers it must say.
SAID = {
    msgid(ReferralKind.SP_URGENT_APPEAL): [deadlines.SP_REPLY_DAYS],
    msgid(ReferralKind.SP_ALLEGATION_LETTER): [deadlines.SP_REPLY_DAYS],
    msgid(ReferralKind.SP_LEGISLATION): [deadlines.LEGISLATION_HOURS],
    msgid(ReferralKind.WGAD_OPINION): [deadlines.WGAD_MONTHS],
    msgid(ReferralKind.REPRISALS_REPORT): [REPRISALS_DAY],
    msgid(ReferralKind.EMBASSY_CONTACT): [deadlines.EMBASSY_HOURS],
    "Cases for the reprisals report (due 15 April): %(n)s": [REPRISALS_DAY],
    "The stated deadline must be at least 48 hours and at most a year.": [
        deadlines.LEGISLATION_HOURS
    ],
}


def month_named(text: str, language: str) -> bool:
    """Whether ``text`` names the reprisals month in ``language`` (any of its written forms)."""
    names = {
        get_month_names(width, context, locale=language)[REPRISALS_MONTH].casefold()
        for width in ("wide", "abbreviated")
        for context in ("format", "stand-alone")
    }
    return any(name in text.casefold() for name in names)


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", re.sub(r"%\(\w+\)[sd]", "", text))]


@pytest.mark.parametrize("sentence", sorted(SAID))
def test_the_english_words_say_the_rule(sentence: str) -> None:
    assert numbers(sentence) == SAID[sentence]
    if "April" in sentence or "Reprisals" in sentence:
        assert REPRISALS_BY in sentence


def test_every_sentence_is_one_the_code_says() -> None:
    """The kind labels and the two other sentences are msgids in the code: a sentence reworded
    there without this test would no longer be checked."""
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "intake").glob("**/*.py")
    )
    for sentence in SAID:
        assert f'"{sentence}"' in source, sentence


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_translation_says_the_same_numbers(catalogue: Path) -> None:
    with catalogue.open("rb") as file:
        messages = {str(m.id): m.string for m in read_po(file) if m.id}
    checked = 0
    language = catalogue.parts[-3]
    for sentence, said in SAID.items():
        translated = messages.get(sentence)
        if not translated:
            continue
        checked += 1
        found = numbers(str(translated))
        # The reprisals date may be written day and month (4 月 15 日): the day is among them.
        assert set(said) <= set(found), (sentence, translated)
        if sentence.startswith(("Reprisals report", "Cases for the reprisals report")):
            assert REPRISALS_MONTH in found or month_named(str(translated), language), (
                sentence,
                translated,
            )
    if catalogue.parent.parent.parent == ROOT / "intake" / "translations" and (
        catalogue.parts[-3] in STAFF_LANGUAGES
    ):
        assert checked == len(SAID), "the staff languages translate every one of them"
