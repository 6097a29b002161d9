"""Public submissions: creating cases from the intake form, receipt codes, and the submitter's
follow-ups.

What is stored for a request (DESIGN §1, §3):

- the routing fields in the clear (urgency, threats, profiles, country, languages, consent),
- ``sealed_answers``: base64 (standard alphabet) of ``crypto_box_seal(sodium_pad(JSON, 1024))``
  to the organisation key — sealed in the browser, or here when JavaScript is off,
- one ``CaseAttachment`` per evidence file, ``sealed_content`` = raw ``crypto_box_seal`` bytes of
  the *file envelope* (below), sealed the same two ways,
- ``receipt_lookup`` (HMAC of the receipt code under the server secret) and the submitter's
  ``reply_public_key``. The code itself is never stored.
- with a submission token (one per filled form, sent again with every retry), a
  ``SubmissionToken`` row for a day: an HMAC of the token, and the receipt code encrypted under
  a key derived from the token, so that a retry gets the same receipt and files nothing
  (:mod:`intake.services.submission_tokens`; a follow-up's token works the same way).

The file envelope (what a sealed attachment opens to) is the UTF-8 JSON header
``{"name": …, "type": …, "size": …}``, one newline byte, then the file's bytes. JSON escapes
newlines inside strings, so the first ``\\n`` always ends the header. The envelope is padded
(ISO/IEC 7816-4, ``sodium_pad``) to a size bucket (``crypto.file_bucket``: a power of two from
4 KiB to 1 MiB, then whole MiB) before sealing, so the stored length tells files of one bucket
apart no better than their count; whoever opens it keeps the header's ``size`` bytes after the
newline and checks that the rest is the padding. The server refuses sealed files whose length
is not a bucket plus the seal, and ``CaseAttachment.size`` holds only the bucket. (Attachments
stored before padding have no padding after the file's bytes; they still open.)

Messages (follow-ups from the submitter, replies from staff) are sealed like the answers: a
padded JSON object ``{"body": text}``; a follow-up's files are attachments with ``message_id``.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Any, overload

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    ConsentRecord,
    MessageKind,
    OrgKey,
    OrgSetting,
    SealedBy,
    directory_version,
    queue_state,
)
from intake.services import (
    audit,
    consent,
    follow_ups,
    key_pins,
    search,
    submission_tokens,
    triage,
)
from intake.services.errors import ServiceError
from intake.services.transactions import transactional
from intake.services.triage import Routing

log = logging.getLogger(__name__)

REF_PREFIX = "RF-"
REF_LENGTH = 8  # 40 random bits in Crockford base32: unique enough to retry on a clash
REF_DRAWS = 8
# A file envelope's header (name, type, size) may take at most this many bytes.
FILE_HEADER_MAX = 1024
SUBMITTER = "submitter"


class SubmissionRefused(ServiceError):
    """A request we do not accept; ``str(error)`` is safe to show to the submitter. ``field``,
    when set, is the form's field it is about: the browser shows it beside that field."""

    field: str | None = None


class AttachmentRefused(SubmissionRefused):
    """The files of a request or follow-up refused: said beside the file field."""

    field = "attachments"


@dataclass(frozen=True)
class PlainFile:
    """An evidence file as the no-JavaScript path receives it; sealed before anything else."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Submission:
    case_id: int
    receipt_code: str
    # A retry of a request already filed under its submission token: nothing new was stored,
    # and this is the first attempt's case and receipt code.
    repeated: bool = False

    @property
    def case(self) -> Case:
        """The stored case, loaded when asked for: the public form needs only the receipt
        code, so a submission builds no ORM object for the row it inserted."""
        case = db.session.get(Case, self.case_id)
        if case is None:  # pragma: no cover — just inserted
            raise LookupError(self.case_id)
        return case


class StaleSealingKey(Exception):  # noqa: N818 — not an error: the caller reads the key again
    """The database no longer holds the key (or directory version) a :class:`TrustedKey`
    remembers: nothing was stored; read the key again and submit the usual way."""


@dataclass(frozen=True)
class TrustedKey:
    """The current organisation key as this process last read it and verified it against its
    pin, with the pin and the directory version read then.

    On PostgreSQL a submission sealed to it skips the read of the key, its pin and the version
    (a round trip and a fifth of a browser submission's time): the statement that inserts the
    case inserts it only if the database still holds exactly these values, in the same
    snapshot, and this key is still the newest not retired (:func:`_trusted_key_holds`).
    Otherwise nothing is inserted and :class:`StaleSealingKey` sends the caller back to the
    usual read. A key swapped, retired, re-pinned or superseded is therefore never used, as
    when it is read on every request; what the process remembers only spares the read."""

    id: int
    public_key: str
    fingerprint: str
    pin: str
    directory_version: str | None

    # Read as the current key, so not retired then; the insert checks that it still is not.
    retired_at = None


_TRUSTED_KEY = "refuge.trusted_sealing_key"  # app.extensions: this app's TrustedKey


def trusted_sealing_key() -> TrustedKey | None:
    """The key this process verified last (PostgreSQL only: the check rides on its insert)."""
    trusted: TrustedKey | None = current_app.extensions.get(_TRUSTED_KEY)
    return trusted


def trust(org_key: OrgKey) -> None:
    """Remember ``org_key``, just read as the current key and verified against its pin (with
    the directory version read in the same transaction), for the next submissions."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    pin = db.session.scalar(
        sa.select(OrgSetting.value).where(
            OrgSetting.key == key_pins.pin_name(sa.literal(org_key.id))
        )
    )
    if pin is None or not key_pins.matches(org_key, pin):  # pragma: no cover — just verified
        distrust()
        return
    current_app.extensions[_TRUSTED_KEY] = TrustedKey(
        id=org_key.id,
        public_key=org_key.public_key,
        fingerprint=org_key.fingerprint,
        pin=pin,
        directory_version=directory_version.current(db.session),
    )


def distrust() -> None:
    current_app.extensions.pop(_TRUSTED_KEY, None)


# ---------------------------------------------------------------------------------------------
# Keys and limits


@overload
def usable_org_key(org_key_id: Any, current: OrgKey | None = None) -> OrgKey: ...


@overload
def usable_org_key(org_key_id: Any, current: TrustedKey) -> OrgKey | TrustedKey: ...


def usable_org_key(
    org_key_id: Any, current: OrgKey | TrustedKey | None = None
) -> OrgKey | TrustedKey:
    """The key a browser says it sealed to: it must exist and not be retired. ``current`` is
    the current key the caller has read already: when it is that one, no look-up again."""
    try:
        key_id = int(org_key_id)
    except (TypeError, ValueError) as exc:
        raise SubmissionRefused(_l("The organisation key id is missing or not a number.")) from exc
    if current is not None and current.id == key_id and current.retired_at is None:
        return current
    key = db.session.get(OrgKey, key_id) if 0 < key_id < 2**31 else None
    if key is None or key.retired_at is not None:
        raise SubmissionRefused(
            _l(
                "The organisation key this was sealed to is not in use. Reload the page and "
                "send again."
            )
        )
    return key


def attachment_max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def attachment_max_count() -> int:
    return int(current_app.config["ATTACHMENT_MAX_COUNT"])


def answers_max_bytes() -> int:
    return int(current_app.config["SEALED_ANSWERS_MAX_BYTES"])


def sealed_file_max_bytes() -> int:
    """The largest sealed file accepted: the bucket of a largest file with a largest header, so
    a file of exactly ``ATTACHMENT_MAX_BYTES`` always fits, even when its bucket is larger."""
    return crypto.file_bucket(attachment_max_bytes() + FILE_HEADER_MAX + 1) + crypto.SEAL_OVERHEAD


def bucket_of(sealed_file: bytes) -> int:
    """What ``CaseAttachment.size`` keeps in the clear: the padded size, never the file's."""
    return len(sealed_file) - crypto.SEAL_OVERHEAD


# ---------------------------------------------------------------------------------------------
# Validation of ciphertext from the browser (format and size; the content stays unknown)


def check_sealed_answers(text: Any) -> str:
    """Base64 of a sealed, padded payload: standard alphabet, whole pad blocks, not too big."""
    if not isinstance(text, str) or not text:
        raise SubmissionRefused(_l("The sealed answers are missing."))
    try:
        raw = crypto.validate_sealed(text, max_bytes=answers_max_bytes(), what="sealed answers")
    except crypto.InvalidCiphertext as exc:
        raise SubmissionRefused(
            _l("The sealed answers are not valid: %(reason)s.", reason=exc)
        ) from exc
    body = len(raw) - crypto.SEAL_OVERHEAD
    if body < crypto.PAD_BLOCK or body % crypto.PAD_BLOCK:
        raise SubmissionRefused(
            _l("The sealed answers have the wrong length: they are truncated or were not padded.")
        )
    return text


def sealed_file_from_base64(text: str, index: int) -> bytes:
    """A sealed file as pages loaded before the binary parts post it (base64 text, a line end
    allowed after it), decoded: :func:`check_sealed_file` then checks it as any other."""
    what = f"sealed file {index}"
    text = text.strip()
    if not text:
        raise AttachmentRefused(_l("Sealed file %(number)d is empty.", number=index))
    try:
        return crypto.decode_sealed(text, max_bytes=sealed_file_max_bytes(), what=what)
    except crypto.InvalidCiphertext as exc:
        raise AttachmentRefused(
            _l("Sealed file %(number)d is not valid: %(reason)s.", number=index, reason=exc)
        ) from exc


def check_sealed_file(raw: bytes, index: int) -> bytes:
    """A sealed file envelope from the browser, its raw ciphertext (as posted, or decoded from
    an older page's base64): a sealed box of a whole bucket, not over the largest. Returned as
    it is stored."""
    what = f"sealed file {index}"
    if not raw:
        raise AttachmentRefused(_l("Sealed file %(number)d is empty.", number=index))
    try:
        crypto.validate_sealed_bytes(raw, max_bytes=sealed_file_max_bytes(), what=what)
    except crypto.InvalidCiphertext as exc:
        raise AttachmentRefused(
            _l("Sealed file %(number)d is not valid: %(reason)s.", number=index, reason=exc)
        ) from exc
    if not crypto.is_file_bucket(bucket_of(raw)):
        raise AttachmentRefused(
            _l(
                "Sealed file %(number)d has the wrong length: it is truncated or was not padded.",
                number=index,
            )
        )
    return raw


def check_padded_files(sealed_files: list[bytes]) -> None:
    """Every sealed file is a bucket plus the seal (the service's own check, whoever calls)."""
    if not all(crypto.is_file_bucket(bucket_of(content)) for content in sealed_files):
        raise AttachmentRefused(
            _l("A sealed file has the wrong length: it is truncated or was not padded.")
        )


def check_plain_files(files: list[PlainFile]) -> None:
    """Files from the no-JavaScript path: not too many, none too large."""
    check_file_count(len(files))
    if any(len(plain.data) > attachment_max_bytes() for plain in files):
        raise AttachmentRefused(_l("A file is larger than allowed."))


def check_file_count(count: int) -> None:
    if count > attachment_max_count():
        raise AttachmentRefused(
            _l("At most %(count)d files can be attached.", count=attachment_max_count())
        )


# ---------------------------------------------------------------------------------------------
# File envelopes


def file_envelope(plain: PlainFile) -> bytes:
    header = json.dumps(
        {"name": plain.name, "type": plain.content_type, "size": len(plain.data)},
        ensure_ascii=False,
    ).encode("utf-8")
    return header + b"\n" + plain.data


def seal_file(plain: PlainFile, public_key_b64: str) -> bytes:
    """The padded envelope sealed to the key: what the browser's ``sealed.sealFile`` makes."""
    return crypto.seal(crypto.pad_file(file_envelope(plain)), public_key_b64)


# ---------------------------------------------------------------------------------------------
# Creating a case


def new_case_ref() -> str:
    """A short reference staff can say aloud ("RF-" + 8 Crockford symbols); drawn at random,
    its uniqueness is the database's to say (:func:`_insert_case`). The 32 symbols take five
    random bits each, all read from one draw of the system's generator (not one per symbol)."""
    return REF_PREFIX + crypto.random_symbols(REF_LENGTH)


def _insert_case(values: dict[str, Any]) -> Case:
    """Insert the case under a fresh reference, in one statement that the unique constraint
    answers: ``ON CONFLICT (ref) DO NOTHING RETURNING`` gives no row on a clash (one in a
    trillion at this size) and another reference is drawn. Neither a look-up first nor a
    SAVEPOINT around a failing INSERT (two more round trips each time) is needed.

    Being an INSERT statement rather than a flush, it sets the queue's stored columns itself,
    with the helper the flush hook uses (:mod:`intake.models.queue_state`)."""
    values = _new_case_values(values)
    dialect = db.session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for _draw in range(REF_DRAWS):
        statement = (
            insert(Case)
            .values(ref=new_case_ref(), **values)
            .on_conflict_do_nothing(index_elements=[Case.ref])
            .returning(Case)
        )
        case: Case | None = db.session.scalar(statement)
        if case is not None:
            return case
    raise RuntimeError(f"no free case reference in {REF_DRAWS} draws")  # pragma: no cover


def _new_case_values(values: dict[str, Any]) -> dict[str, Any]:
    received_at = utcnow()
    return {
        **values,
        "received_at": received_at,
        **queue_state.new_case_columns(values["urgency"], received_at),
    }


def _with_python_defaults(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the columns' Python-side defaults filled in: SQLAlchemy applies them to
    a statement it executes, not to one inside a CTE."""
    filled = dict(values)
    for name, default in _python_defaults(table):
        if name not in filled:
            filled[name] = default.arg(None) if default.is_callable else default.arg
    return filled


@functools.cache
def _python_defaults(table: sa.Table) -> tuple[tuple[str, Any], ...]:
    """The columns of ``table`` that have a Python-side default, found once per process."""
    return tuple(
        (column.name, column.default)
        for column in table.columns
        if isinstance(column.default, sa.ColumnDefault)
    )


def _insert_case_with_consent(
    values: dict[str, Any],
    consented: bool,
    *,
    lock_head: bool,
    trusted: TrustedKey | None = None,
    claim: tuple[str, str] | None = None,
) -> tuple[int, list[audit.Entry]] | None:
    """PostgreSQL: the case, its intake consent records and the audit chain head's lock in ONE
    statement (data-modifying CTEs), where :func:`_insert_case` and the consent INSERT and the
    lock are three round trips. The lock is still taken last but one: the events are chained
    in Python next and appended with the head (:func:`audit.record_all`), then the commit, the
    same span as when the lock was its own statement. A clashing reference inserts nothing,
    locks nothing, and another one is drawn.

    With ``trusted``, the insert happens only if the key and directory version it remembers
    still hold; no row back then means :class:`StaleSealingKey` (or, once in a trillion, a
    clashing reference: the caller's fresh read and retry cost nothing then).

    With ``claim`` (a submission token's keyed hash and the sealed receipt its row keeps), the
    same statement claims the token first (:func:`submission_tokens.claim`, as its own
    statement did before: one round trip less), and the case and everything after it are
    inserted only if the claim succeeded; None if an earlier attempt holds the token (nothing
    was stored then)."""
    values = _with_python_defaults(Case.__table__, _new_case_values(values))
    columns = tuple(sorted(values))
    guarded = trusted is not None
    params = {f"case_{name}": value for name, value in values.items()}
    if claim is not None:
        params.update(token_lookup=claim[0], token_sealed_receipt=claim[1], token_at=utcnow())
    if trusted is not None:
        params.update(
            trusted_id=trusted.id,
            trusted_public_key=trusted.public_key,
            trusted_fingerprint=trusted.fingerprint,
            trusted_pin=trusted.pin,
            trusted_version=trusted.directory_version,
        )
    # Core, not the ORM: only the new ids come back, and no Case is built for the row. What
    # the session holds goes first, as the ORM's autoflush would have sent it (the key a
    # caller just added, say).
    db.session.flush()
    connection = db.session.connection()
    claiming = claim is not None
    for _draw in range(REF_DRAWS if trusted is None else 1):
        statement = _case_with_consent_statement(
            columns, consented, lock_head, guarded=guarded, claiming=claiming
        )
        rows: list[Any] = list(
            connection.execute(statement, {**params, "case_ref": new_case_ref()}).all()
        )
        if claiming:
            # One row always, its first column the claimed token (None: an earlier attempt
            # holds it), then the case's columns (None if no case was inserted).
            if rows[0][0] is None:
                return None
            claiming = False  # ours now, in this transaction: a clash draws again without it
            rows = [row[1:] for row in rows if row[1] is not None]
        if rows:
            case_id: int = rows[0][0]
            if lock_head:
                audit.continue_from(rows[0][1], rows[0][2])
            inserted = [(row[-2], row[-1]) for row in rows] if consented else []
            return case_id, consent.intake_entries(case_id, inserted, SUBMITTER)
    if trusted is not None:
        raise StaleSealingKey
    raise RuntimeError(f"no free case reference in {REF_DRAWS} draws")  # pragma: no cover


def _trusted_key_holds() -> sa.ColumnElement[bool]:
    """SQL: the key a :class:`TrustedKey` remembers (bound parameters ``trusted_*``) is still
    in the database as it was verified, pinned by the same pin, not retired and not
    superseded by a newer key; and the directory version is the one it remembers."""
    keys = OrgKey.__table__
    settings = OrgSetting.__table__
    newer = keys.alias("newer_key")
    key_as_verified = (
        sa.select(sa.literal(1))
        .select_from(keys.join(settings, settings.c.key == key_pins.pin_name(keys.c.id)))
        .where(
            keys.c.id == sa.bindparam("trusted_id", type_=keys.c.id.type),
            keys.c.public_key == sa.bindparam("trusted_public_key", type_=keys.c.public_key.type),
            keys.c.fingerprint
            == sa.bindparam("trusted_fingerprint", type_=keys.c.fingerprint.type),
            keys.c.retired_at.is_(None),
            settings.c.value == sa.bindparam("trusted_pin", type_=settings.c.value.type),
            ~sa.exists().where(newer.c.retired_at.is_(None), newer.c.id > keys.c.id),
        )
    )
    version = sa.bindparam("trusted_version", type_=settings.c.value.type)
    return sa.and_(
        sa.exists(key_as_verified), directory_version.column().is_not_distinct_from(version)
    )


@functools.cache
def _case_with_consent_statement(
    columns: tuple[str, ...],
    consented: bool,
    lock_head: bool,
    guarded: bool = False,
    claiming: bool = False,
) -> sa.Select[Any]:
    """The statement of :func:`_insert_case_with_consent`, built once per shape with bound
    parameters ``case_<column>`` (SQLAlchemy then compiles it once, not per submission).
    ``guarded``: the case is inserted only if :func:`_trusted_key_holds`.

    ``claiming``: first the submission token's row (bound parameters ``token_lookup``,
    ``token_sealed_receipt`` and ``token_at``), ``INSERT … ON CONFLICT DO NOTHING`` as
    :func:`submission_tokens.claim` sends it alone; the case's row is selected only if that
    returned the token, so the claim (which waits for an attempt that holds the token still
    uncommitted) is done before the case is inserted, and a token claimed already inserts
    nothing and locks nothing. The result then has one row at least whatever happened: the
    claimed token (or None), followed by the columns it has without the claim."""
    cases = Case.__table__
    records_table = ConsentRecord.__table__
    bound: dict[str, sa.ColumnElement[Any]] = {
        name: sa.bindparam(f"case_{name}", type_=cases.c[name].type) for name in columns
    }
    # The triage list comes as JSON text already (remembered per routing): PostgreSQL reads
    # it as json, and it is not encoded again per submission.
    bound["triage"] = sa.cast(sa.bindparam("case_triage", type_=sa.Text), cases.c.triage.type)
    ref = sa.bindparam("case_ref", type_=cases.c.ref.type)
    insert_case = postgresql.insert(cases)
    claimed = submission_tokens.claim_cte() if claiming else None
    if guarded or claimed is not None:
        row = sa.select(ref.label("ref"), *(bound[name].label(name) for name in columns))
        if claimed is not None:
            row = row.where(sa.exists(sa.select(claimed.c.lookup)))
        if guarded:
            row = row.where(_trusted_key_holds())
        insert_case = insert_case.from_select(["ref", *columns], row)
    else:
        insert_case = insert_case.values(ref=ref, **bound)
    new_case = (
        insert_case.on_conflict_do_nothing(index_elements=[cases.c.ref])
        .returning(cases.c.id)
        .cte("new_case")
    )
    # Only the id comes back: the rest of the row is what was just sent (the triage list alone
    # is kilobytes of JSON to decode again); Submission.case loads the row if someone asks.
    statement = sa.select(new_case.c.id).select_from(new_case)
    if lock_head:
        head = audit.head_lock().where(sa.exists(sa.select(new_case.c.id))).cte("head")
        statement = statement.add_columns(head.c.hash, head.c.present).outerjoin(head, sa.true())
    if consented:
        record_rows = consent.intake_record_values(new_case.c.id, bound["received_at"])
        # One SELECT per record, each taking the new case's id (none if it clashed).
        selects = [
            sa.select(
                *(
                    value.label(name)
                    if isinstance(value, sa.ColumnElement)
                    else sa.literal(value, type_=records_table.c[name].type).label(name)
                    for name, value in row.items()
                )
            )
            for row in record_rows
        ]
        records = (
            sa.insert(records_table)
            .from_select(list(record_rows[0]), sa.union_all(*selects))
            .returning(records_table.c.id, records_table.c.purpose)
            .cte("records")
        )
        statement = statement.add_columns(records.c.id, records.c.purpose).outerjoin(
            records, sa.true()
        )
    if claimed is not None:
        # The claim's row, then whatever the statement above gives (nothing: one row of Nones).
        inserted = statement.subquery("inserted")
        statement = (
            sa.select(claimed.c.lookup, *inserted.c)
            .select_from(sa.select(sa.literal(1).label("one")).subquery("one_row"))
            .outerjoin(claimed, sa.true())
            .outerjoin(inserted, sa.true())
        )
    return statement


def triage_suggestions(routing: Routing) -> str:
    """Triage for a new case, as the JSON text ``Case.triage`` stores (remembered per routing
    and directory version: :func:`triage.stored_suggestions_json`). A request is never lost to
    triage: if it fails, the case is stored without suggestions and staff can run triage
    later."""
    try:
        return triage.stored_suggestions_json(routing)
    except Exception as exc:  # noqa: BLE001 — routing fields only; never lose the request
        log.warning("triage failed for a new case: %s", type(exc).__name__)
        return "[]"


def _receipt() -> tuple[str, str, str]:
    """A fresh receipt code, its keyed look-up hash, and the reply public key derived from it.

    The server generates the code, so it sees it once anyway; deriving the reply public key
    here (exactly as the browser does, ``crypto.reply_keypair``) means the case has its reply
    key from the first moment, with no second request that could fail or be forged. The reply
    secret key is discarded at once; only the submitter, who holds the code, can derive it
    again. The public key alone does not help an attacker who steals the database: testing
    guesses against it means searching 100-bit codes.
    """
    code = crypto.new_receipt_code()
    normalised = crypto.normalise_receipt_code(code)
    if normalised is None:  # pragma: no cover — new_receipt_code only makes valid codes
        raise RuntimeError("receipt code generator produced an invalid code")
    lookup = crypto.receipt_lookup(normalised, current_app.config["SECRET_KEY"])
    reply_public, _reply_secret = crypto.reply_keypair(normalised)
    return code, lookup, reply_public


# ---------------------------------------------------------------------------------------------
# Submission tokens: a request sent again (its answer lost on the way) is filed once


def _token_claim(raw_token: bytes, receipt_code: str, sealed_by: SealedBy) -> tuple[str, str]:
    """What claiming the token stores: its keyed hash (within the path that sent it), and this
    request's receipt code sealed under a key derived from the token (for a retry to get back)."""
    lookup = submission_tokens.request_lookup(
        raw_token, sealed_on_server=sealed_by == SealedBy.SERVER
    )
    return lookup, crypto.seal_receipt_for_token(receipt_code, raw_token)


def _claim_token(raw_token: bytes, receipt_code: str, sealed_by: SealedBy) -> str | None:
    """Claim the token for this request, first thing in its transaction
    (:func:`submission_tokens.claim`): None if it is ours now, else the receipt code that the
    request which claimed it first keeps for its retries.

    It comes before the case and the audit chain head's lock, so that lock is held no longer
    than before. (On PostgreSQL the statement that inserts the case claims the token first:
    :func:`_insert_case_with_consent`.)"""
    lookup, sealed_receipt = _token_claim(raw_token, receipt_code, sealed_by)
    if submission_tokens.claim(lookup, sealed_receipt) is submission_tokens.Claim.NEW:
        return None
    return _earlier_receipt(lookup, raw_token)


def _earlier_receipt(lookup: str, raw_token: bytes) -> str:
    """The receipt code that the request which claimed the token first keeps for its retries
    (read by a new statement, which sees that request's commit)."""
    earlier = submission_tokens.sealed_receipt(lookup)
    if earlier is None:  # pragma: no cover — the conflicting row was purged in between
        raise SubmissionRefused(_l("This request could not be sent. Please send it again."))
    return crypto.open_receipt_for_token(earlier, raw_token)


def _earlier_submission(receipt_code: str) -> Submission:
    """The request a token was used for first, found by its receipt code's keyed hash."""
    normalised = crypto.normalise_receipt_code(receipt_code) or ""
    lookup = crypto.receipt_lookup(normalised, current_app.config["SECRET_KEY"])
    case_id = db.session.scalar(sa.select(Case.id).where(Case.receipt_lookup == lookup))
    if case_id is None:  # the case was deleted since: say so rather than file it again
        raise SubmissionRefused(
            _l("This request was sent already and is no longer open. Nothing was saved.")
        )
    return Submission(case_id=case_id, receipt_code=receipt_code, repeated=True)


@transactional
def create_case(
    routing: Routing,
    *,
    org_key: OrgKey | TrustedKey,
    sealed_answers: str,
    sealed_files: list[bytes],
    sealed_by: SealedBy,
    locale: str,
    submission_token: bytes | None = None,
    ends_transaction: bool = False,
) -> Submission:
    """Store a sealed request and return its receipt code (shown to the submitter once).

    ``submission_token`` (the raw bytes of the form's token): a token already used stores
    nothing and returns the first attempt's case and receipt code (``repeated``); see
    :func:`_claim_token`.

    ``ends_transaction``: the caller is the outermost transaction and does nothing after this
    (the public form's view): on PostgreSQL the audit events carry the commit
    (:func:`audit.record_all`), so the chain head's lock is held one round trip less.

    With a :class:`TrustedKey` (PostgreSQL) the key is checked by the insert itself and
    :class:`StaleSealingKey` is raised, with nothing stored, if the database moved on."""
    check_file_count(len(sealed_files))
    check_padded_files(sealed_files)
    trusted = org_key if isinstance(org_key, TrustedKey) else None
    if trusted is not None:
        # Triage ranks against the directory of this version; the insert checks it is current.
        directory_version.remember(db.session, trusted.directory_version)
    code, lookup, reply_public = _receipt()
    postgres = db.session.get_bind().dialect.name == "postgresql"
    claim: tuple[str, str] | None = None
    if submission_token is not None:
        if postgres:  # claimed by the statement that inserts the case
            claim = _token_claim(submission_token, code, sealed_by)
        else:
            earlier = _claim_token(submission_token, code, sealed_by)
            if earlier is not None:
                return _earlier_submission(earlier)
    values = dict(
        urgency=routing.urgency,
        threats=list(routing.threats),
        profiles=list(routing.profiles),
        country=routing.country,
        languages=list(routing.languages),
        consent_given=routing.consent_given,
        locale=locale,
        sealed_by=sealed_by,
        org_key_id=org_key.id,
        sealed_answers=sealed_answers,
        receipt_lookup=lookup,
        reply_public_key=reply_public,
    )
    triage_json = triage_suggestions(routing)
    consent_events: list[audit.Entry]
    if postgres:
        values["triage"] = triage_json  # cast to json by the statement
        # With files, the head is locked after they are stored (record_all), not while.
        inserted = _insert_case_with_consent(
            values, routing.consent_given, lock_head=not sealed_files, trusted=trusted, claim=claim
        )
        if inserted is None:  # the token was claimed before: what that attempt stored
            if claim is None or submission_token is None:  # pragma: no cover — claims only
                raise RuntimeError("no case inserted and no token claimed")
            return _earlier_submission(_earlier_receipt(claim[0], submission_token))
        case_id, consent_events = inserted
    elif trusted is not None:  # pragma: no cover — trust() remembers keys on PostgreSQL only
        raise StaleSealingKey
    else:
        case = _insert_case({**values, "triage": json.loads(triage_json)})
        consent_events = consent.record_from_intake(case, routing.consent_given, SUBMITTER)
        case_id = case.id
    if sealed_files:
        # Added by id: appending to ``case.attachments`` would first load the (empty)
        # collection.
        db.session.add_all(
            CaseAttachment(case_id=case_id, sealed_content=content, size=bucket_of(content))
            for content in sealed_files
        )
        db.session.flush()
    # The audit events last, in one statement: the chain head's lock (which every audited
    # write takes in turn) is held from here to the commit only.
    audit.record_all(
        [
            audit.Entry(
                "case.submitted",
                "case",
                case_id,
                actor_label=SUBMITTER,
                detail={"sealed_by": sealed_by.value, "attachments": len(sealed_files)},
            ),
            *consent_events,
        ],
        commit=ends_transaction,
    )
    return Submission(case_id=case_id, receipt_code=code)


@transactional
def create_case_from_plaintext(
    routing: Routing,
    *,
    org_key: OrgKey | TrustedKey,
    answers: dict[str, str],
    files: list[PlainFile],
    locale: str,
    submission_token: bytes | None = None,
    ends_transaction: bool = False,
) -> Submission:
    """The no-JavaScript path: seal first, then store exactly what the browser path stores
    (``submission_token`` and ``ends_transaction`` as for :func:`create_case`)."""
    check_plain_files(files)
    sealed_answers = crypto.seal_answers(answers, org_key.public_key)
    sealed_files = [seal_file(plain, org_key.public_key) for plain in files]
    return create_case(
        routing,
        org_key=org_key,
        sealed_answers=sealed_answers,
        sealed_files=sealed_files,
        sealed_by=SealedBy.SERVER,
        locale=locale,
        submission_token=submission_token,
        ends_transaction=ends_transaction,
    )


# ---------------------------------------------------------------------------------------------
# Receipt codes: status and follow-ups


def find_case_by_receipt(code: str) -> Case | None:
    normalised = crypto.normalise_receipt_code(code or "")
    if normalised is None:
        return None
    lookup = crypto.receipt_lookup(normalised, current_app.config["SECRET_KEY"])
    return db.session.scalars(sa.select(Case).where(Case.receipt_lookup == lookup)).first()


@transactional
def record_status_view(case: Case) -> None:
    """A submitter read the status of their case: audited like every read (DESIGN §1.6)."""
    audit.record("case.status_viewed", "case", case.id, actor_label=SUBMITTER)


def staff_replies(case: Case) -> list[CaseMessage]:
    return [message for message in case.messages if message.kind == MessageKind.STAFF_REPLY]


def submitter_thread(case: Case) -> list[CaseMessage]:
    """What the submitter sees at /status, oldest first: the replies, and their own follow-ups
    that carry a copy sealed to the reply key (internal notes never)."""
    shown = [
        message
        for message in case.messages
        if message.kind == MessageKind.STAFF_REPLY
        or (message.kind == MessageKind.SUBMITTER_FOLLOW_UP and message.sealed_for_submitter)
    ]
    return sorted(shown, key=lambda message: (message.created_at, message.id))


def files_sent_with(thread: list[CaseMessage]) -> dict[int, int]:
    """How many files each of the submitter's own messages in ``thread`` carried."""
    own = [message.id for message in thread if message.kind == MessageKind.SUBMITTER_FOLLOW_UP]
    if not own:
        return {}
    counted = db.session.execute(
        sa.select(CaseAttachment.message_id, sa.func.count())
        .where(CaseAttachment.message_id.in_(own))
        .group_by(CaseAttachment.message_id)
    ).all()
    return {message_id: int(count) for message_id, count in counted if message_id is not None}


@transactional
def add_follow_up(
    case: Case,
    *,
    org_key: OrgKey,
    sealed_body: str,
    sealed_files: list[bytes],
    sealed_for_submitter: str | None = None,
    submission_token: bytes | None = None,
) -> CaseMessage | None:
    """A sealed follow-up message (and files) from the submitter; ``sealed_for_submitter`` is
    the same message sealed to the case's reply key, for the submitter to reread.

    ``submission_token`` (the raw bytes of the message's token, one per written message): a
    token this case's follow-ups used already stores nothing and returns None — the message
    was sent (its answer was lost on the way), and the caller answers as it did then."""
    check_file_count(len(sealed_files))
    check_padded_files(sealed_files)
    if submission_token is not None:
        lookup = submission_tokens.follow_up_lookup(submission_token, case.id)
        if submission_tokens.claim(lookup) is submission_tokens.Claim.SEEN:
            return None
    message = CaseMessage(
        case_id=case.id,
        kind=MessageKind.SUBMITTER_FOLLOW_UP,
        sealed_body=sealed_body,
        sealed_for_submitter=sealed_for_submitter,
        org_key_id=org_key.id,
    )
    db.session.add(message)
    db.session.flush()
    for content in sealed_files:
        db.session.add(
            CaseAttachment(
                case_id=case.id,
                message_id=message.id,
                sealed_content=content,
                size=bucket_of(content),
            )
        )
    # Its words are searchable once a key holder has read them into the case's tokens.
    search.needs_reindex(case.id)
    # Someone is told: the case is marked unread and, for a first unseen message, a notice
    # goes to the outbox (the caller queues it after the commit: follow_ups.enqueue).
    notice_id = follow_ups.mark_unread(case, message.id, message.created_at)
    detail: dict[str, Any] = {"message_id": message.id, "attachments": len(sealed_files)}
    if notice_id is not None:
        detail["notice_id"] = notice_id
    audit.record("case.follow_up", "case", case.id, actor_label=SUBMITTER, detail=detail)
    return message


@transactional
def add_follow_up_from_plaintext(
    case: Case,
    *,
    org_key: OrgKey,
    body: str,
    files: list[PlainFile],
    submission_token: bytes | None = None,
) -> CaseMessage | None:
    """The no-JavaScript path: seal first, then store as :func:`add_follow_up` does."""
    check_plain_files(files)
    return add_follow_up(
        case,
        org_key=org_key,
        sealed_body=crypto.seal_answers({"body": body}, org_key.public_key),
        sealed_files=[seal_file(plain, org_key.public_key) for plain in files],
        sealed_for_submitter=(
            crypto.seal_answers({"body": body}, case.reply_public_key)
            if case.reply_public_key
            else None
        ),
        submission_token=submission_token,
    )
