"""Migration 0035: the UN references and links recorded in the clear are sealed to the
organisation's current key, in the browser's format, and the clear columns go (DESIGN §1.2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from intake import create_app
from intake.db import UTCDateTime, utcnow
from intake.extensions import db
from intake.models import ReferralKind, Role, UnStep, UnStepKind
from intake.services import referrals, un_steps
from tests import services
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user
from tests.conftest import TEST_SECRET
from tests.public.conftest import database_text
from tests.referrals.conftest import opened_fact

REFERENCE = "UA QZX 4242/2031"  # a canary in the UN's own format
LINK = "https://spcommreports.example.org/canary-7f3e-published?gId=4242"

# un_steps as 0034 left it: the reference and link in the clear.
OLD_STEPS = sa.table(
    "un_steps",
    sa.column("id", sa.Integer()),
    sa.column("referral_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("happened_at", UTCDateTime()),
    sa.column("reference", sa.String()),
    sa.column("link", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


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


def _un_referral_before_0035() -> int:
    old = make_org_key()
    make_entry("sr-hrd")
    owner = give_key(make_user(Role.CASEWORKER), old)
    case = make_case(old, received_at=utcnow() - timedelta(days=30))
    return referrals.create(case.id, "sr-hrd", ReferralKind.SP_URGENT_APPEAL, owner).id


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_references_and_links_in_the_clear_are_sealed_to_the_current_key_and_open_with_it(
    tmp_path: Path, backend: str
) -> None:
    if backend == "postgres":
        url = services.require_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'facts.sqlite'}"
    app = _migration_app(tmp_path, url)
    with app.app_context():
        services.empty_database()
        upgrade(revision="0034")
        referral_id = _un_referral_before_0035()
        current = make_org_key()  # newer than the case's: the one the migration seals to
        when = utcnow() - timedelta(days=2)
        rows = [
            (UnStepKind.SUBMITTED, None, None),
            (UnStepKind.COMMUNICATION_SENT, REFERENCE, None),
            (UnStepKind.PUBLISHED, None, LINK),
            (UnStepKind.FURTHER_COMMUNICATION, REFERENCE, LINK),
        ]
        db.session.execute(
            sa.insert(OLD_STEPS),
            [
                {
                    "referral_id": referral_id,
                    "kind": kind.value,
                    "happened_at": when,
                    "reference": reference,
                    "link": link,
                    "created_at": when,
                }
                for kind, reference, link in rows
            ],
        )
        db.session.commit()

        upgrade()

        db.session.expire_all()
        columns = {column["name"] for column in sa.inspect(db.engine).get_columns("un_steps")}
        assert {"reference", "link"}.isdisjoint(columns)
        steps = db.session.scalars(sa.select(UnStep).order_by(UnStep.id)).all()
        assert [step.kind for step in steps] == [kind for kind, _r, _l in rows]
        for step, (_kind, reference, link) in zip(steps, rows, strict=True):
            if reference is None:
                assert (step.sealed_reference, step.reference_org_key_id) == (None, None)
            else:
                assert step.sealed_reference is not None
                assert step.reference_org_key_id == current.key.id
                assert opened_fact(step.sealed_reference, current) == reference
            if link is None:
                assert (step.sealed_link, step.link_org_key_id) == (None, None)
            else:
                assert step.sealed_link is not None
                assert step.link_org_key_id == current.key.id
                assert opened_fact(step.sealed_link, current) == link
        # Padded as the browser pads it: one block, whatever the length (un_steps.looks_sealed).
        assert all(
            un_steps.looks_sealed(value)
            for step in steps
            for value in (step.sealed_reference, step.sealed_link)
            if value
        )
        text = database_text(app)  # (base64 has no spaces: the canary cannot appear by chance)
        assert "QZX 4242" not in text
        assert "canary-7f3e" not in text

        # Down again: the clear columns come back empty (the server cannot open what it sealed).
        db.session.close()  # its reads hold a lock the ALTER TABLE waits for on PostgreSQL
        downgrade(revision="0034")
        back = db.session.execute(sa.select(OLD_STEPS.c.reference, OLD_STEPS.c.link)).all()
        assert back == [(None, None)] * len(rows)
        db.session.close()
        upgrade()


def test_the_migration_refuses_to_run_with_references_and_no_key_to_seal_them_to(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = _migration_app(tmp_path, f"sqlite:///{tmp_path / 'keyless.sqlite'}")
    with app.app_context():
        upgrade(revision="0034")
        referral_id = _un_referral_before_0035()
        db.session.execute(sa.text("UPDATE org_keys SET retired_at = created_at"))
        when = utcnow()
        db.session.execute(
            sa.insert(OLD_STEPS),
            {
                "referral_id": referral_id,
                "kind": UnStepKind.COMMUNICATION_SENT.value,
                "happened_at": when,
                "reference": REFERENCE,
                "created_at": when,
            },
        )
        db.session.commit()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
            upgrade()
        # (alembic.ini's logging writes it to stderr)
        assert "no current organisation key to seal them to" in capfd.readouterr().err
