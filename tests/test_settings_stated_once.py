"""A setting's default is stated once, in config/settings.py, and the code reads it from the
app's config with no default of its own: services/submissions.py fell back to 320 KiB of
sealed answers where the settings say 540 KiB (at 320 KiB a form of emoji within every
counter was refused), and the rate limits and sign-in waits each said their default again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from config.settings import settings_for
from intake.auth import devices
from intake.auth import routes as auth_routes
from intake.models import Role
from intake.public import consent as public_consent
from intake.public import routes as public_routes
from intake.services import (
    accounts,
    deadlines,
    proof_of_work,
    sign_in_throttle,
    staff_sessions,
    submissions,
)
from tests.builders import make_user


def _totp_cap_reached() -> bool:
    return sign_in_throttle.totp_capped(make_user(Role.CASEWORKER))


# Each setting, and a reader of it that the app uses.
READERS: list[tuple[str, Callable[[], object]]] = [
    ("SEALED_ANSWERS_MAX_BYTES", submissions.answers_max_bytes),
    ("LOGIN_RATE_LIMIT", auth_routes.login_rate_limit),
    ("REQUEST_RATE_LIMIT", public_routes._request_limit),
    ("STATUS_RATE_LIMIT", public_routes._status_limit),
    ("FOLLOW_UP_RATE_LIMIT", public_routes._follow_up_limit),
    ("FOLLOW_UP_RATE_LIMIT", public_consent._limit),
    ("URGENT_HELP_RATE_LIMIT", public_routes._urgent_help_limit),
    ("LOGIN_FREE_FAILURES", lambda: sign_in_throttle.delay_seconds(10)),
    ("LOGIN_DELAY_BASE_SECONDS", lambda: sign_in_throttle.delay_seconds(10)),
    ("LOGIN_DELAY_MAX_SECONDS", lambda: sign_in_throttle.delay_seconds(10)),
    ("TOTP_DAILY_CAP", _totp_cap_reached),
    ("TRUSTED_DEVICE_DAYS", devices._max_age),
    ("KEY_WRAP_OPS_LIMIT", accounts.wrap_limits),
    ("KEY_WRAP_MEM_LIMIT", accounts.wrap_limits),
    ("TOTP_ISSUER", lambda: accounts.otpauth_uri(make_user(Role.CASEWORKER), "JBSWY3DPEHPK3PXP")),
    ("SESSION_IDLE_MINUTES", staff_sessions.idle_limit),
    ("POW_DIFFICULTY_BITS", proof_of_work.difficulty),
    ("POW_TTL_SECONDS", proof_of_work.issue),
    ("SALT_RATE_LIMIT", auth_routes.salt_rate_limit),
]
IDS = [f"{name}-{number}" for number, (name, _reader) in enumerate(READERS)]


def test_an_app_built_without_a_setting_reads_the_settings_default(app: Flask) -> None:
    defaults = settings_for("testing")
    assert submissions.answers_max_bytes() == defaults["SEALED_ANSWERS_MAX_BYTES"]
    assert auth_routes.login_rate_limit() == defaults["LOGIN_RATE_LIMIT"]
    assert public_routes._request_limit() == defaults["REQUEST_RATE_LIMIT"]
    assert public_routes._status_limit() == defaults["STATUS_RATE_LIMIT"]
    assert public_routes._follow_up_limit() == defaults["FOLLOW_UP_RATE_LIMIT"]
    assert public_consent._limit() == defaults["FOLLOW_UP_RATE_LIMIT"]
    assert public_routes._urgent_help_limit() == defaults["URGENT_HELP_RATE_LIMIT"]
    assert sign_in_throttle.delay_seconds(100) == defaults["LOGIN_DELAY_MAX_SECONDS"]
    free = defaults["LOGIN_FREE_FAILURES"]
    assert sign_in_throttle.delay_seconds(free - 1) == 0
    assert sign_in_throttle.delay_seconds(free) == defaults["LOGIN_DELAY_BASE_SECONDS"]
    assert accounts.wrap_limits() == (
        defaults["KEY_WRAP_OPS_LIMIT"],
        defaults["KEY_WRAP_MEM_LIMIT"],
    )
    assert staff_sessions.idle_limit().total_seconds() == defaults["SESSION_IDLE_MINUTES"] * 60
    assert proof_of_work.difficulty() == defaults["POW_DIFFICULTY_BITS"]
    assert auth_routes.salt_rate_limit() == defaults["SALT_RATE_LIMIT"]
    assert devices._max_age() == defaults["TRUSTED_DEVICE_DAYS"] * 86400
    # The deadline rules, pure functions without an app, default to the same numbers.
    assert defaults["FOLLOW_UP_DAYS"] == deadlines.DEFAULT_FOLLOW_UP_DAYS
    assert tuple(deadlines.DEFAULT_OFFSETS_DAYS) == tuple(defaults["REMINDER_OFFSETS_DAYS"])


@pytest.mark.parametrize(("name", "reader"), READERS, ids=IDS)
def test_a_reader_has_no_default_of_its_own_to_disagree_with(
    app: Flask, name: str, reader: Callable[[], object]
) -> None:
    """Every app has the setting (create_app starts from config/settings.py): without it, a
    reader fails rather than quietly use another number."""
    del app.config[name]
    with pytest.raises(KeyError, match=name):
        reader()
