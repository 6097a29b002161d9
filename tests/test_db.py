"""Migrations on both databases, and the UTC type's round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade

from intake import MIGRATIONS_DIR, create_app
from intake.extensions import db
from intake.models import Heartbeat
from tests import services
from tests.conftest import TEST_SECRET


def test_migrations_have_a_single_head() -> None:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def _migration_app(tmp_path: Path, url: str) -> Flask:
    return create_app(
        {
            "INTAKE_ENV": "testing",
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": tmp_path / "instance",
            "CELERY_BROKER_URL": "memory://",
        }
    )


def _tables(app: Flask) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrations_upgrade_match_the_models_and_downgrade_to_nothing(
    tmp_path: Path, backend: str
) -> None:
    if backend == "postgres":
        url = services.require_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    app = _migration_app(tmp_path, url)
    with app.app_context():
        services.empty_database()
        upgrade()
        assert _tables(app) == set(db.metadata.tables)
        # The migrated schema is exactly what the models describe (no pending autogenerate).
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"render_as_batch": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert _tables(app) == set()
        upgrade()
        assert _tables(app) == set(db.metadata.tables)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_utc_type_round_trips_aware_datetimes(any_app: Flask, moment: datetime) -> None:
    db.session.add(Heartbeat(name="probe", seen_at=moment))
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(Heartbeat, "probe")
    assert loaded is not None
    assert loaded.seen_at.tzinfo is not None
    assert loaded.seen_at.utcoffset() == timedelta(0)
    assert loaded.seen_at == moment
    # Comparisons in SQL use the UTC instant too.
    later = db.session.scalar(
        sa.select(sa.func.count()).where(Heartbeat.seen_at > moment - timedelta(seconds=1))
    )
    assert later == 1


def test_utc_type_refuses_naive_datetimes(app: Flask) -> None:
    db.session.add(Heartbeat(name="naive", seen_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_the_size_bucket_migration_hides_exact_sizes_of_attachments_stored_before_padding(
    tmp_path: Path,
) -> None:
    from intake import crypto
    from intake.models import CaseAttachment
    from tests.builders import make_case, make_org_key

    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'sizes.sqlite'}")
    with app.app_context():
        upgrade()
        org = make_org_key()
        case = make_case(org)
        legacy = crypto.seal(b'{"name": "a", "type": "", "size": 3}\nabc', org.public)
        padded = crypto.seal(
            crypto.pad_file(b'{"name": "b", "type": "", "size": 1}\nb'), org.public
        )
        for content in (legacy, padded):
            db.session.add(CaseAttachment(case_id=case.id, sealed_content=content, size=0))
        db.session.commit()
        downgrade(revision="0007")  # as before padding: size is the sealed length
        assert sorted(db.session.scalars(sa.select(CaseAttachment.size))) == sorted(
            [len(legacy), len(padded)]
        )
        upgrade()
        db.session.expire_all()
        assert list(db.session.scalars(sa.select(CaseAttachment.size))) == [4096, 4096]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_consent_migration_turns_the_old_flag_into_intake_form_records(
    tmp_path: Path, backend: str
) -> None:
    """Cases from before consent records keep what their one flag meant (issue 12)."""
    from intake.models import ConsentRecord
    from tests.builders import make_case, make_org_key

    if backend == "postgres":
        url = services.require_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'consent.sqlite'}"
    app = _migration_app(tmp_path, url)
    with app.app_context():
        services.empty_database()
        upgrade()
        org = make_org_key()
        with_consent = make_case(org, consent_given=True)
        without = make_case(org, consent_given=False)
        received = with_consent.received_at
        ids = (with_consent.id, without.id)
        db.session.commit()
        downgrade(revision="0015")
        upgrade()
        db.session.expire_all()
        found = db.session.scalars(sa.select(ConsentRecord).order_by(ConsentRecord.purpose)).all()
        assert [(r.case_id, r.purpose.value) for r in found] == [
            (ids[0], "share_with_organisation"),
            (ids[0], "un_submission"),
        ]
        assert all(r.given_via.value == "intake_form" and r.given_at == received for r in found)
        assert all(r.withdrawn_at is None for r in found)


def _foreign_keys_enforced() -> bool:
    return bool(db.session.execute(sa.text("PRAGMA foreign_keys")).scalar())


def test_sqlite_connections_enforce_foreign_keys_and_cascade(app: Flask) -> None:
    """Without the pragma SQLite ignores every foreign key: ON DELETE CASCADE does nothing and
    a row may name a parent that does not exist."""
    from intake.models import Case, ConsentRecord
    from tests.builders import make_case, make_org_key

    assert _foreign_keys_enforced()
    case = make_case(make_org_key(), consent_given=True)
    db.session.execute(sa.delete(Case).where(Case.id == case.id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.insert(ConsentRecord).values(
                case_id=case.id,
                purpose="publication",
                given_by="submitter",
                given_via="intake_form",
                given_at=datetime.now(UTC),
            )
        )
    db.session.rollback()


def test_migrations_on_sqlite_run_without_foreign_keys_and_hand_back_connections_with_them(
    tmp_path: Path,
) -> None:
    """A batch migration drops and recreates tables: with foreign keys on, dropping cases would
    delete every row that refers to a case. The connection it ran on enforces them again."""
    from intake.models import ConsentRecord
    from tests.builders import make_case, make_org_key

    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    with app.app_context():
        upgrade()
        make_case(make_org_key(), consent_given=True)
        db.session.remove()
        # 0034 rebuilds cases both ways, with its consent records still pointing at it.
        downgrade(revision="0033")
        upgrade()
        assert _foreign_keys_enforced()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 2


# The tables whose ids are named elsewhere (audit events, other rows, URLs): AUTOINCREMENT on
# SQLite, so that a deleted row's id is never given again (migrations 0034 and 0036).
IDS_NEVER_REUSED = (
    "cases",
    "case_messages",
    "case_attachments",
    "consent_records",
    "referrals",
    "un_steps",
    "reminder_outbox",
    "passkeys",
)


def _autoincrement_tables() -> set[str]:
    return set(
        db.session.scalars(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE :keyword"),
            {"keyword": "%AUTOINCREMENT%"},
        )
    )


def test_sqlite_never_gives_an_id_again_in_the_migrated_schema_and_the_models(
    tmp_path: Path, app: Flask
) -> None:
    """Reflection does not see AUTOINCREMENT: a later migration that rebuilds one of these
    tables without saying so would drop it. Checked at head, as ``make run`` migrates."""
    assert _autoincrement_tables() == set(IDS_NEVER_REUSED)  # db.create_all, from the models
    migrated = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'head.sqlite'}")
    with migrated.app_context():
        upgrade()
        assert _autoincrement_tables() == set(IDS_NEVER_REUSED)
        db.session.remove()


def test_later_migrations_that_rebuild_a_table_on_sqlite_keep_its_counter(tmp_path: Path) -> None:
    """A batch rebuild drops the table and its sqlite_sequence row: the new table would count
    from the highest id still in it, and give a deleted row's id again. migrations/env.py
    raises each counter back after every revision."""
    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'counters.sqlite'}")
    with app.app_context():
        upgrade(revision="0034")
        # As if rows up to id 1000 had been made and deleted since, in every such table.
        db.session.execute(sa.text("UPDATE sqlite_sequence SET seq = 1000"))
        db.session.commit()
        upgrade()
        rows = db.session.execute(sa.text("SELECT name, seq FROM sqlite_sequence")).all()
        counters: dict[str, int] = {name: seq for name, seq in rows}
        # passkeys became AUTOINCREMENT in 0036, with none ever registered.
        assert counters == {**dict.fromkeys(IDS_NEVER_REUSED, 1000), "passkeys": 0}
        db.session.remove()


def test_a_removed_passkeys_id_is_never_given_to_the_next_one_on_sqlite(tmp_path: Path) -> None:
    """A passkey's id is in its "Remove" button: SQLite gave a removed passkey's id to the
    next one registered, so "Remove" pressed in a tab drawn before removed the new passkey.
    0036 starts the counter after the highest id the table or the audit log named."""
    from intake.models import Passkey
    from intake.services import audit
    from tests.builders import make_user

    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'passkeys.sqlite'}")
    with app.app_context():
        upgrade(revision="0035")
        user = make_user()

        def register(name: str) -> int:
            passkey = Passkey(user_id=user.id, name=name, credential_id=name, public_key="k")
            db.session.add(passkey)
            db.session.commit()
            return passkey.id

        first, second = register("first"), register("second")
        # The newest one removed before 0036, leaving only its audit event.
        audit.record("auth.passkey_removed", "user", user.id, detail={"passkey": second})
        db.session.execute(sa.delete(Passkey).where(Passkey.id == second))
        db.session.commit()
        upgrade()
        third = register("third")
        assert third > second > first
        db.session.execute(sa.delete(Passkey).where(Passkey.id == third))
        db.session.commit()
        assert register("fourth") > third
        db.session.remove()


def test_the_ids_migration_removes_what_old_purges_left_and_never_gives_a_purged_id_again(
    tmp_path: Path,
) -> None:
    """Before 0034 the purge left, on SQLite, the rows that hang off a case by ON DELETE
    CASCADE alone (consent, search tokens, UN steps), and the next case took the purged id:
    it "had" consent. The newest cases were purged, so their ids are not in the table; the
    rows left behind and the audit log still name them."""
    from intake.models import (
        Case,
        CaseAttachment,
        CaseMessage,
        CaseSearchIndex,
        CaseSearchToken,
        ConsentPurpose,
        ConsentRecord,
        MessageKind,
        Referral,
        UnStep,
    )
    from intake.services import audit, consent, search
    from tests.builders import make_attachment, make_case, make_org_key
    from tests.referrals.conftest import sent_referral

    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'purged.sqlite'}")
    with app.app_context():
        # Built with today's models, then taken back to before this fix (tables as they were).
        upgrade()
        org = make_org_key()
        kept = sent_referral(org=org)
        kept_id, kept_case_id, kept_steps = kept.id, kept.case_id, len(_rows(UnStep))
        purged = sent_referral(org=org)
        case = purged.case
        note = CaseMessage(case_id=case.id, kind=MessageKind.INTERNAL_NOTE, sealed_body="x" * 80)
        db.session.add(note)
        db.session.flush()
        attachment = make_attachment(case, org, message_id=note.id)
        search.store_tokens(case, org.key.id, ["ab" * 16], purged.owner, through_message_id=note.id)
        # The newest case, purged leaving nothing but its audit event.
        bare = make_case(org, consent_given=False)
        highest: dict[type[Any], int] = {
            Case: bare.id,
            Referral: purged.id,
            UnStep: max(db.session.scalars(sa.select(UnStep.id))),
            ConsentRecord: max(db.session.scalars(sa.select(ConsentRecord.id))),
            CaseMessage: note.id,
            CaseAttachment: attachment.id,
        }
        purged_ids = [case.id, bare.id]
        for purged_id in purged_ids:
            audit.record("case.purged", "case", purged_id, detail={"reason": "retention"})
        db.session.commit()
        for gone in (case, bare, purged, note, attachment):
            db.session.expunge(gone)
        downgrade(revision="0033")
        # As the purge before this fix did on SQLite (foreign keys not enforced): referrals
        # and the cases deleted; what only the database's cascades would remove stays.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for statement in (
                "DELETE FROM referrals WHERE case_id IN (?, ?)",
                "DELETE FROM cases WHERE id IN (?, ?)",
            ):
                connection.exec_driver_sql(statement, tuple(purged_ids))
            connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        # (Read by table name: the models are today's, the tables as before 0034.)
        assert _count("un_steps") > kept_steps  # the purged referral's, left behind
        assert _count("consent_records") > 2  # and the purged case's consent
        db.session.commit()

        upgrade()

        assert {row.case_id for row in _rows(ConsentRecord)} == {kept_case_id}
        assert len(_rows(ConsentRecord)) == 2  # the kept case's consent, as it was
        assert {row.referral_id for row in _rows(UnStep)} == {kept_id}
        assert len(_rows(UnStep)) == kept_steps
        for model in (CaseSearchToken, CaseSearchIndex, CaseMessage, CaseAttachment):
            assert _rows(model) == [], model.__name__
        assert [row.id for row in _rows(Case)] == [kept_case_id]
        # Still computed by the rebuilt table (its status is "referred").
        assert db.session.scalar(sa.select(Case.status_rank)) == 2

        request = make_case(org, consent_given=False)
        assert not consent.has_consent(request, ConsentPurpose.SHARE_WITH_ORGANISATION)
        again = sent_referral(org=org)
        message = CaseMessage(case_id=request.id, kind=MessageKind.INTERNAL_NOTE, sealed_body="y")
        db.session.add(message)
        db.session.flush()
        make_attachment(request, org, message_id=message.id)
        assert request.id > highest[Case]
        assert again.id > highest[Referral]
        for table, used in highest.items():
            newest = max(db.session.scalars(sa.select(table.id)))
            assert newest > used, table.__name__
        db.session.remove()


def _rows(model: type) -> list[Any]:
    return list(db.session.scalars(sa.select(model)))


def _count(table: str) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) or 0)
