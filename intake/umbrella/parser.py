"""Parser for the Umbrella security app's emergency-support Markdown (zh-Hant and English).

Pure: text in, :class:`ParseResult` out (entries as plain dicts of model fields, plus issues),
no database. Errors make the whole file unusable (the importer writes nothing); warnings name the
entry and the text that could not be mapped to a controlled vocabulary, so nothing is dropped
silently. The format is loose in practice; the seed shows labels inside or outside the bold
(``**語言：**``, ``**語言**: 英語``, ``說明：…``), label variants (說明/描述, simplified 威胁类型),
a label and value swapped (``**英語** 語言``), links split across lines and phone lines such as
``都柏林，聯係電話：(+353) 1 212 3750`` or ``Dublin, Tel: (+353) 1 212 3750``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from intake.umbrella.terms import (
    CJK,
    COMPOUND_LOOKUP,
    LABELS,
    NO,
    PROFILE_LOOKUP,
    PUNCT_EDGES,
    REGION_LOOKUP,
    SECTION_HEADINGS,
    THREAT_LOOKUP,
    YES,
    country_lookup,
    entry_identity,
    label_key,
    language_lookup,
    normalise,
)

Severity = Literal["error", "warning"]

_PHONE_WORDS = r"(?:聯係電話|聯繫電話|联系电话|联係电话|電話|电话|tel\.?|phone|telephone)"
_PHONE_LINE = re.compile(
    rf"^(?:(?P<place>[^:：*\[\]]{{1,40}}?)\s*[,，]\s*)?{_PHONE_WORDS}\s*[:：]\s*(?P<numbers>.+)$",
    re.IGNORECASE,
)
_BOLD_LINE = re.compile(r"^\*\*(?P<label>[^*]+?)\*\*\s*(?P<value>.*)$")
_PLAIN_LABEL = re.compile(r"^(?P<label>[^\s*：:\[\]()（）]{1,30})\s*[:：]\s*(?P<value>.*)$")
_BULLET = re.compile(r"^\s*[*\-+]\s+(?P<text>.+)$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s*(?P<title>.*?)\s*#*\s*$")

_MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\s*\((?P<target>[^)\s]*)\)")
_URL = re.compile(
    r"(?:(?:https?|umbrella)://)?(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?"
    r"(?:/[A-Za-z0-9\-._~/?#@!$&'*+,;=%:]*)?"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_ONION = re.compile(r"\b[a-z2-7]{16,56}\.onion\b", re.IGNORECASE)
V3_ONION_LENGTH = len("x" * 56 + ".onion")
_PAREN = re.compile(r"[（(](?P<inner>[^()（）]*)[）)]")
_TRAILING_NOTE = re.compile(r"\s*[（(](?P<note>[^()（）]*[^\d\s+\-()（）.][^()（）]*)[）)]\s*$")

# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseIssue:
    severity: Severity
    line: int
    entry: str | None
    message: str
    text: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.entry}" if self.entry else "")
        quoted = f": {self.text!r}" if self.text else ""
        return f"{self.severity}: {where}: {self.message}{quoted}"


@dataclass
class ParseResult:
    entries: list[dict[str, Any]]
    issues: list[ParseIssue]
    preamble: str = ""

    @property
    def errors(self) -> list[ParseIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ParseIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Block:
    heading: str
    line: int
    section: str
    fields: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    phones: list[tuple[int, str]] = field(default_factory=list)
    resources: list[tuple[int, str]] = field(default_factory=list)
    alt_names: list[str] = field(default_factory=list)
    stray: list[tuple[int, str]] = field(default_factory=list)


# --- parsing ---------------------------------------------------------------------------------


def parse(text: str, *, source_language: str | None = None) -> ParseResult:
    """Parse Umbrella Markdown. ``source_language`` ("zh" or "en") decides whether the
    descriptions and names are Chinese or English; it is guessed from the text if omitted."""
    issues: list[ParseIssue] = []
    if "\x00" in text:
        return ParseResult([], [ParseIssue("error", 1, None, "the file contains NUL bytes")])
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _skip_front_matter(lines, issues)
    if issues:
        return ParseResult([], issues)
    language = source_language or ("zh" if len(CJK.findall(text)) > 50 else "en")

    blocks: list[_Block] = []
    preamble: list[str] = []
    section = "immediate_support"
    current: _Block | None = None
    field_name: str | None = None

    for number, raw in enumerate(lines[start:], start=start + 1):
        line = raw.strip()
        heading = _HEADING.match(line) if line.startswith("#") else None
        if heading:
            level = len(heading["hashes"])
            title = heading["title"].strip()
            if level == 2:
                if not title:
                    issues.append(ParseIssue("error", number, None, "an entry heading has no name"))
                    current = None
                    continue
                current = _Block(heading=title, line=number, section=section)
                blocks.append(current)
                field_name = None
            elif level == 1:
                section = _section_for(title, number, issues)
                current = None
                field_name = None
            elif current is None:
                preamble.append(line)
            continue
        if current is None:
            preamble.append(line)
            continue
        if not line:
            if field_name not in {"description", "resources"}:
                field_name = None
            continue
        field_name = _read_line(current, line, number, field_name, issues)

    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for block in blocks:
        entry = _build_entry(block, language, issues)
        if entry is None:
            continue
        if entry["id"] in seen:
            issues.append(
                ParseIssue(
                    "error",
                    block.line,
                    block.heading,
                    f"duplicate entry (same id as line {seen[entry['id']]})",
                    entry["id"],
                )
            )
            continue
        seen[entry["id"]] = block.line
        entries.append(entry)
    if not blocks:
        issues.append(
            ParseIssue(
                "error",
                1,
                None,
                "no entries found: expected '## Name' headings with '**Label:** value' lines",
            )
        )
    issues.sort(key=lambda i: (i.line, i.severity))
    return ParseResult(entries, issues, "\n".join(p for p in preamble if p).strip())


def _skip_front_matter(lines: list[str], issues: list[ParseIssue]) -> int:
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return index + 1
    issues.append(ParseIssue("error", 1, None, "front matter opened with '---' is never closed"))
    return len(lines)


def _section_for(title: str, number: int, issues: list[ParseIssue]) -> str:
    key = label_key(title)
    for section, names in SECTION_HEADINGS.items():
        if any(label_key(name) == key for name in names):
            return section
    guess = "international_mechanism" if re.search(r"機制|mechanism", key) else "immediate_support"
    message = f"unknown section heading; entries below filed under {guess}"
    issues.append(ParseIssue("warning", number, None, message, title))
    return guess


def _read_line(
    block: _Block, line: str, number: int, field_name: str | None, issues: list[ParseIssue]
) -> str | None:
    """Attach one non-blank line to ``block``; returns the field later lines continue."""
    bold = _BOLD_LINE.match(line)
    if bold:
        label = LABELS.get(label_key(bold["label"]))
        value = bold["value"].strip().lstrip(":：").strip()
        if label is None and LABELS.get(label_key(value)) is not None:
            # "**英語** 語言": the value in bold and the label after it.
            label, value = LABELS[label_key(value)], bold["label"].strip()
        if label is None:
            issues.append(
                ParseIssue(
                    "warning",
                    number,
                    block.heading,
                    "unknown label, line kept out of the entry",
                    line,
                )
            )
            return None
        return _add_field(block, label, value, number)
    phone = _PHONE_LINE.match(line)
    if phone:
        block.phones.append((number, line))
        return None
    plain = _PLAIN_LABEL.match(line)
    if plain and LABELS.get(label_key(plain["label"])):
        return _add_field(block, LABELS[label_key(plain["label"])], plain["value"], number)
    bullet = _BULLET.match(line)
    if bullet and field_name == "resources":
        block.resources.append((number, bullet["text"].strip()))
        return "resources"
    if field_name and field_name != "resources":
        values = block.fields[field_name]
        last_number, last = values[-1]
        glue = "" if _unbalanced(last) else ("\n\n" if field_name == "description" else " ")
        values[-1] = (last_number, f"{last}{glue}{line}" if last else line)
        return field_name
    if not block.fields and not block.phones:
        block.alt_names.append(line)
        return None
    block.stray.append((number, line))
    return None


def _add_field(block: _Block, label: str, value: str, number: int) -> str:
    block.fields.setdefault(label, []).append((number, value.strip()))
    return label


def _unbalanced(text: str) -> bool:
    """A link broken across lines leaves a bracket open: join without a space."""
    return text.count("(") > text.count(")") or text.count("[") > text.count("]")


# --- building an entry -----------------------------------------------------------------------


def _build_entry(block: _Block, language: str, issues: list[ParseIssue]) -> dict[str, Any] | None:
    name = block.heading
    usable = set(block.fields) - {"note"}
    if not usable and not block.phones:
        issues.append(
            ParseIssue(
                "error",
                block.line,
                name,
                "entry has no recognised fields (expected labels such as "
                "**地點：** / **Where:**, **說明：** / **Description:**)",
            )
        )
        return None
    entry_id, english = entry_identity([name, *block.alt_names])
    warn = _warner(issues, name)
    for number, text in block.stray:
        warn(number, "text outside any field", text)
    for label, values in block.fields.items():
        if len(values) > 1 and label not in {"description", "note", "email", "web"}:
            warn(values[1][0], f"label '{label}' repeated; values merged", values[1][1])

    regions: list[str] = []
    countries: list[str] = []
    contacts: list[dict[str, str]] = []
    threats: list[str] = []
    profiles: list[str] = []
    languages: list[str] = []
    conditions: list[dict[str, str]] = []

    for number, value in block.fields.get("where", []):
        _parse_where(value, number, regions, countries, contacts, warn)
    for number, value in block.fields.get("threats", []):
        _parse_threats(value, number, threats, profiles, warn)
    for number, value in block.fields.get("languages", []):
        _parse_languages(value, number, languages, warn)
    urgent = False
    for number, value in block.fields.get("urgent", []):
        urgent = _parse_yes_no(value, number, warn)
    description = "\n\n".join(v for _, v in block.fields.get("description", [])).strip()
    description = _strip_links(description)

    for number, value in block.fields.get("web", []):
        _parse_web(value, number, "web", contacts, warn)
    for number, value in block.phones:
        _parse_phones(value, number, contacts, warn)
    for number, value in block.fields.get("email", []):
        _parse_emails(value, number, contacts, warn)
    for number, value in block.fields.get("secure_form", []):
        _parse_web(value, number, "secure_form", contacts, warn)
    for number, value in block.fields.get("contact_form", []):
        _parse_web(value, number, "web", contacts, warn, note="contact form")
    for number, value in block.fields.get("onion", []):
        _parse_onion(value, number, contacts, warn)
    for number, value in block.resources:
        _parse_resource(value, number, contacts, warn)
    if "resources" in block.fields:
        for number, value in block.fields["resources"]:
            if value:
                _parse_resource(value, number, contacts, warn)

    for _, value in block.fields.get("note", []):
        conditions.append(_condition_from_note(_strip_links(value)))
    for condition in _conditions_in_text(description):
        if condition["id"] not in {c["id"] for c in conditions}:
            conditions.append(condition)

    if not regions and not countries:
        warn(
            block.line,
            "no location given; the entry will not match any country until one is set",
            "",
        )
    kind = _guess_kind(block.section, english or name)
    entry: dict[str, Any] = {
        "id": entry_id,
        "name": english or name,
        "kind": kind,
        "section": block.section,
        "regions": _unique(regions),
        "countries": _unique(countries),
        "threats": _unique(threats),
        "profiles": _unique(profiles),
        "languages": _unique(languages),
        "accepts_urgent_appeals": urgent,
        "contacts": _unique_contacts(contacts),
        "conditions": conditions,
        "line": block.line,
    }
    if language == "zh":
        entry["name_zh"] = name
        entry["description_zh"] = description
    else:
        entry["description_en"] = description
    if english is None:
        warn(
            block.line,
            "no English name known; the Chinese name is used and the id derived from it",
            entry_id,
        )
    return entry


def _warner(issues: list[ParseIssue], entry: str) -> Any:
    def warn(number: int, message: str, text: str) -> None:
        issues.append(ParseIssue("warning", number, entry, message, text))

    return warn


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_contacts(contacts: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    result = []
    for contact in contacts:
        key = (contact["kind"], contact["value"].rstrip("/").lower())
        if key not in seen:
            seen.add(key)
            result.append(contact)
    return result


def _split(value: str) -> list[str]:
    return [part.strip(PUNCT_EDGES) for part in re.split(r"[,，;；、/]|\band\b", value)]


def _strip_links(text: str) -> str:
    return _MD_LINK.sub(lambda m: m["text"] or m["target"], text).strip()


def _parse_where(
    value: str,
    number: int,
    regions: list[str],
    countries: list[str],
    contacts: list[dict[str, str]],
    warn: Any,
) -> None:
    # Links in a location (UAF's regional funds) are the regional offices' sites: keep them.
    for link in _MD_LINK.finditer(value):
        url = _normalise_url(link["target"])
        if url:
            contacts.append({"kind": "web", "value": url, "place": link["text"].strip()})
    text = _strip_links(value)
    while _PAREN.search(text):
        text = _PAREN.sub(" ", text)
    for token in re.split(r"[,，;；、/]", text):
        token = token.strip(PUNCT_EDGES)
        if not token:
            continue
        places = _place_ids(token)
        if places is None:
            # "X and Y" not known as one name: try the parts.
            parts = [p.strip(PUNCT_EDGES) for p in re.split(r"\band\b|和", token)]
            found = [_place_ids(part) for part in parts if part]
            if len(parts) > 1 and all(found):
                places = [place for group in found if group for place in group]
        if places is None:
            warn(number, "unknown region or country", token)
            continue
        for place in places:
            (countries if place.isupper() else regions).append(place)


def _place_ids(token: str) -> list[str] | None:
    key = normalise(token)
    if key in COMPOUND_LOOKUP:
        return list(COMPOUND_LOOKUP[key])
    if key in REGION_LOOKUP:
        return [REGION_LOOKUP[key]]
    if key in country_lookup():
        return [country_lookup()[key]]
    return None


def _parse_threats(
    value: str, number: int, threats: list[str], profiles: list[str], warn: Any
) -> None:
    text = _strip_links(value)
    rest = text
    # "遭受苦难的自由职业记者：身体殴打，…": who is served, then the threats.
    colon = re.search(r"[:：]", text)
    if colon:
        head, rest = text[: colon.start()], text[colon.end() :]
        found = _profiles_in(head)
        if found:
            profiles.extend(found)
        else:
            warn(number, "unknown group before ':' in threat types", head.strip())
    for token in _split(rest):
        if not token:
            continue
        key = normalise(token)
        threat = THREAT_LOOKUP.get(key)
        if threat is None:
            # Longest known phrase inside the token ("攻擊言論自由" inside a longer text).
            inside = sorted((w for w in THREAT_LOOKUP if len(w) > 1 and w in key), key=len)
            threat = THREAT_LOOKUP[inside[-1]] if inside else None
        if threat is None:
            warn(number, "unknown threat type", token)
            continue
        threats.append(threat)
        if threat == "aid_worker_security":
            profiles.append("aid_worker")


def _profiles_in(text: str) -> list[str]:
    key = normalise(text)
    found = _unique(pid for word, pid in PROFILE_LOOKUP.items() if word in key)
    if "freelance_journalist" in found and "journalist" in found:
        found.remove("journalist")
    return found


def _parse_languages(value: str, number: int, languages: list[str], warn: Any) -> None:
    lookup = language_lookup()
    for token in _split(_strip_links(value)):
        if not token:
            continue
        key = normalise(token)
        code = lookup.get(key) or lookup.get(key.replace("語", "文"))
        if code:
            languages.append(code)
        else:
            warn(number, "unknown language (not an ISO 639-1 language)", token)


def _parse_yes_no(value: str, number: int, warn: Any) -> bool:
    key = normalise(value).strip(PUNCT_EDGES)
    if key in YES or key.startswith("yes") or key.startswith("是"):
        return True
    if key in NO or key.startswith("no") or key.startswith("不"):
        return False
    warn(number, "cannot tell whether urgent appeals are accepted; taken as no", value)
    return False


def _normalise_url(raw: str) -> str | None:
    url = re.sub(r"\s+", "", raw).rstrip(".,;。，")
    if not url or url.startswith("umbrella://"):
        return None
    if not re.match(r"^https?://", url, re.IGNORECASE):
        if not re.match(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?:[/:?#]|$)", url):
            return None
        url = "https://" + url
    return url


def _parse_web(
    value: str,
    number: int,
    kind: str,
    contacts: list[dict[str, str]],
    warn: Any,
    note: str | None = None,
) -> None:
    found = False
    if "umbrella://" in value:
        warn(number, "links into the Umbrella app cannot be followed here; ignored", value)
    links = list(_MD_LINK.finditer(value))
    for link in links:
        target = _normalise_url(link["target"])
        label = link["text"].strip()
        if target is None and _URL.fullmatch(label):
            target = _normalise_url(label)
        if target:
            contact = {"kind": kind, "value": target}
            if (
                label
                and not _URL.fullmatch(label.replace(" ", ""))
                and not label.startswith("http")
            ):
                contact["note"] = label
            elif note:
                contact["note"] = note
            contacts.append(contact)
            found = True
    if not found:
        rest = _MD_LINK.sub(" ", value)
        for match in _URL.finditer(rest.replace("[", " ").replace("]", " ")):
            target = _normalise_url(match.group())
            if target:
                contacts.append({"kind": kind, "value": target, **({"note": note} if note else {})})
                found = True
                break
    if not found:
        warn(number, "no web address found", value)


def _parse_phones(line: str, number: int, contacts: list[dict[str, str]], warn: Any) -> None:
    match = _PHONE_LINE.match(line)
    if match is None:  # pragma: no cover - only called on matching lines
        return
    place = (match["place"] or "").strip()
    numbers = match["numbers"].replace("（", "(").replace("）", ")").strip()
    note = None
    trailing = _TRAILING_NOTE.search(numbers)
    if trailing:
        note = trailing["note"].strip()
        numbers = numbers[: trailing.start()].strip()
    for value in re.split(r"[;；]", numbers):
        value = value.strip()
        if len(re.findall(r"\d", value)) < 6:
            warn(number, "no phone number found", line)
            continue
        contact = {"kind": "phone", "value": re.sub(r"\s+", " ", value)}
        if place:
            contact["place"] = place
        if note:
            contact["note"] = note
        contacts.append(contact)


def _parse_emails(value: str, number: int, contacts: list[dict[str, str]], warn: Any) -> None:
    found = False
    for part in re.split(r"[;；]", value):
        emails = _EMAIL.findall(part)
        place_match = _PAREN.search(_EMAIL.sub("", part))
        for email in emails:
            contact = {"kind": "email", "value": email}
            if place_match and not re.search(r"https?://|\[", place_match["inner"]):
                contact["place"] = place_match["inner"].strip()
            contacts.append(contact)
            found = True
        for url in _URL.finditer(_EMAIL.sub(" ", part)):
            target = _normalise_url(url.group())
            if target and target.startswith("http") and "://" in url.group():
                contacts.append({"kind": "web", "value": target, "note": "instructions"})
    if not found:
        warn(number, "no e-mail address found", value)


def _parse_onion(value: str, number: int, contacts: list[dict[str, str]], warn: Any) -> None:
    match = _ONION.search(value)
    if not match:
        warn(number, "no .onion address found", value)
        return
    if len(match.group()) == V3_ONION_LENGTH:
        contact = {"kind": "onion", "value": match.group().lower()}
        after = value[match.end() :].lstrip()
        note = re.match(r"^[（(]([^。.\[(（]*)", after)
        if note and note.group(1).strip():
            contact["note"] = note.group(1).strip()
        contacts.append(contact)
    else:
        # A version 2 address: Tor stopped reaching them in 2021, and a caseworker passing one
        # on sends a defender to nothing. Left out and said; the instructions' link is kept.
        warn(number, "a version 2 .onion address, which Tor no longer reaches: left out", value)
    for url in _URL.finditer(value):
        if url.group().startswith(("http://", "https://")):
            contacts.append(
                {"kind": "web", "value": url.group().rstrip(".,;"), "note": "instructions"}
            )
    if "umbrella://" in value:
        warn(number, "links into the Umbrella app cannot be followed here; ignored", "umbrella://…")


def _parse_resource(text: str, number: int, contacts: list[dict[str, str]], warn: Any) -> None:
    whole = _MD_LINK.fullmatch(text.strip())
    if whole:
        url = _normalise_url(whole["target"])
        if url:
            contacts.append({"kind": "web", "value": url, "note": whole["text"].strip()})
            return

    # "[x](x)" where the text repeats the target is a broken export of a bare URL.
    def collapse(match: re.Match[str]) -> str:
        return (
            match["target"]
            if normalise(match["text"]) == normalise(match["target"])
            else (match["text"] + " " + match["target"])
        )

    repaired = _MD_LINK.sub(collapse, text)
    repaired = re.sub(r"(https?://)\[", r"\1", repaired)
    start = re.search(r"https?://|www\.", repaired)
    if not start:
        warn(number, "no link in additional resource", text)
        return
    label = repaired[: start.start()].strip(" :：-")
    url = _normalise_url(repaired[start.start() :])
    if url is None:
        warn(number, "no link in additional resource", text)
        return
    contact = {"kind": "web", "value": url}
    if label:
        contact["note"] = label
    contacts.append(contact)


_CONDITION_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "domestic_remedies_exhausted",
        re.compile(
            r"用盡|用尽|國內.{0,12}(?:選項|補救|救濟)|"
            r"exhaust|domestic remed",
            re.IGNORECASE,
        ),
    ),
    (
        "states_only",
        re.compile(
            r"只有國家|僅國家|only states|states (?:parties )?(?:alone )?can "
            r"refer",
            re.IGNORECASE,
        ),
    ),
]


def _condition_from_note(text: str) -> dict[str, str]:
    for condition_id, pattern in _CONDITION_PATTERNS:
        if pattern.search(text):
            return {"id": condition_id, "text": text}
    return {"id": "note", "text": text}


def _conditions_in_text(text: str) -> list[dict[str, str]]:
    found = []
    for sentence in re.split(r"(?<=[。.!?！？])\s*", text):
        for condition_id, pattern in _CONDITION_PATTERNS:
            if sentence and pattern.search(sentence):
                found.append({"id": condition_id, "text": sentence.strip()})
    return found


def _guess_kind(section: str, name: str) -> str:
    key = normalise(name)
    if section != "international_mechanism":
        return "organisation"
    if "criminal court" in key or "刑事法院" in key:
        return "international_court"
    if re.search(r"inter-american|african|european|美洲|非洲|歐洲", key):
        return "regional_mechanism"
    if re.search(r"\bun\b|united nations|聯合國|ohchr|special rapporteur", key):
        return "un_mechanism"
    return "organisation"
