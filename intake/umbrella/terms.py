"""What the words of an Umbrella directory mean: labels, vocabularies, stable entry ids.

Free text in either script (Traditional or Simplified Chinese, English) is normalised and looked
up here; the parser in :mod:`intake.umbrella.parser` only knows the layout.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from babel import Locale

from intake import vocab

# --- text normalisation --------------------------------------------------------------------

# Simplified characters seen in Umbrella's zh files, mapped to Traditional, so one table of
# labels and vocabulary serves both scripts.
_S2T = str.maketrans(
    "胁类难职业记体殴监权视对论击语点说网络电话邮线达联紧吁应无尽国内际务护发现组织员会时区种资源仅",
    "脅類難職業記體毆監權視對論擊語點說網絡電話郵線達聯緊籲應無盡國內際務護發現組織員會時區種資源僅",
)
PUNCT_EDGES = " \t*:：?？!！。.、,，;；"


def normalise(text: str) -> str:
    """NFKC (full-width to ASCII), Simplified to Traditional for the characters we know,
    lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_S2T).lower()
    return re.sub(r"\s+", " ", text).strip()


def label_key(text: str) -> str:
    return normalise(text).strip(PUNCT_EDGES).replace(" ", "")


# --- labels ----------------------------------------------------------------------------------

LABELS: dict[str, str] = {}
for _field, _names in {
    "where": ["地點", "地区", "地區", "where", "location", "region"],
    "threats": [
        "威脅類型",
        "威脅類別",
        "type of threat",
        "types of threat",
        "threat type",
        "threat types",
        "type of threats",
    ],
    "languages": ["語言", "language", "languages", "language(s)"],
    "urgent": [
        "接受緊急呼籲",
        "接受緊急呼籲嗎",
        "accept urgent appeals",
        "accepts urgent appeals",
        "urgent appeals",
    ],
    "description": ["說明", "描述", "簡介", "description"],
    "web": ["網站", "網址", "web site", "website", "web"],
    "email": [
        "電子郵件",
        "電郵",
        "通過電子郵件投訴",
        "email",
        "e-mail",
        "complaints by email",
        "complaints via email",
        "complaint by email",
    ],
    "secure_form": [
        "安全的在線聯繫表格",
        "安全在線聯繫表格",
        "secure online contact form",
        "secure contact form",
    ],
    "contact_form": ["在線聯繫表格", "聯繫表格", "online contact form", "contact form"],
    "onion": [
        "安全刪除地址",
        "securedrop address",
        "secure drop address",
        "securedrop",
        "onion address",
        "tor address",
    ],
    "note": ["注意", "注", "備註", "note", "notes"],
    "resources": ["其他資源", "額外資源", "additional resources", "other resources", "resources"],
}.items():
    for _name in _names:
        LABELS[label_key(_name)] = _field

SECTION_HEADINGS = {
    "immediate_support": ["現實", "緊急支援", "immediate support", "reality", "physical"],
    "legal_network": ["法律網絡", "法律網路", "legal networks", "legal network", "legal"],
    "international_mechanism": ["國際機制", "international mechanisms", "international mechanism"],
}

# --- vocabularies ----------------------------------------------------------------------------

_THREAT_WORDS: dict[str, tuple[str, ...]] = {
    "violence_threat": (
        "暴力威脅",
        "威脅",
        "threat of violence",
        "threats of violence",
        "violent threats",
        "threats",
    ),
    "physical_attack": (
        "身體攻擊",
        "人身攻擊",
        "身體毆打",
        "毆打",
        "physical attack",
        "physical attacks",
        "physical assault",
        "assault",
    ),
    "detention": (
        "監禁",
        "拘留",
        "逮捕",
        "imprisonment",
        "detention",
        "arrest",
        "arbitrary detention",
    ),
    "lawsuit": ("訴訟", "起訴", "lawsuit", "lawsuits", "legal action", "prosecution"),
    "rights_violation": (
        "侵犯權利",
        "侵犯人權",
        "rights violation",
        "rights violations",
        "violation of rights",
        "human rights violations",
    ),
    "discrimination": ("歧視", "discrimination"),
    "expression": (
        "言論自由的攻擊",
        "對言論自由的攻擊",
        "攻擊言論自由",
        "攻擊自由言論",
        "言論自由",
        "attack on freedom of expression",
        "attacks on freedom of expression",
        "attack on free speech",
        "freedom of expression",
    ),
    "health": (
        "疾病",
        "爆發",
        "醫療保健",
        "健康",
        "disease",
        "diseases",
        "outbreak",
        "outbreaks",
        "health care",
        "healthcare",
        "health",
    ),
    "aid_worker_security": (
        "人道主義援助工作者在實地面臨安全威脅",
        "security threats faced by humanitarian aid workers in the field",
        "humanitarian aid workers facing security threats in the field",
        "aid worker security",
    ),
    "disappearance": ("強迫失蹤", "失蹤", "enforced disappearance", "disappearance"),
    "reprisal": ("報復", "reprisal", "reprisals"),
    "legislation": ("立法", "legislation"),
    "digital": ("數字威脅", "網絡攻擊", "digital threats", "digital threat", "online attacks"),
}

# Text that names who a resource serves rather than a threat (Rory Peck's "freelance
# journalists in distress: …", EISF's "aid workers facing security threats").
_PROFILE_WORDS: dict[str, tuple[str, ...]] = {
    "freelance_journalist": (
        "自由職業記者",
        "自由撰稿人",
        "freelance journalists",
        "freelancers",
        "freelance journalist",
    ),
    "journalist": ("記者", "新聞記者", "journalists", "journalist"),
    "aid_worker": ("援助工作者", "人道主義援助工作者", "aid workers", "humanitarian aid workers"),
    "woman_hrd": ("女性人權維護者", "婦女", "women human rights defenders", "women defenders"),
    "lawyer": ("律師", "lawyers"),
}

_REGION_WORDS: dict[str, tuple[str, ...]] = {
    "global": ("全球", "世界各地", "global", "worldwide", "international"),
    "east_asia": ("東亞", "east asia"),
    "south_asia": ("南亞", "south asia"),
    "southeast_asia": ("東南亞", "southeast asia", "south-east asia"),
    "latin_america": ("拉丁美洲", "拉美", "latin america", "latin america and the caribbean"),
    "north_america": ("北美", "北美洲", "north america"),
    "americas": ("美洲", "the americas", "americas"),
    "africa": ("非洲", "africa"),
    "europe": ("歐洲", "europe"),
    "central_europe": ("中歐", "central europe"),
    "eastern_europe": ("東歐", "eastern europe"),
    "central_asia": ("中亞", "central asia"),
    "asia_pacific": ("亞太地區", "亞太", "asia pacific", "asia-pacific", "asia and the pacific"),
    "middle_east_north_africa": (
        "中東和北非",
        "中東",
        "middle east",
        "middle east and north africa",
        "mena",
    ),
}
# Compound names that list two regions at once.
_REGION_COMPOUNDS: dict[str, tuple[str, ...]] = {
    "南亞和東南亞": ("south_asia", "southeast_asia"),
    "south and southeast asia": ("south_asia", "southeast_asia"),
    "south and south-east asia": ("south_asia", "southeast_asia"),
    "東歐和中亞": ("eastern_europe", "central_asia"),
    "eastern europe and central asia": ("eastern_europe", "central_asia"),
    "中歐和東歐": ("central_europe", "eastern_europe"),
    "central and eastern europe": ("central_europe", "eastern_europe"),
}
# Country names that CLDR spells differently from the Hong Kong/mainland forms in the seed.
_COUNTRY_EXTRA: dict[str, str] = {
    "剛果民主共和國": "CD",
    "剛果（金）": "CD",
    "利比里亞": "LR",
    "塞拉利昂": "SL",
    "布隆迪": "BI",
    "危地馬拉": "GT",
    "突尼斯": "TN",
    "幾內亞": "GN",
    "烏干達": "UG",
    "阿爾及利亞": "DZ",
    "俄羅斯": "RU",
    "巴基斯坦": "PK",
    "印度": "IN",
    "墨西哥": "MX",
    "摩洛哥": "MA",
    "香港": "HK",
    "台灣": "TW",
    "臺灣": "TW",
    "中國": "CN",
    "澳門": "MO",
    "russia": "RU",
    "usa": "US",
    "united states": "US",
    "uk": "GB",
    "democratic republic of the congo": "CD",
    "drc": "CD",
    "burma": "MM",
    "myanmar": "MM",
}
_LANGUAGE_EXTRA: dict[str, str] = {
    "阿拉伯語": "ar",
    "英語": "en",
    "法語": "fr",
    "俄語": "ru",
    "西班牙語": "es",
    "馬來語": "ms",
    "緬甸語": "my",
    "中文": "zh",
    "漢語": "zh",
    "普通話": "zh",
    "粵語": "zh",
    "德語": "de",
    "意大利語": "it",
    "義大利語": "it",
    "日語": "ja",
    "韓語": "ko",
    "他加祿語": "tl",
    "菲律賓語": "tl",
    "希伯來語": "he",
    "波斯語": "fa",
    "葡萄牙語": "pt",
    "阿爾巴尼亞語": "sq",
    "印度尼西亞語": "id",
    "印尼語": "id",
    "尼泊爾語": "ne",
    "土耳其語": "tr",
    "烏克蘭語": "uk",
    "chinese": "zh",
    "tagalog": "tl",
    "farsi": "fa",
    "mandarin": "zh",
    "cantonese": "zh",
}
YES = {"是", "是的", "有", "接受", "yes", "y", "true"}
NO = {"無", "否", "不", "不是", "沒有", "不接受", "no", "n", "false", "none"}


def _build_lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {normalise(word): key for key, words in table.items() for word in words}


THREAT_LOOKUP = _build_lookup(_THREAT_WORDS)
PROFILE_LOOKUP = _build_lookup(_PROFILE_WORDS)
REGION_LOOKUP = _build_lookup(_REGION_WORDS)
COMPOUND_LOOKUP = {normalise(k): v for k, v in _REGION_COMPOUNDS.items()}


@cache
def country_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for locale in ("en", "zh_Hans", "zh_Hant_HK", "zh_Hant"):
        for code, name in Locale.parse(locale).territories.items():
            if code in vocab.ISO_COUNTRIES:
                lookup[normalise(name)] = code
    for code in vocab.ISO_COUNTRIES:
        lookup.setdefault(code.lower(), code)
    lookup.update({normalise(k): v for k, v in _COUNTRY_EXTRA.items()})
    return lookup


@cache
def language_lookup() -> dict[str, str]:
    codes = vocab.language_codes()
    lookup: dict[str, str] = {}
    for locale in ("en", "zh_Hans", "zh_Hant_HK", "zh_Hant"):
        for code, name in Locale.parse(locale).languages.items():
            if code in codes:
                lookup.setdefault(normalise(name), code)
    for code in codes:
        lookup.setdefault(code, code)
    lookup.update({normalise(k): v for k, v in _LANGUAGE_EXTRA.items()})
    return lookup


# --- known entries: stable ids and English names ----------------------------------------------

_KNOWN: list[tuple[str, str, tuple[str, ...]]] = [
    ("frontline-defenders", "Front Line Defenders", ()),
    ("rory-peck-trust", "Rory Peck Trust", ()),
    (
        "us-cdc",
        "US Centers for Disease Control and Prevention",
        ("美國疾病控制和預防中心", "Centers for Disease Control and Prevention", "CDC"),
    ),
    ("amnesty-international", "Amnesty International", ("國際特赦組織",)),
    ("asian-human-rights-commission", "Asian Human Rights Commission", ("亞洲人權委員會",)),
    ("cpj", "Committee to Protect Journalists", ("保護記者委員會", "CPJ")),
    (
        "eisf",
        "European Interagency Security Forum (EISF)",
        ("歐洲機構間安全論壇", "European Interagency Security Forum", "EISF"),
    ),
    (
        "fidh",
        "International Federation for Human Rights (FIDH)",
        ("人權聯合會", "FIDH", "International Federation for Human Rights"),
    ),
    ("global-fund-for-human-rights", "Global Fund for Human Rights", ("全球人權基金",)),
    ("human-rights-first", "Human Rights First", ("人權第一",)),
    ("human-rights-watch", "Human Rights Watch", ("人權觀察",)),
    (
        "ishr",
        "International Service for Human Rights (ISHR)",
        ("國際人權服務", "International Service for Human Rights", "ISHR"),
    ),
    (
        "omct-observatory",
        "Observatory for the Protection of Human Rights Defenders",
        ("保護人權維護者觀察站", "The Observatory for the Protection of Human Rights Defenders"),
    ),
    ("peace-brigades-international", "Peace Brigades International", ("PBI",)),
    (
        "urgent-action-fund",
        "Urgent Action Fund for Women's Human Rights",
        ("婦女人權緊急行動基金", "Urgent Action Fund"),
    ),
    ("witness", "WITNESS", ("見證人",)),
    (
        "a4id",
        "Advocates for International Development (A4ID)",
        ("國際發展倡導者", "Advocates for International Development"),
    ),
    (
        "vance-center",
        "Cyrus R. Vance Center for International Justice",
        ("Cyrus R. Vance國際司法中心", "Vance Center"),
    ),
    ("hrln", "Human Rights Law Network", ("人權法網絡", "HRLN")),
    ("islp", "International Senior Lawyers Project", ("國際高級律師項目", "ISLP")),
    ("lex-mundi-pro-bono", "Lex Mundi Pro Bono Foundation", ("Lex Mundi Pro Bono基金會",)),
    (
        "pili",
        "Public Interest Law Initiative (PILI)",
        ("公共利益法倡議（PILI）", "Public Interest Law Initiative", "PILI"),
    ),
    (
        "un-sr-hrds",
        "UN Special Rapporteur on the situation of human rights defenders",
        (
            "聯合國人權維護者問題特別代表",  # the source's heading: the title before 2008
            "聯合國人權維護者問題特別報告員",
            "聯合國人權維護者處境問題特別報告員",
            "UN Special Rapporteur on Human Rights Defenders",
            "UN Special Representative on Human Rights Defenders",
        ),
    ),
    (
        "ohchr",
        "Office of the UN High Commissioner for Human Rights (OHCHR)",
        (
            "聯合國人權事務高級專員辦事處",
            "OHCHR",
            "Office of the UN High Commissioner for Human Rights",
            "Office of the United Nations High Commissioner for Human Rights",
        ),
    ),
    (
        "inter-american-system",
        "Inter-American Commission on Human Rights and Inter-American Court of Human Rights",
        (
            "美洲人權委員會（華盛頓特區）和美洲人權法院（聖荷西）",
            "Inter-American Commission on Human Rights (Washington, DC) and Inter-American Court "
            "of Human Rights (San José)",
        ),
    ),
    ("achpr", "African Commission on Human and Peoples' Rights", ("非洲人權和人民權利委員會",)),
    ("echr", "European Court of Human Rights", ("歐洲人權法院",)),
    ("icc", "International Criminal Court", ("國際刑事法院",)),
]
_KNOWN_LOOKUP: dict[str, tuple[str, str]] = {}
for _id, _english, _aliases in _KNOWN:
    for _alias in (_english, *_aliases):
        _KNOWN_LOOKUP[normalise(_alias)] = (_id, _english)

CJK = re.compile(r"[\u3400-\u9fff]")


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64]


def entry_identity(names: Iterable[str]) -> tuple[str, str | None]:
    """The stable id and English name for an entry known by any of ``names``."""
    names = [n for n in names if n]
    for name in names:
        known = _KNOWN_LOOKUP.get(normalise(name))
        if known:
            return known
    for name in names:
        if not CJK.search(name) and slugify(name):
            return slugify(name), name
    digest = hashlib.sha256(normalise(names[0]).encode()).hexdigest()[:10]
    return f"entry-{digest}", None
