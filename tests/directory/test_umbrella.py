"""The Umbrella parser on the whole zh-Hant seed, an English sample, and malformed input.

The seed expectations below were written by reading the seed line by line: every entry, every
field (location, threats, languages, urgent appeals, contacts, conditions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from intake.umbrella import parser as umbrella

# The seed (shared/seeds/000_e16172a965b41fc8.txt), shipped with the project so that a clone
# tests on its own.
SEED = Path(__file__).resolve().parents[2] / "intake" / "directory" / "data" / "umbrella_zh_hant.md"
SAMPLE_EN = Path(__file__).resolve().parent / "data" / "umbrella_en.md"


@dataclass
class Expected:
    id: str
    name_zh: str
    section: str
    kind: str
    regions: list[str]
    countries: list[str]
    threats: list[str]
    profiles: list[str]
    languages: list[str]
    urgent: bool
    conditions: list[str]
    contacts: list[tuple[str, str]]


SEED_ENTRIES = [
    Expected(
        "frontline-defenders",
        "Front Line Defenders",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=["violence_threat", "physical_attack", "detention", "lawsuit", "rights_violation"],
        profiles=[],
        languages=["ar", "en", "fr", "ru", "es"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www.frontlinedefenders.org/"),
            ("phone", "(+353) 1 210 0489"),
            ("phone", "(+353) 1 212 3750"),
            ("phone", "(+32) 2 230 93 83"),
            ("email", "info@frontlinedefenders.org"),
            ("secure_form", "https://www.frontlinedefenders.org/secure/comment.php?l=en"),
        ],
    ),
    Expected(
        "rory-peck-trust",
        "Rory Peck Trust",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=["freelance_journalist"],
        languages=["en"],
        urgent=True,
        conditions=[],
        contacts=[("web", "https://rorypecktrust.org/"), ("phone", "(+44) 203 219 7860")],
    ),
    Expected(
        "us-cdc",
        "美國疾病控制和預防中心",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=["health"],
        profiles=[],
        languages=["en"],
        urgent=False,
        conditions=[],
        contacts=[("web", "https://www.cdc.gov"), ("phone", "+1-800-232-4636")],
    ),
    Expected(
        "amnesty-international",
        "國際特赦組織",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ar", "en", "fr", "es"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www.amnesty.org/en/"),
            ("phone", "(+1) 212 807-8400"),
            ("phone", "(+44) 20-74135500"),
        ],
    ),
    Expected(
        "asian-human-rights-commission",
        "亞洲人權委員會",
        "immediate_support",
        "organisation",
        regions=["east_asia", "south_asia", "southeast_asia"],
        countries=[],
        threats=[
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ms", "my", "zh", "en", "fr", "de", "it", "ja", "ko", "tl"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "http://www.humanrights.asia/"),
            ("phone", "852-2698 6339"),
            ("web", "http://www.humanrights.asia/contact-us"),
        ],
    ),
    Expected(
        "cpj",
        "保護記者委員會",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "lawsuit",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["en"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://cpj.org/"),
            ("phone", "(+1) 212 465-1004"),
            ("email", "report_violations@cpj.org"),
            # Its "2x2hb5ykeu4qlxqe.onion" is version 2, which Tor no longer reaches: left out.
            ("web", "https://cpj.org/emergency-response/how-to-get-help.php"),
        ],
    ),
    Expected(
        "eisf",
        "歐洲機構間安全論壇",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=["aid_worker_security"],
        profiles=["aid_worker"],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[
            ("web", "https://www.eisf.eu/"),
            ("phone", "(+44) 203 195 1360"),
            ("email", "eisf-coordinator@eisf.eu"),
        ],
    ),
    Expected(
        "fidh",
        "人權聯合會",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ar", "en", "fr", "es"],
        urgent=False,
        conditions=[],
        contacts=[("web", "https://www.fidh.org"), ("phone", "(+33) 1 43 55 25 18")],
    ),
    Expected(
        "global-fund-for-human-rights",
        "全球人權基金",
        "immediate_support",
        "organisation",
        regions=[],
        countries=["IN", "PK", "LR", "SL", "GN", "CD", "BI", "UG", "MX", "GT", "DZ", "MA", "TN"],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ar", "en", "fr", "es"],
        urgent=False,
        conditions=[],
        contacts=[
            ("web", "https://globalhumanrights.org/"),
            ("phone", "(+1) 202 347-7488"),
            ("email", "info@globalhumanrights.org"),
        ],
    ),
    Expected(
        "human-rights-first",
        "人權第一",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["en"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www.humanrightsfirst.org/resource/resources-human-rights-defenders"),
            ("phone", "(+1) 212 845-5200"),
        ],
    ),
    Expected(
        "human-rights-watch",
        "人權觀察",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "detention",
            "lawsuit",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ar", "zh", "en", "fr", "de", "he", "ko", "fa", "pt", "ru"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www.hrw.org"),
            ("phone", "(+1) 212-290-4700"),
            ("email", "hrwnyc@hrw.org"),
        ],
    ),
    Expected(
        "ishr",
        "國際人權服務",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "lawsuit",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["en"],
        urgent=False,
        conditions=[],
        contacts=[("web", "http://www.ishr.ch/"), ("phone", "(+41) 22 733 51 23")],
    ),
    Expected(
        "omct-observatory",
        "保護人權維護者觀察站",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "lawsuit",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["en"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "http://www.omct.org/human-rights-defenders/observatory/"),
            ("phone", "(+41) 22 809 4939"),
            ("email", "omct@omct.org"),
        ],
    ),
    Expected(
        "peace-brigades-international",
        "Peace Brigades International",
        "immediate_support",
        "organisation",
        regions=[
            "latin_america",
            "south_asia",
            "southeast_asia",
            "eastern_europe",
            "central_asia",
            "north_america",
        ],
        countries=[],
        threats=[
            "violence_threat",
            "detention",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[("web", "https://www.peacebrigades.org/"), ("phone", "(+44) 20 7065 0775")],
    ),
    Expected(
        "urgent-action-fund",
        "婦女人權緊急行動基金",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[
            "violence_threat",
            "physical_attack",
            "detention",
            "lawsuit",
            "rights_violation",
            "discrimination",
            "expression",
        ],
        profiles=[],
        languages=["ar", "sq", "id", "en", "fr", "ne", "es", "ru"],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "http://www.uaf-africa.org/"),
            ("web", "http://www.fondoaccionurgente.org.co/"),
            ("web", "https://www.uafanp.org/"),
            ("web", "https://www.urgentactionfund.org"),
            ("phone", "(+1) 303 442-2388"),
            ("phone", "(+254) 20 2931095"),
            ("phone", "(+57) 1 368 6155"),
            ("phone", "(+57) 312 562 1321"),
            ("email", "urgentact@urgentactionfund.org"),
            ("email", "info@uaf-africa.org"),
            ("email", "apoyos3@fondoaccionurgente.org.co"),
            ("email", "info@uafanp.org"),
        ],
    ),
    Expected(
        "witness",
        "見證人",
        "immediate_support",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[],
        profiles=[],
        languages=["en"],
        urgent=False,
        conditions=[],
        contacts=[("web", "https://witness.org/"), ("phone", "(+1) 718.783.2000")],
    ),
    Expected(
        "a4id",
        "國際發展倡導者",
        "legal_network",
        "organisation",
        regions=[],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[("web", "http://www.a4id.org/"), ("email", "info@a4id.org")],
    ),
    Expected(
        "vance-center",
        "Cyrus R. Vance國際司法中心",
        "legal_network",
        "organisation",
        regions=["latin_america", "africa", "global"],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[
            ("web", "http://www.vancecenter.org/vancecenter/"),
            ("phone", "(+1) 212 382-4718"),
        ],
    ),
    Expected(
        "hrln",
        "人權法網絡",
        "legal_network",
        "organisation",
        regions=["south_asia"],
        countries=["IN"],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[("web", "http://hrln.org/"), ("phone", "+91-11-24374501,24376922")],
    ),
    Expected(
        "islp",
        "國際高級律師項目",
        "legal_network",
        "organisation",
        regions=["global"],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[("web", "http://islp.org/"), ("email", "info@islp.org")],
    ),
    Expected(
        "lex-mundi-pro-bono",
        "Lex Mundi Pro Bono基金會",
        "legal_network",
        "organisation",
        regions=[],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[
            ("web", "https://www.lexmundiprobono.org/lexmundiprobono/default.asp"),
            ("phone", "(+1) 202 429-8169"),
        ],
    ),
    Expected(
        "pili",
        "公共利益法倡議（PILI）",
        "legal_network",
        "organisation",
        regions=["central_europe", "eastern_europe"],
        countries=["RU"],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=[],
        contacts=[
            ("web", "http://pili.org/"),
            ("phone", "(+36)1 461-5700"),
            ("phone", "(+7)795 628 00 20"),
            ("phone", "(+1)212 803-5381"),
        ],
    ),
    Expected(
        "un-sr-hrds",
        "聯合國人權維護者問題特別代表",
        "international_mechanism",
        "un_mechanism",
        regions=["global"],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www2.ohchr.org/english/issues/defenders/"),
            ("phone", "(+41) 22 917 1234"),
            ("email", "urgent-action@ohchr.org"),
            ("web", "http://www2.ohchr.org/english/issues/defenders/complaints.htm"),
            ("web", "http://www2.ohchr.org/english/issues/defenders/declaration.htm"),
        ],
    ),
    Expected(
        "ohchr",
        "聯合國人權事務高級專員辦事處",
        "international_mechanism",
        "un_mechanism",
        regions=["global"],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=True,
        conditions=[],
        contacts=[
            ("web", "https://www2.ohchr.org/english/issues/defenders/"),
            ("phone", "(+41) 22 917 0656"),
            ("email", "urgent-action@ohchr.org"),
            ("web", "http://www2.ohchr.org/english/bodies/chr/special/communications.htm"),
            ("web", "http://www.ohchr.org/EN/UDHR/Pages/UDHRIndex.aspx"),
            ("web", "http://www.ohchr.org/EN/ProfessionalInterest/Pages/InternationalLaw.aspx"),
        ],
    ),
    Expected(
        "inter-american-system",
        "美洲人權委員會（華盛頓特區）和美洲人權法院（聖荷西）",
        "international_mechanism",
        "regional_mechanism",
        regions=["americas"],
        countries=[],
        threats=[],
        profiles=[],
        languages=["en", "fr", "pt", "es"],
        urgent=True,
        conditions=["domestic_remedies_exhausted"],
        contacts=[("web", "https://www.oas.org/es/cidh/"), ("web", "http://www.corteidh.or.cr/")],
    ),
    Expected(
        "achpr",
        "非洲人權和人民權利委員會",
        "international_mechanism",
        "regional_mechanism",
        regions=["africa"],
        countries=[],
        threats=[],
        profiles=[],
        languages=["en", "fr"],
        urgent=True,
        conditions=["domestic_remedies_exhausted"],
        contacts=[("web", "http://www.achpr.org/"), ("email", "au-banjul@africa-union.org")],
    ),
    Expected(
        "echr",
        "歐洲人權法院",
        "international_mechanism",
        "regional_mechanism",
        regions=["europe"],
        countries=[],
        threats=[],
        profiles=[],
        languages=["en", "fr"],
        urgent=True,
        conditions=["domestic_remedies_exhausted"],
        contacts=[("web", "https://www.echr.coe.int/Pages/home.aspx?p=home")],
    ),
    Expected(
        "icc",
        "國際刑事法院",
        "international_mechanism",
        "international_court",
        regions=[],
        countries=[],
        threats=[],
        profiles=[],
        languages=[],
        urgent=False,
        conditions=["states_only"],
        contacts=[("web", "https://www.icc-cpi.int/")],
    ),
]


@pytest.fixture(scope="module")
def seed() -> umbrella.ParseResult:
    return umbrella.parse(SEED.read_text(encoding="utf-8"))


def test_seed_has_28_entries_in_order_and_no_errors(seed: umbrella.ParseResult) -> None:
    assert seed.ok, seed.errors
    assert [e["id"] for e in seed.entries] == [x.id for x in SEED_ENTRIES]
    assert len(seed.entries) == 28


@pytest.mark.parametrize("expected", SEED_ENTRIES, ids=lambda x: x.id)
def test_seed_entry_matches_the_source_field_by_field(
    seed: umbrella.ParseResult, expected: Expected
) -> None:
    entry = next(e for e in seed.entries if e["id"] == expected.id)
    assert entry["name_zh"] == expected.name_zh
    assert entry["section"] == expected.section
    assert entry["kind"] == expected.kind
    assert entry["regions"] == expected.regions
    assert entry["countries"] == expected.countries
    assert entry["threats"] == expected.threats
    assert entry["profiles"] == expected.profiles
    assert entry["languages"] == expected.languages
    assert entry["accepts_urgent_appeals"] is expected.urgent
    assert [c["id"] for c in entry["conditions"]] == expected.conditions
    assert [(c["kind"], c["value"]) for c in entry["contacts"]] == expected.contacts
    assert entry["description_zh"], "every seed entry has a description"


def test_seed_details_places_notes_and_english_names(seed: umbrella.ParseResult) -> None:
    by_id = {e["id"]: e for e in seed.entries}
    fld = by_id["frontline-defenders"]["contacts"]
    assert fld[1] == {"kind": "phone", "value": "(+353) 1 210 0489", "place": "24小時緊急支援"}
    assert fld[2]["place"] == "都柏林"
    cdc_phone = by_id["us-cdc"]["contacts"][1]
    assert cdc_phone["note"] == "24小時健康信息熱線，週一至週五"
    uaf_emails = [c for c in by_id["urgent-action-fund"]["contacts"] if c["kind"] == "email"]
    assert [c.get("place") for c in uaf_emails] == [None, "非洲", "拉丁美洲", "亞太地區"]
    assert by_id["a4id"]["name"] == "Advocates for International Development (A4ID)"
    assert [c["kind"] for c in by_id["cpj"]["contacts"]] == ["web", "phone", "email", "web"]
    assert by_id["cpj"]["contacts"][3]["note"] == "instructions"  # how to use Tor, kept
    assert "用盡國內" in by_id["echr"]["conditions"][0]["text"]
    assert by_id["icc"]["conditions"][0]["text"].startswith("只有國家")
    assert by_id["hrln"]["description_zh"].startswith("HRLN使用法律制度")
    assert by_id["pili"]["description_zh"].startswith("PILI通過")


def test_seed_warnings_name_the_entry_and_the_unmapped_text(seed: umbrella.ParseResult) -> None:
    messages = [str(w) for w in seed.warnings]
    assert any("保護人權維護者觀察站" in m and "各種" in m for m in messages)
    assert any("國際刑事法院" in m and "no location" in m for m in messages)
    assert any("保護記者委員會" in m and "umbrella://" in m for m in messages)
    assert any("保護記者委員會" in m and "version 2 .onion" in m for m in messages)
    assert len(messages) == 6, messages


def test_english_umbrella_sample() -> None:
    result = umbrella.parse(SAMPLE_EN.read_text(encoding="utf-8"))
    assert result.ok, result.errors
    by_id = {e["id"]: e for e in result.entries}
    assert list(by_id) == [
        "frontline-defenders",
        "rory-peck-trust",
        "peace-brigades-international",
        "inter-american-system",
        "fictional-legal-aid-collective",
    ]
    fld = by_id["frontline-defenders"]
    assert fld["regions"] == ["global"]
    assert fld["threats"] == [
        "violence_threat",
        "physical_attack",
        "detention",
        "lawsuit",
        "rights_violation",
    ]
    assert fld["languages"] == ["ar", "en", "fr", "ru", "es"]
    assert fld["accepts_urgent_appeals"] is True
    assert fld["description_en"].startswith("Front Line Defenders protects")
    assert "name_zh" not in fld
    assert [(c["kind"], c["value"], c.get("place")) for c in fld["contacts"]] == [
        ("web", "https://www.frontlinedefenders.org/", None),
        ("phone", "(+353) 1 212 3750", "Dublin"),
        ("phone", "(+32) 2 230 93 83", "Brussels"),
        ("email", "info@frontlinedefenders.org", None),
        ("secure_form", "https://www.frontlinedefenders.org/secure/comment.php?l=en", None),
    ]
    rpt = by_id["rory-peck-trust"]
    assert rpt["profiles"] == ["freelance_journalist"]
    assert rpt["threats"] == ["physical_attack", "detention"]
    assert rpt["accepts_urgent_appeals"] is True
    pbi = by_id["peace-brigades-international"]
    assert pbi["regions"] == ["latin_america", "south_asia", "southeast_asia", "north_america"]
    assert pbi["accepts_urgent_appeals"] is False
    iachr = by_id["inter-american-system"]
    assert iachr["kind"] == "regional_mechanism"
    assert iachr["section"] == "international_mechanism"
    assert [c["id"] for c in iachr["conditions"]] == ["domestic_remedies_exhausted"]
    assert iachr["languages"] == ["en", "fr", "pt", "es"]
    legal = by_id["fictional-legal-aid-collective"]
    assert legal["section"] == "legal_network"
    assert legal["countries"] == ["MX", "GT"]
    assert [(c["kind"], c["value"]) for c in legal["contacts"]] == [
        ("web", "https://example.org/legal"),
        ("onion", "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"),
        ("web", "https://example.org/guide"),
    ]
    warnings = [str(w) for w in result.warnings]
    assert any("Klingon" in w and "fictional-legal-aid-collective" not in w for w in warnings)
    assert any("Atlantis" in w for w in warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no entries found"),
        ("Just some prose without headings.\n", "no entries found"),
        ("---\ntitle: x\n## Entry\n**Where:** Global\n", "front matter"),
        ("## Lonely\nnothing useful here\n", "no recognised fields"),
        ("## A\n**Where:** Global\n## A\n**Where:** Global\n", "duplicate entry"),
        ("##\n**Where:** Global\n", "no name"),
        ("## Bad\x00\n**Where:** Global\n", "NUL"),
    ],
)
def test_malformed_markdown_is_an_error_with_a_clear_message(text: str, message: str) -> None:
    result = umbrella.parse(text)
    assert not result.ok
    assert any(message in str(issue) for issue in result.errors), result.issues


def test_unknown_labels_and_values_are_warnings_not_silence() -> None:
    text = "## Test Org\n**Where:** Global; Narnia\n**Mood:** cheerful\n**Language(s):** Elvish\n"
    result = umbrella.parse(text)
    assert result.ok
    warnings = [str(w) for w in result.warnings]
    assert any("Narnia" in w and "Test Org" in w for w in warnings)
    assert any("Mood" in w for w in warnings)
    assert any("Elvish" in w for w in warnings)


def test_unknown_section_heading_is_reported_and_filed_sensibly() -> None:
    result = umbrella.parse("# Other Mechanisms\n## Some Body\n**Where:** Global\n")
    assert result.ok
    assert result.entries[0]["section"] == "international_mechanism"
    assert any("Other Mechanisms" in str(w) for w in result.warnings)
