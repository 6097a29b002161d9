"""The public form's rate limits come from the environment (issue #15, item 13)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from config.settings import ConfigError, settings_for
from tests.builders import make_org_key


def test_the_public_form_limit_is_read_from_the_environment(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUEST_RATE_LIMIT", "2 per hour")
    app = make_app("sqlite", WTF_CSRF_ENABLED=False)
    with app.app_context():
        make_org_key()
    client = app.test_client()
    answers = [client.post("/request", data={}).status_code for _ in range(3)]
    assert answers[:2] != [429, 429]
    assert answers[2] == 429


def test_the_public_form_limit_holds_in_memory_while_redis_is_unreachable(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUEST_RATE_LIMIT", "2 per hour;3 per day")
    app = make_app("sqlite", WTF_CSRF_ENABLED=False, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    with app.app_context():
        make_org_key()
    client = app.test_client()
    answers = [client.post("/request", data={}).status_code for _ in range(3)]
    assert 429 not in answers[:2]
    assert all(status < 500 for status in answers)
    assert answers[2] == 429


@pytest.mark.parametrize(
    "name", ["REQUEST_RATE_LIMIT", "STATUS_RATE_LIMIT", "FOLLOW_UP_RATE_LIMIT", "LOGIN_RATE_LIMIT"]
)
def test_a_malformed_limit_stops_start_up(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "lots per fortnight")
    with pytest.raises(ConfigError, match=name):
        settings_for("development")


def test_without_the_variables_the_documented_defaults_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REQUEST_RATE_LIMIT", "STATUS_RATE_LIMIT", "FOLLOW_UP_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_for("development")
    assert settings["REQUEST_RATE_LIMIT"] == "10 per hour;30 per day"
    assert settings["STATUS_RATE_LIMIT"] == "5 per minute;30 per hour"
    assert settings["FOLLOW_UP_RATE_LIMIT"] == "10 per hour"


@pytest.mark.redis
@pytest.mark.parametrize(
    ("limits", "counted"),
    [
        # The hour is spent at the third post: the day's counter is not counted then.
        ("2 per hour;3 per day", {"1/hour": 3, "1/day": 2}),
        # The day is spent at the third post, the hour is not.
        ("5 per hour;2 per day", {"1/hour": 3, "1/day": 3}),
    ],
)
def test_the_public_form_limit_counts_its_windows_in_redis_as_flask_limiter_does(
    make_app: Callable[..., Flask],
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    limits: str,
    counted: dict[str, int],
) -> None:
    """Both windows in one round trip (one script call per post), on the counters
    Flask-Limiter's fixed window keeps: the same keys, counts and expiries."""
    import redis

    app = make_app(
        "sqlite", WTF_CSRF_ENABLED=False, RATELIMIT_STORAGE_URI=redis_url, REQUEST_RATE_LIMIT=limits
    )
    with app.app_context():
        make_org_key()
    client = app.test_client()
    assert client.post("/request", data={}).status_code != 429  # loads the script
    commands: list[str] = []
    sent = redis.Redis.execute_command

    def spy(self: redis.Redis, *args: object, **options: object) -> object:
        commands.append(str(args[0]))
        return sent(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    assert client.post("/request", data={}).status_code != 429
    assert commands == ["EVALSHA"]
    assert client.post("/request", data={}).status_code == 429
    monkeypatch.undo()

    store = redis.Redis.from_url(redis_url)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}):  # the client's
        from limits import parse_many

        from intake.extensions import limiter
        from intake.public.routes import REQUEST_LIMIT_SCOPE, _client_key

        key = _client_key()
        for item in parse_many(limits):
            window = f"{item.multiples}/{item.GRANULARITY.name}"
            counter = f"LIMITS:{item.key_for(key, REQUEST_LIMIT_SCOPE)}"
            assert int(store.get(counter) or 0) == counted[window]
            assert 0 < store.ttl(counter) <= item.get_expiry()
            # What Flask-Limiter's own strategy reads from the same counters.
            stats = limiter.limiter.get_window_stats(item, key, REQUEST_LIMIT_SCOPE)
            assert stats.remaining == max(0, item.amount - counted[window])
