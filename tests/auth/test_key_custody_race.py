"""Two admins revoking the last two grants of a key at once: one must be refused."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.extensions import db
from intake.models import KeyGrant, Role, User
from intake.services import keys
from tests.builders import make_org_key, make_staff_with_keys


@pytest.mark.postgres
def test_concurrent_revokes_never_leave_a_key_without_a_holder(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("postgres")
    with app.app_context():
        org = make_org_key()
        first, _ = make_staff_with_keys(Role.ADMIN, org=org)
        second, _ = make_staff_with_keys(Role.ADMIN, org=org)
        grants = {
            grant.user_id: grant.id
            for grant in db.session.scalars(
                sa.select(KeyGrant).where(KeyGrant.org_key_id == org.key.id)
            )
        }
        jobs = [(grants[first.id], second.id), (grants[second.id], first.id)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def revoke(grant_id: int, actor_id: int) -> None:
        with app.app_context():
            actor = db.session.get(User, actor_id)
            assert actor is not None
            barrier.wait()
            try:
                keys.revoke(grant_id, actor)
                result = "revoked"
            except keys.KeyOperationError as error:
                db.session.rollback()
                result = error.code
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=revoke, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["last_key_holder", "revoked"]
    with app.app_context():
        active = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(KeyGrant)
            .where(KeyGrant.org_key_id == org.key.id, KeyGrant.revoked_at.is_(None))
        )
        assert active == 1
