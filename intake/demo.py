"""Realistic sample data for trying the product and for benchmarks (`flask demo --cases N`).

Cases are sealed to the organisation's current public key exactly as the intake form seals
them, so a caseworker who unlocks the organisation key can read them; referrals are spread so
that their deadlines lie around today (some overdue, some due this week, some later).
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AWAITING,
    Case,
    CaseStatus,
    CommunicationType,
    ConsentChannel,
    ConsentGiver,
    ConsentPurpose,
    ConsentRecord,
    DirectoryEntry,
    OrgKey,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    SampleCase,
    SealedBy,
    UnStep,
    UnStepKind,
    Urgency,
    User,
    queue_state,
)
from intake.services import audit, keys, retention, triage
from intake.services.casework import PUBLIC_STATUS
from intake.services.consent import INTAKE_PURPOSES, purpose_for
from intake.services.deadlines import CLOCK_STARTS
from intake.services.referrals import deadline_for
from intake.services.triage import Routing
from intake.services.un_steps import CLOCK_STEP

SITUATIONS: list[dict[str, Any]] = [
    {
        "threats": ["physical_attack", "violence_threat"],
        "profiles": ["freelance_journalist", "journalist"],
        "country": "MX",
        "languages": ["es", "en"],
        "urgency": Urgency.IMMEDIATE,
        "what": "A freelance reporter was beaten after publishing on local land sales.",
        "kinds": [ReferralKind.SP_URGENT_APPEAL, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["detention"],
        "profiles": ["lawyer"],
        "country": "CN",
        "languages": ["zh"],
        "urgency": Urgency.IMMEDIATE,
        "what": "一名人權律師被以「煽動顛覆」罪名羈押，家屬無法會見。",
        "kinds": [ReferralKind.WGAD_OPINION, ReferralKind.SP_URGENT_APPEAL],
    },
    {
        "threats": ["violence_threat", "digital"],
        "profiles": ["woman_hrd"],
        "country": "PH",
        "languages": ["en", "tl"],
        "urgency": Urgency.DAYS,
        "what": "A woman defender receives threats online after a protest.",
        "kinds": [ReferralKind.NGO_REFERRAL, ReferralKind.SP_ALLEGATION_LETTER],
    },
    {
        "threats": ["legislation", "expression"],
        "profiles": ["organisation"],
        "country": "IN",
        "languages": ["en", "hi"],
        "urgency": Urgency.DAYS,
        "what": "A draft law would force NGOs receiving foreign funds to register as agents.",
        "kinds": [ReferralKind.SP_LEGISLATION],
    },
    {
        "threats": ["reprisal"],
        "profiles": ["environmental_land", "indigenous"],
        "country": "BR",
        "languages": ["pt"],
        "urgency": Urgency.WEEKS,
        "what": "A community leader was questioned after speaking at the UN.",
        "kinds": [ReferralKind.REPRISALS_REPORT, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["disappearance"],
        "profiles": ["family_member"],
        "country": "BD",
        "languages": ["bn", "en"],
        "urgency": Urgency.IMMEDIATE,
        "what": "A student activist has not been seen since being taken from home at night.",
        "kinds": [ReferralKind.EMBASSY_CONTACT, ReferralKind.NGO_REFERRAL],
    },
    {
        "threats": ["health", "aid_worker_security"],
        "profiles": ["aid_worker"],
        "country": "SD",
        "languages": ["ar", "en"],
        "urgency": Urgency.DAYS,
        "what": "An aid worker needs medical evacuation after an attack on a clinic.",
        "kinds": [ReferralKind.NGO_REFERRAL, ReferralKind.FOLLOW_UP],
    },
    {
        "threats": ["lawsuit"],
        "profiles": ["journalist"],
        "country": "TW",
        "languages": ["zh", "en"],
        "urgency": Urgency.NOT_URGENT,
        "what": "一名記者因報導財團開發案遭提起誹謗訴訟。",
        "kinds": [ReferralKind.NGO_REFERRAL],
    },
]
CHUNK = 2_000  # cases per INSERT and commit
RECEIPT_SYMBOLS = crypto.RECEIPT_GROUPS * crypto.RECEIPT_GROUP_LENGTH
STATE_MIX = (
    [ReferralState.SENT] * 5
    + [ReferralState.ACKNOWLEDGED] * 2
    + [
        ReferralState.DRAFT,
        ReferralState.REPLIED,
    ]
)


class DemoError(RuntimeError):
    """Demo data cannot be made (the message says what to do first)."""


def _current_org_key() -> OrgKey:
    key = keys.current_org_key()
    if key is None:
        raise DemoError(
            "No organisation key yet: complete /setup or run `flask keys init` first, "
            "so that demo cases are sealed to a key someone can open."
        )
    return key


def _suggestions(situation: dict[str, Any]) -> list[dict[str, Any]]:
    return triage.suggestions_for(
        Routing(
            urgency=situation["urgency"],
            threats=situation["threats"],
            profiles=situation["profiles"],
            country=situation["country"],
            languages=situation["languages"],
        )
    )


def _entry_for(
    kind: ReferralKind, suggestions: list[dict[str, Any]], active: dict[str, DirectoryEntry]
) -> DirectoryEntry | None:
    """The best-ranked suggestion that takes this kind of referral, else any entry that does."""
    takes = {
        entry_id: entry
        for entry_id, entry in sorted(active.items())
        if kind.value in (entry.referral_kinds or [])
    }
    for suggestion in suggestions:
        if str(suggestion.get("id")) in takes:
            return takes[str(suggestion["id"])]
    return next(iter(takes.values()), None)


def _answers(situation: dict[str, Any], number: int, rng: random.Random) -> dict[str, str]:
    """Answers in the intake form's own shape (intake.public.forms.SEALED_FIELDS)."""
    return {
        "sender_name": f"Sample sender {number}",
        "sender_role": rng.choice(["self", "family", "lawyer", "organisation"]),
        "sender_organisation": "",
        "sender_contact": "Signal only, after 20:00 local time",
        "safe_to_contact": "yes",
        "safe_contact_notes": "Never by phone.",
        "others_at_risk": "Family members living at the same address.",
        "reprisal_concerns": "Do not share the home address with the authorities.",
        "urgency_reason": "Hearing scheduled within two weeks."
        if situation["urgency"] != Urgency.NOT_URGENT
        else "",
        "victim_name": f"Sample person {number}",
        "victim_age": str(rng.randint(19, 70)),
        "victim_gender": rng.choice(["woman", "man", "non-binary"]),
        "victim_origin": situation["country"],
        "victim_residence": situation["country"],
        "other_victims": "",
        "consent": "yes",
        "consent_by": "The person themselves",
        "referral_consent": "yes",
        "what_happened": situation["what"],
        "when_happened": "Last month",
        "where_happened": "The capital",
        "perpetrators": "Plain-clothes police officers",
        "context": "Part of a wider pattern against defenders in the region.",
        "actions_taken": "A complaint to the local prosecutor, unanswered.",
        "wanted_actions": "Urgent intervention with the authorities.",
    }


def create(count: int, *, seed: int = 2026, now: datetime | None = None) -> dict[str, int]:
    """``count`` cases and their referrals, inserted in chunks (a scale trial is one command).

    Each chunk is multi-row INSERTs of cases (ids returned in order), then of referrals, and
    a commit. The rows bypass the unit of work, so the queue's stored columns are computed here
    with queue_state's own functions (``next_due``: the earliest deadline still awaited).
    Every case is sealed on its own (its answers name its number): at 0.15 ms a seal, sealing
    is a fraction of the insert, so no shared ciphertext templates are needed.
    """
    now = now or utcnow()
    rng = random.Random(seed)  # noqa: S311  (sample data, not secrets)
    key = _current_org_key()
    active = {
        entry.id: entry
        for entry in db.session.scalars(
            sa.select(DirectoryEntry).where(DirectoryEntry.retired_at.is_(None))
        )
    }
    if not active:
        raise DemoError("The directory is empty: run `flask directory import` first.")
    staff_ids = list(
        db.session.scalars(
            sa.select(User.id).where(User.role.in_([Role.ADMIN, Role.CASEWORKER])).order_by(User.id)
        )
    )
    server_secret = _secret()
    suggestions_by_situation = [_suggestions(situation) for situation in SITUATIONS]
    entries_by_situation = [
        {
            kind: _entry_for(kind, suggestions_by_situation[which], active)
            for kind in situation["kinds"]
        }
        for which, situation in enumerate(SITUATIONS)
    ]
    refs: set[str] = set()
    made_cases = made_referrals = 0
    for chunk_start in range(0, count, CHUNK):
        cases: list[dict[str, Any]] = []
        referrals: list[list[dict[str, Any]]] = []
        for index in range(chunk_start, min(count, chunk_start + CHUNK)):
            which = rng.randrange(len(SITUATIONS))
            situation = SITUATIONS[which]
            received = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1439))
            assignee_id = staff_ids[index % len(staff_ids)] if staff_ids else None
            # One in ten did not consent: such a case waits for consent and is not referred.
            consented = rng.random() > 0.1
            planned = (
                _referrals(situation, entries_by_situation[which], received, now, rng)
                if consented
                else []
            )
            # A case with a referral sent is Referred (casework moves it so); "New" with a
            # referral already sent made the queue and the reports read wrong (a review).
            sent_any = any(r["state"] != ReferralState.DRAFT for r in planned)
            status = (
                CaseStatus.REFERRED
                if sent_any
                else rng.choice([CaseStatus.NEW, CaseStatus.ASSESSING])
            )
            for referral in planned:
                referral["owner_id"] = assignee_id
            next_due = min(
                (r["due_at"] for r in planned if r["state"] in AWAITING and r["due_at"]),
                default=None,
            )
            first_response = queue_state.first_response_at(situation["urgency"], received)
            code = _symbols(RECEIPT_SYMBOLS)  # a receipt code, normalised (never shown)
            cases.append(
                {
                    "ref": _new_ref(refs),
                    "status": status,
                    # What the submitter sees follows the case, as casework keeps it.
                    "shared_status": PUBLIC_STATUS[status],
                    "urgency": situation["urgency"],
                    "threats": situation["threats"],
                    "profiles": situation["profiles"],
                    "country": situation["country"],
                    "languages": situation["languages"],
                    "consent_given": consented,
                    "locale": "en",
                    # Most people send with JavaScript on: the browser seals (the same box).
                    "sealed_by": SealedBy.SERVER if rng.random() < 0.15 else SealedBy.BROWSER,
                    "org_key_id": key.id,
                    "sealed_answers": crypto.seal_answers(
                        _answers(situation, index + 1, rng), key.public_key
                    ),
                    "receipt_lookup": crypto.receipt_lookup(code, server_secret),
                    "reply_public_key": crypto.reply_keypair(code)[0],
                    "assignee_id": assignee_id,
                    "triage": suggestions_by_situation[which],
                    "received_at": received,
                    "urgency_rank": queue_state.urgency_rank(situation["urgency"]),
                    "first_response_at": first_response,
                    "next_due": next_due,
                    "attention_at": queue_state.attention_at(status, first_response, next_due),
                }
            )
            referrals.append(planned)
        case_ids = _insert(Case.__table__, cases)
        db.session.execute(sa.insert(SampleCase), [{"case_id": case_id} for case_id in case_ids])
        referral_rows = [
            {**referral, "case_id": case_id}
            for case_id, planned in zip(case_ids, referrals, strict=True)
            for referral in planned
        ]
        referral_ids = _insert(Referral.__table__, referral_rows)
        _insert(
            UnStep.__table__,
            [
                step
                for referral_id, referral in zip(referral_ids, referral_rows, strict=True)
                for step in _un_steps(referral_id, referral)
            ],
        )
        # The consent flag is derived from records, as the intake form writes them.
        _insert(
            ConsentRecord.__table__,
            [
                {
                    "case_id": case_id,
                    "purpose": purpose,
                    "given_by": ConsentGiver.SUBMITTER,
                    # The form records its own purposes; a caseworker records the others.
                    "given_via": ConsentChannel.INTAKE_FORM
                    if purpose in INTAKE_PURPOSES
                    else ConsentChannel.CALL_NOTE,
                    "recorded_by_id": None if purpose in INTAKE_PURPOSES else case["assignee_id"],
                    "given_at": case["received_at"],
                }
                for case_id, case, planned in zip(case_ids, cases, referrals, strict=True)
                if case["consent_given"]
                for purpose in _purposes_needed(planned)
            ],
        )
        db.session.commit()
        made_cases += len(case_ids)
        made_referrals += len(referral_rows)
    return {"cases": made_cases, "referrals": made_referrals, "org_key_id": key.id}


def real_cases() -> int:
    """How many cases this instance holds that ``flask demo`` did not make."""
    made = sa.select(SampleCase.case_id).where(SampleCase.case_id == Case.id).exists()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(~made)) or 0


def remove() -> int:
    """Delete every sample case and all that hangs off it (referrals, reminders queued or sent
    for them, consent), as the retention purge deletes a case but leaving nothing for the
    reports: they were never anyone's request. One audit event says how many; returns it."""
    removed = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(SampleCase.case_id).order_by(SampleCase.case_id).limit(CHUNK)
            )
        )
        if not ids:
            break
        retention.delete_cases(ids, keep_sent_reminders=False)
        removed += len(ids)
    audit.record("demo.removed", "case", "", actor_label="system", detail={"count": removed})
    db.session.commit()
    return removed


def _purposes_needed(planned: list[dict[str, Any]]) -> list[ConsentPurpose]:
    """What the form records, plus any purpose a planned referral needs beyond it (a reprisals
    report is agreed with the defender after intake, as a caseworker would record it)."""
    extra = {purpose_for(referral["kind"]) for referral in planned} - set(INTAKE_PURPOSES)
    return [*INTAKE_PURPOSES, *sorted(extra)]


def _referrals(
    situation: dict[str, Any],
    entries: dict[ReferralKind, DirectoryEntry | None],
    received: datetime,
    now: datetime,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """The referral rows of one case (without ``case_id``), deadlines around today, due when
    a referral to that entry would be (referrals.deadline_for)."""
    planned = []
    for kind in situation["kinds"]:
        entry = entries[kind]
        if entry is None:
            continue
        clock_kind = CLOCK_STARTS[kind]
        state = rng.choice(STATE_MIX)
        if clock_kind == "case_received" and received < now - timedelta(days=2):
            state = ReferralState.REPLIED  # an embassy is called the first day, or never
        # Sent so that deadlines fall from three weeks ago to seven weeks ahead.
        sent = now - timedelta(days=rng.randint(0, 70), hours=rng.randint(0, 23))
        # Not in the very minute the request came (13 of 32 first referrals were): a few hours
        # to a few days after it, never after now.
        sent = max(sent, min(now, received + timedelta(hours=rng.randint(4, 96))))
        clock = {"sent": sent, "case_received": received, "created": received}[clock_kind]
        started = state != ReferralState.DRAFT or clock_kind != "sent"
        # A UN referral's clock starts at the mandate's communication (``sent`` here), weeks
        # after the submission, which is what the referral's own "sent" records (_un_steps).
        submitted = (
            max(sent - _SUBMITTED_BEFORE, min(sent, received + timedelta(hours=4)))
            if kind in CLOCK_STEP
            else sent
        )
        planned.append(
            {
                "entry_id": entry.id,
                "kind": kind,
                "state": state,
                "created_at": received,
                "clock_started_at": clock if started else None,
                "due_at": deadline_for(kind, clock, entry) if started else None,
                "sent_at": submitted if state != ReferralState.DRAFT else None,
                # The submission's follow-up clock, then the government's (un_steps starts a
                # new generation when the deadline moves): reminders of the second clock are
                # new ones.
                "clock_generation": 2 if kind in CLOCK_STEP and state != ReferralState.DRAFT else 0,
                "acknowledged_at": min(now, submitted + timedelta(days=2))
                if state == ReferralState.ACKNOWLEDGED
                else None,
                "replied_at": min(now, sent + timedelta(days=20))
                if state == ReferralState.REPLIED
                else None,
            }
        )
    return planned


# The communication a mandate sends the government, per kind (the step that starts its clock).
_COMMUNICATION = {
    ReferralKind.SP_URGENT_APPEAL: CommunicationType.URGENT_APPEAL,
    ReferralKind.SP_ALLEGATION_LETTER: CommunicationType.ALLEGATION_LETTER,
    ReferralKind.SP_LEGISLATION: CommunicationType.OTHER_LETTER,
}
_SUBMITTED_BEFORE = timedelta(days=18)  # the mandate wrote to the government this much later


def _un_steps(referral_id: int, referral: dict[str, Any]) -> list[dict[str, Any]]:
    """A UN referral's steps, as a caseworker records them (un_steps): submitted to the
    mandate, acknowledged, then the communication (or a WGAD opinion transmitted) whose date
    starts the government's clock, then any reply. Without them the pages said "nothing
    recorded yet" of a referral sent weeks ago, and its date read as a check-in."""
    kind = referral["kind"]
    if kind not in CLOCK_STEP or referral["state"] == ReferralState.DRAFT:
        return []
    submitted, clock = referral["sent_at"], referral["clock_started_at"]

    def step(step_kind: UnStepKind, at: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "referral_id": referral_id,
            "kind": step_kind,
            "happened_at": at,
            "channel": "online_form" if step_kind == UnStepKind.SUBMITTED else None,
            "communication_type": fields.get("communication_type"),
            "created_at": at,
        }

    steps = [step(UnStepKind.SUBMITTED, submitted)]
    if referral["acknowledged_at"] is not None:
        steps.append(step(UnStepKind.ACKNOWLEDGED, referral["acknowledged_at"]))
    if kind == ReferralKind.WGAD_OPINION:
        steps.append(step(UnStepKind.OPINION_ADOPTED, max(submitted, clock - timedelta(days=7))))
        steps.append(step(UnStepKind.OPINION_TRANSMITTED, clock))
    else:
        steps.append(
            step(UnStepKind.COMMUNICATION_SENT, clock, communication_type=_COMMUNICATION[kind])
        )
    if referral["replied_at"] is not None:
        steps.append(step(UnStepKind.REPLY_RECEIVED, referral["replied_at"]))
    return steps


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys) into ``table``; their ids, in order.

    PostgreSQL: ``COPY`` with ids taken from the table's sequence beforehand, about three
    times faster than multi-row INSERTs here (those parse a statement of ~26,000 parameters
    per 1,000 cases). Elsewhere (SQLite in the tests): a Core multi-row INSERT … RETURNING.
    Either way each value goes through its column type (enums, JSON, UTC datetimes) and the
    columns not given get their Python defaults, as a Core INSERT would give them. (Not the
    ORM's bulk insert: it splits rows into a statement per run of identical None patterns.)
    """
    if not rows:
        return []
    connection = db.session.connection()
    dialect = connection.dialect
    rows = [_with_defaults(table, row) for row in rows]
    if dialect.name != "postgresql":
        returning = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.scalars(returning, rows))
    ids = list(
        connection.scalars(
            sa.select(
                sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
            ).select_from(sa.func.generate_series(1, len(rows)))
        )
    )
    names = list(rows[0])
    processors = [_copy_processor(table.c[name].type, dialect) for name in names]
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in ("id", *names))
    driver = connection.connection.driver_connection
    if driver is None:
        raise DemoError("the database connection is closed")
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
        for row_id, row in zip(ids, rows, strict=True):
            copy.write_row(
                (
                    row_id,
                    *(process(row[name]) for process, name in zip(processors, names, strict=True)),
                )
            )
    return ids


def _copy_processor(column_type: sa.types.TypeEngine[Any], dialect: Any) -> Callable[[Any], Any]:
    if isinstance(column_type, sa.JSON):
        return _json_text(column_type.none_as_null)
    return column_type.dialect_impl(dialect).bind_processor(dialect) or _unchanged


def _unchanged(value: Any) -> Any:
    return value


def _json_text(none_as_null: bool) -> Callable[[Any], str | None]:
    """JSON as text for COPY, dumped once per object: the rows share a situation's triage
    (4.8 KB) and routing lists. ``json.dumps``, as SQLAlchemy's JSON type serialises (None
    too: JSON ``null`` unless the column says ``none_as_null``)."""
    done: dict[int, str] = {}  # by id(): the rows keep every value alive meanwhile

    def text(value: Any) -> str | None:
        if value is None and none_as_null:
            return None
        key = id(value)
        if key not in done:
            done[key] = json.dumps(value)
        return done[key]

    return text


def _with_defaults(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    filled = dict(row)
    for column in table.columns:
        default = column.default
        if column.name in filled or column.primary_key or default is None:
            continue
        if isinstance(default, sa.ColumnDefault):
            filled[column.name] = default.arg(None) if default.is_callable else default.arg
    return filled


def _symbols(count: int) -> str:
    """``count`` random Crockford symbols (5 bits each) from one draw of the system's random
    source: what crypto.new_receipt_code makes, without a draw per symbol (25 s at 100k)."""
    number = secrets.randbits(5 * count)
    alphabet = crypto.RECEIPT_ALPHABET
    return "".join(alphabet[(number >> (5 * index)) & 31] for index in range(count))


def _new_ref(taken: set[str]) -> str:
    """A case reference not used in this run (the unique constraint guards other runs)."""
    while True:
        ref = f"RF-{_symbols(8)}"
        if ref not in taken:
            taken.add(ref)
            return ref


def _secret() -> str:
    from flask import current_app

    return str(current_app.config["SECRET_KEY"])
