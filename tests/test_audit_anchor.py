"""Truncation of the audit chain is caught by the anchor kept outside the database."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import AuditEvent
from intake.services import audit, audit_anchor


def _record(count: int) -> None:
    for number in range(count):
        audit.record("case.view", "case", number, detail={"n": number})
    db.session.commit()


def _verify_cli(app: Flask, *args: str) -> tuple[int, dict[str, object]]:
    result = app.test_cli_runner().invoke(args=["audit", "verify", *args])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_an_intact_chain_exits_zero_and_prints_a_checksum(app: Flask) -> None:
    _record(4)
    code, result = _verify_cli(app)
    assert code == 0
    assert result["status"] == "intact"
    assert result["checked"] == 4
    assert str(result["checksum"]).startswith("4:")


def test_deleting_the_newest_three_events_is_reported_as_truncation(app: Flask) -> None:
    _record(6)
    assert _verify_cli(app)[0] == 0  # anchors the head at 6 events
    newest = db.session.scalars(
        sa.select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(3)
    ).all()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(newest)))
    db.session.commit()
    assert audit.verify_chain().ok is True  # the chain alone cannot tell
    code, result = _verify_cli(app)
    assert code == 1
    assert result["status"] == "truncated"
    assert "truncated" in str(result["message"])


def test_truncation_then_new_events_is_still_truncation(app: Flask) -> None:
    _record(5)
    audit_anchor.advance()
    newest = db.session.scalars(
        sa.select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(2)
    ).all()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(newest)))
    db.session.commit()
    _record(3)  # the writer links to what is left: the chain looks whole again
    assert audit.verify_chain().ok is True
    assert audit_anchor.advance().status is audit_anchor.ChainStatus.TRUNCATED
    assert _verify_cli(app)[1]["status"] == "truncated"


def test_swapping_two_events_is_reported_as_reordered(app: Flask) -> None:
    _record(4)
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    second, third = events[1], events[2]
    fields = ("at", "actor_label", "action", "target_type", "target_id", "detail", "prev_hash")
    was_second = {name: getattr(second, name) for name in (*fields, "hash")}
    was_third = {name: getattr(third, name) for name in (*fields, "hash")}
    second.hash = "x" * 64  # hashes are unique: make room first
    db.session.flush()
    for name, value in was_second.items():
        setattr(third, name, value)
    db.session.flush()
    for name, value in was_third.items():
        setattr(second, name, value)
    db.session.commit()
    code, result = _verify_cli(app)
    assert code == 1
    assert (result["status"], result["first_bad_id"]) == ("reordered", second.id)


def test_an_edited_event_is_broken(app: Flask) -> None:
    _record(3)
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()[1]
    event.detail = {"n": 42}
    db.session.commit()
    code, result = _verify_cli(app)
    assert (code, result["status"], result["first_bad_id"]) == (1, "broken", event.id)


def test_an_edited_anchor_file_is_refused(app: Flask) -> None:
    _record(2)
    audit_anchor.verify()
    path = audit_anchor.anchor_path()
    data = json.loads(path.read_text())
    data["count"] = 1
    path.write_text(json.dumps(data))
    code, result = _verify_cli(app)
    assert (code, result["status"]) == (1, "anchor_invalid")


def test_another_audit_key_is_named_not_reported_as_tampering(app: Flask) -> None:
    _record(3)
    audit_anchor.verify()
    app.config["AUDIT_KEY"] = "another-key"
    code, result = _verify_cli(app)
    assert (code, result["status"]) == (1, "key_differs")
    audit_anchor.anchor_path().unlink()  # a restore without the anchor file
    code, result = _verify_cli(app)
    assert (code, result["status"]) == (1, "key_differs")
    assert "AUDIT_KEY" in str(result["message"])


def test_a_digest_checksum_still_matches_until_events_are_cut(app: Flask) -> None:
    _record(3)
    check = audit_anchor.verify()
    assert check.head is not None
    mailed = audit_anchor.checksum(check.count, check.head)
    _record(2)
    assert _verify_cli(app, "--checksum", mailed)[0] == 0
    audit_anchor.anchor_path().unlink()  # the attacker removes the anchor as well
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id > 1))
    db.session.commit()
    code, result = _verify_cli(app, "--checksum", mailed)
    assert code == 1
    assert result["checksum_matches"] is False


def test_a_digest_after_a_scan_with_nothing_new_mails_a_checksum_that_matches(
    app: Flask,
) -> None:
    """The scan moves the anchor just before the digest, so the digest usually finds nothing
    new: its checksum still names the head. It was "0:…", which `verify --checksum` then
    called lost events on an intact chain."""
    _record(5)
    assert audit_anchor.advance().ok  # the scan
    check = audit_anchor.advance()  # the digest, nothing new since
    assert (check.ok, check.count) == (True, 5)
    assert check.head is not None
    mailed = audit_anchor.checksum(check.count, check.head)
    assert mailed.startswith("5:")
    code, result = _verify_cli(app, "--checksum", mailed)
    assert (code, result["checksum_matches"]) == (0, True)


def test_a_checksum_that_is_not_one_is_refused_as_such_not_as_lost_events(app: Flask) -> None:
    _record(2)
    for given in ("0:21e8-ab34-3913", "nonsense", "2:zzzz-ab34-3913", "2:" + "a" * 200):
        code, result = _verify_cli(app, "--checksum", given)
        assert code == 1
        assert result["checksum_matches"] is False
        assert "not a digest's checksum" in str(result["message"])
        assert "events were lost" not in str(result["message"])


def test_advance_moves_the_anchor_without_a_full_walk(app: Flask) -> None:
    _record(2)
    assert audit_anchor.advance().ok
    _record(3)
    check = audit_anchor.advance()
    assert (check.ok, check.count) == (True, 5)
    anchor = audit_anchor.read_anchor()
    assert anchor is not None
    assert anchor.count == 5


def _accept_restore_cli(app: Flask) -> tuple[int, dict[str, object]]:
    result = app.test_cli_runner().invoke(args=["audit", "accept-restore"])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def _cut_newest(count: int) -> None:
    """What a restore from an older backup looks like to the anchor: the newest events gone."""
    newest = db.session.scalars(
        sa.select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(count)
    ).all()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_(newest)))
    db.session.commit()


def test_a_restore_accepted_is_recorded_in_the_chain_and_anchored_again(app: Flask) -> None:
    _record(6)
    assert _verify_cli(app)[0] == 0  # the live anchor has seen 6 events
    _cut_newest(3)  # the backup held 3
    assert _verify_cli(app)[1]["status"] == "truncated"
    code, result = _accept_restore_cli(app)
    assert code == 0, result
    assert "had seen 6 events" in str(result["message"])
    assert "holds 4" in str(result["message"])  # the 3 restored and the acceptance
    accepted = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert accepted is not None
    assert accepted.action == "audit.restore_accepted"
    assert accepted.actor_label == "operator:cli"
    assert (accepted.detail["anchored_count"], accepted.detail["restored_count"]) == (6, 3)
    code, result = _verify_cli(app)
    assert (code, result["status"], result["checked"]) == (0, "intact", 4)
    _record(2)
    assert audit_anchor.advance().ok  # the scan goes on from the new anchor


def test_accept_restore_changes_nothing_unless_the_chain_is_only_shorter(app: Flask) -> None:
    _record(4)
    assert _verify_cli(app)[0] == 0
    code, result = _accept_restore_cli(app)  # nothing was restored
    assert code == 1
    assert "Nothing was changed" in str(result["message"])
    first = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).first()
    assert first is not None
    first.detail = {"n": "edited"}  # tampering is never accepted as a restore
    db.session.commit()
    code, result = _accept_restore_cli(app)
    assert (code, result["status"]) == (1, "broken")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 4
    assert not db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "audit.restore_accepted")
    )


def test_a_mistyped_checksum_is_not_called_lost_events_outright(app: Flask) -> None:
    _record(3)
    check = audit_anchor.verify()
    assert check.head is not None
    mailed = audit_anchor.checksum(check.count, check.head)
    mistyped = mailed[:-1] + ("0" if mailed[-1] != "0" else "1")
    code, result = _verify_cli(app, "--checksum", mistyped)
    assert (code, result["checksum_matches"]) == (1, False)
    assert "character by character" in str(result["message"])
