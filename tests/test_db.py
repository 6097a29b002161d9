"""Migrations on both databases, and the UTC type's round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

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
