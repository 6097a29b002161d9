"""Directory service: import (Umbrella Markdown or our JSON), export, and admin edits.

It owns its transactions: an import validates every record first and writes all of them and
one audit event in a single commit, or nothing at all. Re-importing updates entries in place
(ids are stable slugs), so running it again never duplicates anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from intake import vocab
from intake.db import utcnow
from intake.extensions import db
from intake.i18n import DIRECTION_CONTROLS
from intake.models import DirectoryEntry, User, directory_version
from intake.services import audit, settings
from intake.services.transactions import transactional
from intake.services.triage import TriageIndex
from intake.umbrella import parser as umbrella

SHIPPED_PATH = Path(__file__).resolve().parent.parent / "directory" / "data" / "directory.json"
MAX_IMPORT_BYTES = 2 * 1024 * 1024
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
# What an entry may hold: the import checks these, and the directory form's validators read
# them, so that an admin's edit is refused beside its field, in their language, not here.
NAME_MAX = 200
DESCRIPTION_MAX = 5000
CONTACTS_MAX = 50
CONTACT_VALUE_MAX = 500
CONTACT_TEXT_MAX = 200  # a contact's place or note
CONDITIONS_MAX = 20
CONDITION_TEXT_MAX = 1000
RESPONSE_DAYS_MAX = 3650

# What triage reads of an entry (TriageEntry.of): the index is built from these columns only.
TRIAGE_COLUMNS = (
    "id",
    "name",
    "kind",
    "regions",
    "countries",
    "threats",
    "profiles",
    "languages",
    "accepts_urgent_appeals",
    "conditions",
    "retired_at",
)
LIST_FIELDS = ("regions", "countries", "threats", "languages", "profiles", "referral_kinds")
# Fields an Umbrella file carries. Curated facts it does not know (referral kinds, response
# time, verification date, the other language's description) survive a Markdown re-import.
MARKDOWN_FIELDS = (
    "name",
    "name_zh",
    "section",
    "regions",
    "countries",
    "threats",
    "profiles",
    "languages",
    "accepts_urgent_appeals",
    "description_en",
    "description_zh",
    "contacts",
    "conditions",
)


class DirectoryImportError(ValueError):
    """The input cannot be imported; nothing was written. ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = list(problems)


@dataclass
class ImportSummary:
    source: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged) + len(self.kept)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "warnings": self.warnings,
        }


# --- validation ------------------------------------------------------------------------------


def clean_record(
    raw: Mapping[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Check one record against the vocabularies; returns (clean fields, problems)."""
    problems: list[str] = []
    label = str(raw.get("id") or raw.get("name") or "?")[:80]
    clean: dict[str, Any] = {}

    def problem(message: str) -> None:
        problems.append(f"{label}: {message}")

    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
        problem("id must be 2-64 lower-case letters, digits or hyphens")
    else:
        clean["id"] = entry_id
    for name in ("name", "name_zh", "description_en", "description_zh"):
        if name not in raw:
            if name == "name" and not partial:
                problem("name is required")
            continue
        value = raw[name]
        if value is None and name != "name":
            clean[name] = None if name == "name_zh" else ""
            continue
        limit = NAME_MAX if name.startswith("name") else DESCRIPTION_MAX
        if not isinstance(value, str) or (name == "name" and not value.strip()):
            problem(f"{name} must be text")
        elif len(value) > limit or "\x00" in value:
            problem(f"{name} is too long (at most {limit} characters)")
        elif DIRECTION_CONTROLS.search(value):
            problem(f"{name} holds a character that reverses the text after it (U+202A-E, 2066-9)")
        else:
            clean[name] = value.strip()
    for name, allowed in (("kind", vocab.KINDS), ("section", vocab.SECTIONS)):
        if name in raw:
            if raw[name] not in allowed:
                problem(f"{name} must be one of {', '.join(allowed)}")
            else:
                clean[name] = raw[name]
    vocabularies: dict[str, Iterable[str]] = {
        "regions": vocab.REGIONS,
        "countries": vocab.ISO_COUNTRIES,
        "threats": vocab.THREATS,
        "languages": vocab.language_codes(),
        "profiles": vocab.PROFILES,
        "referral_kinds": vocab.REFERRAL_KINDS,
    }
    for name, vocabulary in vocabularies.items():
        if name not in raw:
            continue
        value = raw[name]
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problem(f"{name} must be a list of ids")
            continue
        allowed_set = set(vocabulary)
        bad = sorted({v for v in value if v not in allowed_set})
        if bad:
            problem(f"unknown {name}: {', '.join(bad)[:200]}")
        else:
            clean[name] = list(dict.fromkeys(value))
    if "accepts_urgent_appeals" in raw:
        if not isinstance(raw["accepts_urgent_appeals"], bool):
            problem("accepts_urgent_appeals must be true or false")
        else:
            clean["accepts_urgent_appeals"] = raw["accepts_urgent_appeals"]
    if "contacts" in raw:
        contacts = _clean_contacts(raw["contacts"], problem)
        if contacts is not None:
            clean["contacts"] = contacts
    if "conditions" in raw:
        conditions = _clean_conditions(raw["conditions"], problem)
        if conditions is not None:
            clean["conditions"] = conditions
    if "response_days" in raw:
        days = raw["response_days"]
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= RESPONSE_DAYS_MAX
        ):
            problem(
                f"response_days must be a whole number of days (1-{RESPONSE_DAYS_MAX}) or empty"
            )
        else:
            clean["response_days"] = days
    if "last_verified" in raw:
        value = raw["last_verified"]
        if value is None:
            clean["last_verified"] = None
        elif isinstance(value, date):
            clean["last_verified"] = value
        else:
            try:
                clean["last_verified"] = date.fromisoformat(str(value))
            except ValueError:
                problem("last_verified must be a date (YYYY-MM-DD)")
    if "retired_at" in raw:  # exports carry it, so an export re-imports as it was
        value = raw["retired_at"]
        if value is None:
            clean["retired_at"] = None
        else:
            try:
                when = datetime.fromisoformat(str(value))
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                problem("retired_at must be an ISO date-time with a time zone, or null")
            else:
                clean["retired_at"] = when.astimezone(UTC)
    return clean, problems


def contact_value_problem(kind: str, text: str) -> str | None:
    """What is wrong with a contact's value for its kind, by code ("long", "web", "email",
    "onion"), or None: the import's check and the directory form's (which says it in the
    reader's language, per line)."""
    if len(text) > CONTACT_VALUE_MAX:
        return "long"
    if kind in ("web", "secure_form") and not re.match(
        r"^https?://[^\s<>\"']+$", text, re.IGNORECASE
    ):
        return "web"
    if kind == "email" and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", text):
        return "email"
    if kind == "onion":
        # Version 3 only: Tor stopped reaching the 16-character (v2) ones in 2021, and a
        # caseworker passing one on sends a defender at risk to nothing.
        onion = re.fullmatch(r"(?:https?://)?([a-z2-7]{56})\.onion(?:/\S*)?", text, re.IGNORECASE)
        if onion is None or not settings.onion_v3_checks(onion.group(1).lower()):
            return "onion"
    return None


def _clean_contacts(value: Any, problem: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list) or len(value) > CONTACTS_MAX:
        problem(f"contacts must be a list (at most {CONTACTS_MAX})")
        return None
    contacts = []
    for item in value:
        if not isinstance(item, Mapping) or item.get("kind") not in vocab.CONTACT_KINDS:
            problem(f"contact kind must be one of {', '.join(vocab.CONTACT_KINDS)}")
            return None
        text = item.get("value")
        if not isinstance(text, str) or not text.strip() or len(text) > CONTACT_VALUE_MAX:
            problem(f"each contact needs a value (at most {CONTACT_VALUE_MAX} characters)")
            return None
        text = text.strip()
        if DIRECTION_CONTROLS.search(text):
            problem("a contact holds a character that reverses the text after it")
            return None
        match contact_value_problem(str(item["kind"]), text):
            case "web":
                problem(f"web address must start with http:// or https://: {text[:80]!r}")
                return None
            case "email":
                problem(f"not an e-mail address: {text[:80]!r}")
                return None
            case "onion":
                problem(f"not an onion address: {text[:80]!r}")
                return None
        contact = {"kind": str(item["kind"]), "value": text}
        for extra in ("place", "note"):
            if item.get(extra):
                if not isinstance(item[extra], str) or len(item[extra]) > CONTACT_TEXT_MAX:
                    problem(f"contact {extra} must be short text")
                    return None
                if DIRECTION_CONTROLS.search(item[extra]):
                    problem(f"contact {extra} holds a character that reverses the text after it")
                    return None
                contact[extra] = item[extra].strip()
        contacts.append(contact)
    return contacts


def _clean_conditions(value: Any, problem: Any) -> list[dict[str, str]] | None:
    if not isinstance(value, list) or len(value) > CONDITIONS_MAX:
        problem(f"conditions must be a list (at most {CONDITIONS_MAX})")
        return None
    conditions = []
    for item in value:
        if not isinstance(item, Mapping) or item.get("id") not in vocab.CONDITIONS:
            problem(f"condition id must be one of {', '.join(vocab.CONDITIONS)}")
            return None
        text = item.get("text") or ""
        if not isinstance(text, str) or len(text) > CONDITION_TEXT_MAX:
            problem("condition text must be short text")
            return None
        if DIRECTION_CONTROLS.search(text):
            problem("condition text holds a character that reverses the text after it")
            return None
        conditions.append({"id": str(item["id"]), "text": text.strip()})
    return conditions


# --- import ----------------------------------------------------------------------------------


def load_shipped() -> list[dict[str, Any]]:
    document = json.loads(SHIPPED_PATH.read_text(encoding="utf-8"))
    return list(document["entries"])


def read_source(path: Path) -> tuple[str, str]:
    """(kind, text) of an import file: "json" or "markdown". Raises DirectoryImportError."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DirectoryImportError([f"cannot read {path}: {error.strerror}"]) from error
    if size > MAX_IMPORT_BYTES:
        raise DirectoryImportError([f"{path} is larger than {MAX_IMPORT_BYTES // 1024} KiB"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DirectoryImportError([f"{path} is not UTF-8 text"]) from error
    kind = "json" if path.suffix.lower() == ".json" or text.lstrip().startswith("{") else "markdown"
    return kind, text


def import_path(path: Path, *, actor: User | None = None, force: bool = False) -> ImportSummary:
    kind, text = read_source(path)
    if kind == "json":
        return import_json_text(text, source=str(path.name), actor=actor, force=force)
    return import_markdown(text, source=str(path.name), actor=actor)


def import_shipped(*, actor: User | None = None, force: bool = False) -> ImportSummary:
    return import_records(load_shipped(), source="shipped directory.json", actor=actor, force=force)


def import_json_text(
    text: str, *, source: str, actor: User | None = None, force: bool = False
) -> ImportSummary:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DirectoryImportError(
            [f"{source}: not valid JSON ({error.msg}, line {error.lineno})"]
        ) from error
    except RecursionError as error:  # "[[[…" deeper than the parser goes
        raise DirectoryImportError([f"{source}: not valid JSON (nested too deeply)"]) from error
    records = document.get("entries") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise DirectoryImportError(
            [f'{source}: expected a list of entries or {{"entries": [...]}}']
        )
    return import_records(records, source=source, actor=actor, force=force)


def import_markdown(text: str, *, source: str, actor: User | None = None) -> ImportSummary:
    if len(text.encode("utf-8", "replace")) > MAX_IMPORT_BYTES:
        raise DirectoryImportError([f"{source} is too large"])
    result = umbrella.parse(text)
    if not result.ok:
        raise DirectoryImportError([str(issue) for issue in result.errors])
    records = []
    for entry in result.entries:
        record = {key: entry[key] for key in (*MARKDOWN_FIELDS, "id", "kind") if key in entry}
        records.append(record)
    return import_records(
        records,
        source=source,
        actor=actor,
        markdown=True,
        warnings=[str(issue) for issue in result.warnings],
    )


def import_records(
    records: Sequence[Any],
    *,
    source: str,
    actor: User | None = None,
    force: bool = False,
    markdown: bool = False,
    warnings: Sequence[str] = (),
) -> ImportSummary:
    """Validate all records, then upsert them in one transaction (or raise, writing nothing).

    JSON (shipped data, exports): an existing entry is overwritten only if the incoming
    ``last_verified`` is newer than the stored one, so an admin's later edits survive the
    shipped data being loaded again by ``make run``; ``force`` overwrites regardless.
    Markdown: the fields the file carries overwrite, the curated ones stay.
    """
    problems: list[str] = []
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    if not records:
        problems.append(f"{source}: no entries")
    for raw in records:
        if not isinstance(raw, Mapping):
            problems.append(f"{source}: every entry must be an object")
            continue
        clean, record_problems = clean_record(raw, partial=False)
        problems.extend(record_problems)
        if "id" in clean:
            if clean["id"] in seen:
                problems.append(f"{clean['id']}: appears twice")
            seen.add(clean["id"])
        cleaned.append(clean)
    if problems:
        raise DirectoryImportError(problems)

    summary = ImportSummary(source=source, warnings=list(warnings))
    existing = {
        entry.id: entry
        for entry in db.session.scalars(
            sa.select(DirectoryEntry).where(DirectoryEntry.id.in_(seen))
        )
    }
    try:
        for clean in cleaned:
            entry = existing.get(clean["id"])
            if entry is None:
                entry = DirectoryEntry(id=clean["id"])
                _apply(entry, {**_defaults(), **clean})
                db.session.add(entry)
                summary.created.append(entry.id)
                continue
            if (
                not markdown
                and not force
                and not _newer(clean.get("last_verified"), entry.last_verified)
            ):
                summary.kept.append(entry.id)
                continue
            # Markdown: only what the file states; an empty list means "not given" there
            # (Umbrella rarely lists profiles), so curated values are kept.
            fields = (
                clean
                if not markdown
                else {
                    k: v
                    for k, v in clean.items()
                    if k in MARKDOWN_FIELDS and v not in ([], "", None)
                }
            )
            if _apply(entry, fields):
                summary.updated.append(entry.id)
            else:
                summary.unchanged.append(entry.id)
        audit.record(
            "directory.import",
            "directory",
            source[:64],
            actor=actor,
            detail={
                "created": len(summary.created),
                "updated": len(summary.updated),
                "unchanged": len(summary.unchanged),
                "kept": len(summary.kept),
            },
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _defaults() -> dict[str, Any]:
    return {
        "kind": "organisation",
        "section": "immediate_support",
        "regions": [],
        "countries": [],
        "threats": [],
        "languages": [],
        "profiles": [],
        "accepts_urgent_appeals": False,
        "description_en": "",
        "description_zh": "",
        "contacts": [],
        "conditions": [],
        "referral_kinds": [],
        "response_days": None,
        "last_verified": None,
        "name_zh": None,
    }


def _newer(incoming: date | None, stored: date | None) -> bool:
    if incoming is None:
        return stored is None
    return stored is None or incoming > stored


def _apply(entry: DirectoryEntry, fields: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in fields.items():
        if name == "id":
            continue
        if getattr(entry, name) != value:
            setattr(entry, name, value)
            changed = True
    return changed


# --- export and reads ------------------------------------------------------------------------


def entry_to_dict(entry: DirectoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "name_zh": entry.name_zh,
        "kind": entry.kind,
        "section": entry.section,
        "regions": list(entry.regions or []),
        "countries": list(entry.countries or []),
        "threats": list(entry.threats or []),
        "profiles": list(entry.profiles or []),
        "languages": list(entry.languages or []),
        "accepts_urgent_appeals": entry.accepts_urgent_appeals,
        "description_en": entry.description_en,
        "description_zh": entry.description_zh,
        "contacts": list(entry.contacts or []),
        "conditions": list(entry.conditions or []),
        "referral_kinds": list(entry.referral_kinds or []),
        "response_days": entry.response_days,
        "last_verified": entry.last_verified.isoformat() if entry.last_verified else None,
        "retired_at": entry.retired_at.isoformat() if entry.retired_at else None,
    }


def export_all() -> list[dict[str, Any]]:
    entries = db.session.scalars(sa.select(DirectoryEntry).order_by(DirectoryEntry.id))
    return [entry_to_dict(entry) for entry in entries]


def active_entries() -> list[DirectoryEntry]:
    return list(
        db.session.scalars(
            sa.select(DirectoryEntry)
            .where(DirectoryEntry.retired_at.is_(None))
            .order_by(DirectoryEntry.id)
        )
    )


# The triage index of the active entries, per process, for the directory version it was built
# from (intake.models.directory_version): a request reads one row, not the whole directory.
_triage_cache: tuple[str, TriageIndex] | None = None


def triage_index() -> TriageIndex:
    """Triage's index of the active entries, rebuilt only when the directory version moves."""
    global _triage_cache
    # The version first, the entries second: what is cached under a version is never older.
    version = directory_version.current(db.session)
    cached = _triage_cache
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    columns = [getattr(DirectoryEntry, name) for name in TRIAGE_COLUMNS]
    rows = db.session.execute(
        sa.select(*columns).where(DirectoryEntry.retired_at.is_(None)).order_by(DirectoryEntry.id)
    ).mappings()
    index = TriageIndex(rows)
    if version is not None:  # never written through the unit of work: nothing to key it by
        _triage_cache = (version, index)
    return index


# --- admin edits -----------------------------------------------------------------------------


def create_entry(data: Mapping[str, Any], *, actor: User) -> DirectoryEntry:
    clean, problems = clean_record(data)
    if problems:
        raise DirectoryImportError(problems)
    if db.session.get(DirectoryEntry, clean["id"]) is not None:
        raise DirectoryImportError([f"{clean['id']}: an entry with this id exists"])
    entry = DirectoryEntry(id=clean["id"])
    _apply(entry, {**_defaults(), **clean})
    db.session.add(entry)
    audit.record("directory.create", "directory", entry.id, actor=actor)
    db.session.commit()
    return entry


@transactional
def update_entry(entry_id: str, data: Mapping[str, Any], *, actor: User) -> DirectoryEntry:
    entry = db.session.get(DirectoryEntry, entry_id)
    if entry is None:
        raise LookupError(entry_id)
    clean, problems = clean_record({**data, "id": entry_id})
    if problems:
        raise DirectoryImportError(problems)
    changed = sorted(
        name for name, value in clean.items() if name != "id" and getattr(entry, name) != value
    )
    _apply(entry, clean)
    audit.record("directory.update", "directory", entry.id, actor=actor, detail={"fields": changed})
    return entry


def set_retired(entry_id: str, retired: bool, *, actor: User) -> DirectoryEntry:
    entry = db.session.get(DirectoryEntry, entry_id)
    if entry is None:
        raise LookupError(entry_id)
    entry.retired_at = utcnow() if retired else None
    audit.record(
        "directory.retire" if retired else "directory.restore", "directory", entry.id, actor=actor
    )
    db.session.commit()
    return entry
