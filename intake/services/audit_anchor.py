"""The audit chain's head, anchored outside the database, so that cutting events off the end
is detected.

A hash chain shows edits and deletions in the middle (:func:`audit.verify_chain`), but deleting
the newest events leaves a shorter chain that is just as intact. The anchor is a small file
(``AUDIT_ANCHOR_PATH``, else ``instance/audit_anchor.json``) holding the number of events, the
id and hash of the newest one, and an HMAC over them under a key derived from ``AUDIT_KEY``
(else ``SECRET_KEY``), so someone with the database alone can neither see it nor forge it.

When the anchor moves: not on every event (a file write per audited request would cost every
case read a disk sync). It moves when the chain is verified (``flask audit verify``, the admin
page), at each deadline scan (every few minutes from beat), and when the daily digest is
composed, whose admins also receive a short checksum of it by e-mail. So:

- events cut off *up to the last anchor* are reported as truncation;
- events written after the last anchor and cut off before the next one cannot be told from
  events never written: the window is the scan interval (default 5 minutes);
- someone who controls both the database and the instance folder can delete the anchor too;
  the checksum in the admins' mailbox is then the record (``audit verify --checksum``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent
from intake.services import audit

log = logging.getLogger(__name__)
ANCHOR_VERSION = 1


class ChainStatus(enum.Enum):
    INTACT = "intact"
    BROKEN = "broken"  # an event was edited, or one in the middle deleted
    REORDERED = "reordered"  # events are valid but not in the order they were written
    TRUNCATED = "truncated"  # events the anchor saw are gone from the end
    KEY_DIFFERS = "key_differs"  # written under another AUDIT_KEY / SECRET_KEY
    ANCHOR_INVALID = "anchor_invalid"  # the anchor file was edited (or another key wrote it)


@dataclass(frozen=True)
class Anchor:
    count: int
    last_id: int
    head: str
    anchored_at: str
    key_id: str

    def body(self) -> str:
        return json.dumps(
            {
                "version": ANCHOR_VERSION,
                "count": self.count,
                "last_id": self.last_id,
                "head": self.head,
                "anchored_at": self.anchored_at,
                "key_id": self.key_id,
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class AnchoredCheck:
    status: ChainStatus
    checked: int
    first_bad_id: int | None = None
    anchor: Anchor | None = None  # the anchor the check was made against, if any
    head: str | None = None
    count: int = 0

    @property
    def ok(self) -> bool:
        return self.status is ChainStatus.INTACT


# --- keys and the file --------------------------------------------------------------------------


def _anchor_key() -> bytes:
    configured = current_app.config.get("AUDIT_KEY") or current_app.config["SECRET_KEY"]
    return hashlib.sha256(b"refuge-audit-anchor:" + str(configured).encode()).digest()


def key_id() -> str:
    """Names the key without revealing it: tells "another key" apart from "edited"."""
    return hmac.new(_anchor_key(), b"key-id", hashlib.sha256).hexdigest()[:16]


def anchor_path() -> Path:
    configured = current_app.config.get("AUDIT_ANCHOR_PATH")
    if configured:
        return Path(configured)
    return Path(current_app.instance_path) / "audit_anchor.json"


def _mac(body: str) -> str:
    return hmac.new(_anchor_key(), body.encode(), hashlib.sha256).hexdigest()


class AnchorUnreadable(Exception):
    """The anchor file exists but its MAC or format is wrong; ``key_differs`` says why."""

    def __init__(self, key_differs: bool) -> None:
        super().__init__("key_differs" if key_differs else "anchor_invalid")
        self.key_differs = key_differs


def read_anchor() -> Anchor | None:
    path = anchor_path()
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AnchorUnreadable(key_differs=False) from exc
    try:
        anchor = Anchor(
            count=int(raw["count"]),
            last_id=int(raw["last_id"]),
            head=str(raw["head"]),
            anchored_at=str(raw["anchored_at"]),
            key_id=str(raw["key_id"]),
        )
        mac = str(raw["mac"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnchorUnreadable(key_differs=False) from exc
    if not hmac.compare_digest(mac, _mac(anchor.body())):
        raise AnchorUnreadable(key_differs=anchor.key_id != key_id())
    return anchor


def _write_anchor(count: int, last_id: int, head: str) -> Anchor:
    anchor = Anchor(count, last_id, head, utcnow().isoformat(timespec="seconds"), key_id())
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.loads(anchor.body()) | {"mac": _mac(anchor.body())}
    # Write aside, then rename: a reader never sees half a file, a crash leaves the old one.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return anchor


def checksum(count: int, head: str) -> str:
    """A short checksum of the head for e-mail: ``COUNT:xxxx-xxxx-xxxx`` (48 bits under the
    anchor key, so only this installation can produce or check it)."""
    digest = hmac.new(_anchor_key(), f"{count}:{head}".encode(), hashlib.sha256).hexdigest()
    return f"{count}:{digest[0:4]}-{digest[4:8]}-{digest[8:12]}"


# --- checking -----------------------------------------------------------------------------------


def _looks_like_other_key() -> bool:
    """Every one of the first events fails its HMAC while their links agree: one edit cannot do
    that (it breaks one event and the link after it); another key does."""
    first = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id).limit(3)).all()
    if len(first) < 2:
        return False
    previous = audit.GENESIS
    for event in first:
        if event.prev_hash != previous or audit.event_hash(event) == event.hash:
            return False
        previous = event.hash
    return True


def _is_reordered(event: AuditEvent) -> bool:
    """The event itself is valid, only its predecessor is not the one before it: it was moved."""
    if audit.event_hash(event) != event.hash:
        return False
    return bool(
        db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.hash == event.prev_hash))
    )


def _walk(after_id: int = 0, expected_prev: str = audit.GENESIS, offset: int = 0) -> AnchoredCheck:
    """Walk the chain after ``after_id``; ``offset`` events come before it."""
    checked = offset
    last_id = after_id
    query = sa.select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    for event in db.session.scalars(query).yield_per(500):
        if event.prev_hash != expected_prev or audit.event_hash(event) != event.hash:
            if checked == 0 and _looks_like_other_key():
                status = ChainStatus.KEY_DIFFERS
            elif _is_reordered(event):
                status = ChainStatus.REORDERED
            else:
                status = ChainStatus.BROKEN
            return AnchoredCheck(status, checked, first_bad_id=event.id)
        expected_prev = event.hash
        last_id = event.id
        checked += 1
    return AnchoredCheck(
        ChainStatus.INTACT, checked, head=expected_prev if last_id else None, count=checked
    )


def _compare_with_anchor(anchor: Anchor) -> AnchoredCheck | None:
    """None when the anchored event is still where the anchor saw it; else what went wrong."""
    at_anchor = db.session.get(AuditEvent, anchor.last_id)
    if at_anchor is not None and at_anchor.hash == anchor.head:
        position = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.id <= anchor.last_id)
        )
        if position == anchor.count:
            return None
    # The anchored head is gone or moved. Still there under another id: reordered.
    moved = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.hash == anchor.head))
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0)
    status = ChainStatus.REORDERED if moved is not None else ChainStatus.TRUNCATED
    return AnchoredCheck(status, total, anchor=anchor, count=total)


def _head() -> tuple[int, int, str] | None:
    newest = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if newest is None:
        return None
    count = int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0)
    return count, int(newest[0]), str(newest[1])


def verify(*, advance: bool = True) -> AnchoredCheck:
    """Check the whole chain, then against the anchor; when all holds, move the anchor to the
    current head (unless ``advance`` is false)."""
    try:
        anchor = read_anchor()
    except AnchorUnreadable as exc:
        status = ChainStatus.KEY_DIFFERS if exc.key_differs else ChainStatus.ANCHOR_INVALID
        return AnchoredCheck(status, 0)
    walked = _walk()
    if not walked.ok:
        return AnchoredCheck(walked.status, walked.checked, walked.first_bad_id, anchor)
    if anchor is not None:
        problem = _compare_with_anchor(anchor)
        if problem is not None:
            return problem
    head = _head()
    if head is None:
        return AnchoredCheck(ChainStatus.INTACT, 0, anchor=anchor)
    count, last_id, head_hash = head
    if advance:
        _write_anchor(count, last_id, head_hash)
    return AnchoredCheck(ChainStatus.INTACT, count, anchor=anchor, head=head_hash, count=count)


def advance() -> AnchoredCheck:
    """Cheap: check only the events written since the anchor, then move it to the head.

    Called from the deadline scan and the digest; a failure is logged (ids only) and leaves
    the anchor where it was, so that the next full ``audit verify`` reports it."""
    try:
        anchor = read_anchor()
    except AnchorUnreadable as exc:
        log.error("audit anchor not readable under this key (%s); not advanced", exc)
        return AnchoredCheck(
            ChainStatus.KEY_DIFFERS if exc.key_differs else ChainStatus.ANCHOR_INVALID, 0
        )
    if anchor is None:
        return verify()
    problem = _compare_with_anchor(anchor)
    if problem is not None:
        log.error("audit chain: %s since the last anchor", problem.status.value)
        return problem
    walked = _walk(anchor.last_id, anchor.head, anchor.count)
    if not walked.ok:
        log.error("audit chain: %s at event #%s", walked.status.value, walked.first_bad_id)
        return AnchoredCheck(walked.status, walked.checked, walked.first_bad_id, anchor)
    head = _head()
    if head is None or head[1] == anchor.last_id:
        # Nothing new since the anchor (the scan just before a digest moved it): the
        # digest's checksum still names the head, with its count ("0:…" checked nothing).
        return AnchoredCheck(
            ChainStatus.INTACT, 0, anchor=anchor, head=anchor.head, count=anchor.count
        )
    count, last_id, head_hash = head
    _write_anchor(count, last_id, head_hash)
    return AnchoredCheck(ChainStatus.INTACT, count, anchor=anchor, head=head_hash, count=count)


def accept_restore() -> tuple[bool, AnchoredCheck]:
    """After a restore from a backup older than the anchor, the chain is whole but shorter
    than the anchor saw: the events written after the backup are gone, and every check says
    "truncated". An operator who restored on purpose says so: an event recording what the
    anchor had seen (its count and time) and what came back is appended to the chain, and the
    anchor moves to the new head. Only then, and only for truncation of an intact chain:
    anything else is returned as found (False), nothing written."""
    check = verify(advance=False)
    if check.status is not ChainStatus.TRUNCATED or check.anchor is None:
        return False, check
    audit.record(
        "audit.restore_accepted",
        "audit",
        "chain",
        actor_label="operator:cli",
        detail={
            "anchored_count": check.anchor.count,
            "anchored_at": check.anchor.anchored_at,
            "restored_count": check.count,
        },
    )
    db.session.commit()
    anchor_path().unlink()  # the old anchor names events that are gone: the chain is anchored anew
    return True, verify()


_CHECKSUM = re.compile(r"[1-9][0-9]*:[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}")


def is_checksum(text: str) -> bool:
    """Whether ``text`` has the shape of a digest's checksum (:func:`checksum`)."""
    return _CHECKSUM.fullmatch(text.strip()) is not None


def matches_checksum(expected: str) -> bool:
    """Whether the event at the position named by a digest checksum still has that head."""
    count_text, _, _digest = expected.partition(":")
    if not count_text.isdigit() or int(count_text) < 1:
        return False
    event_hash = db.session.scalar(
        sa.select(AuditEvent.hash).order_by(AuditEvent.id).offset(int(count_text) - 1).limit(1)
    )
    return event_hash is not None and hmac.compare_digest(
        checksum(int(count_text), event_hash), expected.strip()
    )


def describe(check: AnchoredCheck) -> dict[str, Any]:
    """The JSON the CLI prints."""
    result: dict[str, Any] = {
        "ok": check.ok,
        "status": check.status.value,
        "checked": check.checked,
    }
    if check.first_bad_id is not None:
        result["first_bad_id"] = check.first_bad_id
    if check.anchor is not None:
        result["anchor"] = {"count": check.anchor.count, "anchored_at": check.anchor.anchored_at}
    if check.ok and check.head is not None:
        result["checksum"] = checksum(check.count, check.head)
    return result


def verify_and_record(actor: Any) -> AnchoredCheck:
    """Verify the chain against the anchor for an admin, and record that they did."""
    check = verify()
    audit.record(
        "admin.audit_verified",
        "audit",
        "chain",
        actor=actor,
        detail={
            "ok": check.ok,
            "status": check.status.value,
            "checked": check.checked,
            "first_bad_id": check.first_bad_id,
        },
    )
    db.session.commit()
    return check
