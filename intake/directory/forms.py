"""Admin forms for directory entries, and the GET filters of the directory list."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from intake import vocab
from intake.db import utcnow
from intake.forms import StaffForm
from intake.labels import KIND_LABELS
from intake.models import DirectoryEntry
from intake.services import directory as directory_service
from intake.services.directory import (
    CONDITION_TEXT_MAX,
    CONDITIONS_MAX,
    CONTACT_TEXT_MAX,
    CONTACT_VALUE_MAX,
    CONTACTS_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    RESPONSE_DAYS_MAX,
)
from intake.umbrella import terms as umbrella_terms


def _today() -> date:
    return utcnow().date()


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _choices(table: Any) -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in table.items()]


def _typed_parts(text: str | None, is_code: Callable[[str], bool]) -> list[str]:
    """The parts typed, by code or by name: names may hold spaces ("Saudi Arabia"), so
    they are split at commas (and the Chinese 、，；), and a part of codes at spaces too."""
    parts: list[str] = []
    for part in re.split(r"[,;，、；\n]+", text or ""):
        part = part.strip()
        if part and " " in part and all(is_code(word) for word in part.split()):
            parts.extend(part.split())
        elif part:
            parts.append(part)
    return parts


def _read_typed(
    text: str | None, is_code: Callable[[str], bool], code_of: Callable[[str], str | None]
) -> tuple[list[str], list[str]]:
    """(codes, what could not be read), each part read by ``code_of``."""
    codes: list[str] = []
    unknown: list[str] = []
    for part in _typed_parts(text, is_code):
        code = code_of(part)
        if code:
            codes.append(code)
        else:
            unknown.append(part)
    return list(dict.fromkeys(codes)), unknown


def _is_country_code(word: str) -> bool:
    return word.upper() in vocab.ISO_COUNTRIES


def _country_code(part: str) -> str | None:
    return part.upper() if _is_country_code(part) else vocab.country_code_for_name(part)


def country_codes(text: str | None) -> tuple[list[str], list[str]]:
    """(codes, what could not be read): each part as an ISO code or a country's name in the
    reader's language or English ("China", "中國", "Taiwan"). An admin typing names had
    "Unknown codes: CHINA, TAIWAN" and nothing saying which codes (a review in Chromium)."""
    return _read_typed(text, _is_country_code, _country_code)


def _is_language_code(word: str) -> bool:
    return word.lower() in vocab.language_codes()


def _language_code(part: str) -> str | None:
    if _is_language_code(part):
        return part.lower()
    # Babel's names in the languages Refuge speaks, and the importer's words (普通話, 粵語).
    return vocab.language_code_for_name(part) or umbrella_terms.language_lookup().get(
        umbrella_terms.normalise(part)
    )


def language_codes_typed(text: str | None) -> tuple[list[str], list[str]]:
    """(codes, what could not be read): each part as an ISO 639-1 code or a language's name in
    a language Refuge speaks ("Spanish", 西班牙文). "Spanish" was refused as "Unknown codes:
    spanish", with nothing saying the code is "es" (an admin's walkthrough)."""
    return _read_typed(text, _is_language_code, _language_code)


def _recognised(
    read: Callable[[str | None], tuple[list[str], list[str]]], refusal: Callable[[str], Any]
) -> Callable[[FlaskForm, Field], None]:
    """A validator: every part ``read`` can read, else ``refusal`` naming the others."""

    def check(form: FlaskForm, field: Field) -> None:
        _, unknown = read(field.data)
        if unknown:
            # Not "No country is called 臺灣": read as a statement, not as a form's refusal.
            raise ValidationError(str(refusal(vocab.joined(dict.fromkeys(unknown))[:120])))

    return check


_validate_countries = _recognised(
    country_codes,
    lambda names: _l(
        "Not recognised: %(names)s. Use a country's name or its two-letter code (TW, CN, HK).",
        names=names,
    ),
)
_validate_languages = _recognised(
    language_codes_typed,
    lambda names: _l(
        "Not recognised: %(names)s. Use a language's name or its two-letter code (en, es, zh).",
        names=names,
    ),
)


def _refuse_each(field: Field, problems: list[str]) -> None:
    """Every problem beside the field, one line each (not one block on a phone)."""
    if problems:
        field.errors.extend(problems[:-1])
        raise ValidationError(problems[-1])


# The most each box may hold: what the import takes at its limits, with room for the " | "
# between parts and a line's end (10,000 and 4,000 refused entries the import had stored).
CONTACTS_BOX_MAX = CONTACTS_MAX * (CONTACT_VALUE_MAX + 2 * CONTACT_TEXT_MAX + 32)
NOTES_BOX_MAX = CONDITIONS_MAX * (CONDITION_TEXT_MAX + 2)

CONTACTS_HINT = _l(
    "One contact per line: kind | value | place (optional) | note (optional). "
    "Kinds: web, phone, email, secure_form, onion."
)


class EntryForm(StaffForm):
    id = StringField(
        _l("Id (stable, lower case, e.g. frontline-defenders)"),
        validators=[
            DataRequired(),
            Length(min=2, max=64),
            Regexp(r"^[a-z0-9][a-z0-9-]+$", message=_l("Lower-case letters, digits and hyphens.")),
        ],
    )
    name = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=NAME_MAX)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Optional(), Length(max=NAME_MAX)])
    kind = SelectField(_l("Kind"), choices=_choices(vocab.KINDS))
    section = SelectField(_l("Section"), choices=_choices(vocab.SECTIONS))
    regions = MultiCheckboxField(_l("Regions"), choices=_choices(vocab.REGIONS))
    countries = StringField(
        _l("Countries (names or two-letter codes, comma-separated)"),
        validators=[Optional(), Length(max=1000), _validate_countries],
    )
    threats = MultiCheckboxField(_l("Threat types"), choices=_choices(vocab.THREATS))
    profiles = MultiCheckboxField(_l("Profiles served"), choices=_choices(vocab.PROFILES))
    languages = StringField(
        _l("Languages (names or two-letter codes, comma-separated)"),
        validators=[Optional(), Length(max=300), _validate_languages],
    )
    accepts_urgent_appeals = BooleanField(_l("Accepts urgent appeals"))
    description_en = TextAreaField(
        _l("Description (English)"), validators=[Length(max=DESCRIPTION_MAX)]
    )
    description_zh = TextAreaField(
        _l("Description (Chinese)"), validators=[Length(max=DESCRIPTION_MAX)]
    )
    contacts = TextAreaField(
        _l("Contacts"), description=CONTACTS_HINT, validators=[Length(max=CONTACTS_BOX_MAX)]
    )
    conditions = MultiCheckboxField(
        _l("Conditions"),
        choices=[SelectChoice(k, v) for k, v in vocab.CONDITIONS.items() if k != "note"],
    )
    notes = TextAreaField(
        _l("Other conditions or notes (one per line)"), validators=[Length(max=NOTES_BOX_MAX)]
    )
    referral_kinds = MultiCheckboxField(
        # Named as the referral pages name them (with their deadlines), not by a shorter list.
        _l("Referral kinds"),
        choices=_choices(KIND_LABELS),
    )
    response_days = IntegerField(
        _l("Typical response time (days)"),
        validators=[Optional(), NumberRange(min=1, max=RESPONSE_DAYS_MAX)],
    )
    last_verified = DateField(_l("Last verified"), validators=[Optional()], default=_today)

    def validate_contacts(self, field: Field) -> None:
        """Every line's problem, beside the field in the reader's language: the service's
        checks of a value came back as one English line in the summary ("test-org: web
        address must start with http:// or https://: 'not a url'"), the first bad line only."""
        problems = contact_problems(field.data or "")
        count = sum(1 for line in (field.data or "").splitlines() if line.strip())
        if count > CONTACTS_MAX:
            problems.append(
                str(_l("At most %(limit)d contacts, one per line.", limit=CONTACTS_MAX))
            )
        _refuse_each(field, problems)

    def validate_notes(self, field: Field) -> None:
        """The import's limits on conditions, said here: the ticked ones and the note lines
        together, and each line's length (they came back as "conditions must be a list (at
        most 20)", in English, above the form)."""
        typed = (field.data or "").splitlines()
        problems = [
            str(LINE_TOO_LONG % {"number": number, "limit": CONDITION_TEXT_MAX})
            for number, line in enumerate(typed, start=1)
            if len(line.strip()) > CONDITION_TEXT_MAX
        ]
        count = len(self.conditions.data or []) + sum(1 for line in typed if line.strip())
        if count > CONDITIONS_MAX:
            problems.append(
                str(
                    _l(
                        "At most %(limit)d conditions and notes together; you gave %(count)d.",
                        limit=CONDITIONS_MAX,
                        count=count,
                    )
                )
            )
        _refuse_each(field, problems)

    def fill_from(self, entry: DirectoryEntry) -> None:
        self.id.data = entry.id
        self.name.data = entry.name
        self.name_zh.data = entry.name_zh or ""
        self.kind.data = entry.kind
        self.section.data = entry.section
        self.regions.data = list(entry.regions or [])
        self.countries.data = ", ".join(entry.countries or [])
        self.threats.data = list(entry.threats or [])
        self.profiles.data = list(entry.profiles or [])
        self.languages.data = ", ".join(entry.languages or [])
        self.accepts_urgent_appeals.data = entry.accepts_urgent_appeals
        self.description_en.data = entry.description_en
        self.description_zh.data = entry.description_zh
        self.contacts.data = "\n".join(
            " | ".join([c["kind"], c["value"], c.get("place", ""), c.get("note", "")]).rstrip(" |")
            for c in entry.contacts or []
        )
        conditions = entry.conditions or []
        self.conditions.data = [c["id"] for c in conditions if c["id"] != "note"]
        self.notes.data = "\n".join(c.get("text", "") for c in conditions if c["id"] == "note")
        self.referral_kinds.data = list(entry.referral_kinds or [])
        self.response_days.data = entry.response_days
        self.last_verified.data = entry.last_verified or _today()

    def to_record(self, existing: DirectoryEntry | None = None) -> dict[str, Any]:
        kept_texts = {c["id"]: c.get("text", "") for c in (existing.conditions if existing else [])}
        conditions = [{"id": cid, "text": kept_texts.get(cid, "")} for cid in self.conditions.data]
        conditions += [
            {"id": "note", "text": line.strip()}
            for line in (self.notes.data or "").splitlines()
            if line.strip()
        ]
        return {
            "id": existing.id if existing else self.id.data,
            "name": self.name.data,
            "name_zh": self.name_zh.data or None,
            "kind": self.kind.data,
            "section": self.section.data,
            "regions": list(self.regions.data or []),
            "countries": country_codes(self.countries.data)[0],
            "threats": list(self.threats.data or []),
            "profiles": list(self.profiles.data or []),
            "languages": language_codes_typed(self.languages.data)[0],
            "accepts_urgent_appeals": bool(self.accepts_urgent_appeals.data),
            "description_en": self.description_en.data or "",
            "description_zh": self.description_zh.data or "",
            "contacts": parse_contacts(self.contacts.data or ""),
            "conditions": conditions,
            "referral_kinds": list(self.referral_kinds.data or []),
            "response_days": self.response_days.data,
            "last_verified": self.last_verified.data,
        }


LINE_TOO_LONG = _l("Line %(number)d: at most %(limit)d characters.")
# What is wrong with a contact's value (directory_service.contact_value_problem), per line.
VALUE_PROBLEMS = {
    "long": LINE_TOO_LONG,
    "web": _l("Line %(number)d: a web address starts with http:// or https://."),
    "email": _l("Line %(number)d: this is not an e-mail address."),
    "onion": _l(
        "Line %(number)d: this is not a working onion address: 56 letters and digits, then "
        ".onion (the 16-character ones stopped working in 2021)."
    ),
}


def contact_problems(text: str) -> list[str]:
    """Each contact line's problem, numbered as the box numbers its lines."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            (contact,) = parse_contacts(line)
        except ValueError:
            problems.append(
                str(
                    _l(
                        "Line %(number)d: expected 'kind | value', kind one of %(kinds)s.",
                        number=number,
                        kinds=", ".join(vocab.CONTACT_KINDS),
                    )
                )
            )
            continue
        code = directory_service.contact_value_problem(contact["kind"], contact["value"])
        if code is not None:
            problems.append(
                str(VALUE_PROBLEMS[code] % {"number": number, "limit": CONTACT_VALUE_MAX})
            )
        elif any(len(contact.get(extra, "")) > CONTACT_TEXT_MAX for extra in ("place", "note")):
            problems.append(
                str(
                    _l(
                        "Line %(number)d: a place or a note is at most %(limit)d characters.",
                        number=number,
                        limit=CONTACT_TEXT_MAX,
                    )
                )
            )
    return problems


def parse_contacts(text: str) -> list[dict[str, str]]:
    contacts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 2 or parts[0] not in vocab.CONTACT_KINDS or not parts[1]:
            raise ValueError(
                str(
                    _l(
                        "Line %(number)d: expected 'kind | value', kind one of %(kinds)s.",
                        number=number,
                        kinds=", ".join(vocab.CONTACT_KINDS),
                    )
                )
            )
        contact = {"kind": parts[0], "value": parts[1]}
        if len(parts) > 2 and parts[2]:
            contact["place"] = parts[2]
        if len(parts) > 3 and parts[3]:
            contact["note"] = parts[3]
        contacts.append(contact)
    return contacts


class ConfirmForm(StaffForm):
    """Retire / restore: a CSRF token and nothing else."""
