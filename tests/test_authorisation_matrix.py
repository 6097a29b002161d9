"""Every route × (anonymous, viewer, caseworker, admin), read from ``app.url_map`` so that new
routes are covered without editing this file; and CSRF on every state-changing route.

Expected answers: public routes are open to everyone; every other route is guarded by
``role_required`` (an unguarded one fails here); anonymous visitors are sent to /login; a
signed-in role the route does not admit gets 403; an admitted role gets neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from intake.extensions import db
from intake.models import Role, User
from tests.builders import make_attachment, make_case, make_org_key, make_user, sign_in

PUBLIC_ENDPOINTS = {
    "static",
    "system.healthz",
    "system.vendor_asset",
    "auth.setup",
    "auth.login",
    "auth.login_code",
    "auth.logout",
    "auth.enrol",
    "auth.login_salt",
    # The second step and enrolment: guarded by the pending sign-in or enrolment in the session.
    "auth.confirm_totp",
    "auth.passkey_sign_in_options",
    "auth.passkey_sign_in",
}
PUBLIC_BLUEPRINTS = {"public"}
# Self-service routes any signed-in role may POST to; every other POST is not for viewers.
SELF_SERVICE = {
    "auth.logout_everywhere",
    "auth.change_password",
    "auth.regenerate_recovery_codes",
    "auth.remove_totp",
    "auth.replace_totp",  # one's own authenticator app, after a lost phone
    "auth.confirm_replaced_totp",
    "auth.passkey_registration_options",
    "auth.add_passkey",
    "auth.remove_passkey",
    "auth.keyring_rewrap",
    "auth.reminder_preference",  # how often one's own overdue reminders come
}
# Headers a route needs from its own page's script (keyring.js asks for the tab key with one).
SCRIPT_HEADERS = {"auth.keyring_tab_key": {"X-Refuge-Keyring": "1"}}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
ROLES: list[Role | None] = [None, Role.VIEWER, Role.CASEWORKER, Role.ADMIN]


def is_public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or endpoint.split(".")[0] in PUBLIC_BLUEPRINTS


@dataclass
class World:
    app: Flask
    users: dict[Role, User]
    values: dict[str, Any]


@pytest.fixture
def world(make_app: Callable[..., Flask]) -> Iterator[World]:
    app = make_app(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with app.app_context():
        org = make_org_key()
        users = {role: make_user(role) for role in Role}
        victim = make_user(Role.CASEWORKER)
        case = make_case(org)
        attachment = make_attachment(case, org)
        values = {
            "ref": case.ref,
            "attachment_id": attachment.id,
            "user_id": victim.id,
            "filename": "css/refuge.css",
        }
        yield World(app, users, values)


def routes(app: Flask) -> list[tuple[Rule, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return found


def url_for_rule(rule: Rule, method: str, values: dict[str, Any]) -> str:
    """Real objects for reading routes; harmless dummies (nothing found) for changing ones."""
    params: dict[str, Any] = {}
    for name, converter in rule._converters.items():  # noqa: SLF001
        numeric = isinstance(converter, IntegerConverter)
        if method == "GET" and name in values:
            params[name] = values[name]
        else:
            params[name] = 987654 if numeric else "no-such-thing"
    path = rule.rule
    for name, value in params.items():
        path = path.replace(f"<{name}>", str(value))
        for converter_name in ("int", "path", "string"):
            path = path.replace(f"<{converter_name}:{name}>", str(value))
    return path


def client_for(world: World, role: Role | None) -> FlaskClient:
    client = world.app.test_client()
    if role is not None:
        user = world.users[role]
        db.session.refresh(user)  # a previous request may have moved its session epoch on
        sign_in(client, user)
    return client


def goes_to_login(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def test_every_route_answers_each_role_as_expected(world: World) -> None:
    problems: list[str] = []
    checked = 0
    for rule, method in routes(world.app):
        view = world.app.view_functions[rule.endpoint]
        allowed: frozenset[Role] | None = getattr(view, "allowed_roles", None)
        public = is_public(rule.endpoint)
        if not public and allowed is None:
            problems.append(f"{method} {rule.rule}: not public and not guarded by role_required")
            continue
        path = url_for_rule(rule, method, world.values)
        headers = SCRIPT_HEADERS.get(rule.endpoint, {})
        for role in ROLES:
            response = (
                world.app.test_client().open(path, method=method, headers=headers)
                if role is None
                else client_for(world, role).open(path, method=method, headers=headers)
            )
            checked += 1
            where = f"{method} {path} as {role.value if role else 'anonymous'}"
            status = response.status_code
            if status >= 500:
                problems.append(f"{where}: {status}")
            elif public:
                if status == 403:
                    problems.append(f"{where}: public route answered 403")
            elif role is None:
                if not goes_to_login(response):
                    problems.append(f"{where}: expected 302 to /login, got {status}")
            elif allowed is not None and role in allowed:
                signed_out_on_purpose = rule.endpoint in SELF_SERVICE and method == "POST"
                if status == 403 or (goes_to_login(response) and not signed_out_on_purpose):
                    problems.append(f"{where}: admitted role refused with {status}")
            elif status != 403:
                problems.append(f"{where}: expected 403, got {status}")
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_role_rules_of_the_matrix(world: World) -> None:
    """The expected answers themselves: admin pages are admin-only, viewers change nothing."""
    for rule, method in routes(world.app):
        allowed = getattr(world.app.view_functions[rule.endpoint], "allowed_roles", None)
        if rule.rule.startswith("/admin"):
            assert allowed == frozenset({Role.ADMIN}), rule.rule
        if method in STATE_CHANGING and allowed and rule.endpoint not in SELF_SERVICE:
            assert Role.VIEWER not in allowed, f"viewers may {method} {rule.rule}"


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_state_changing_route_needs_a_csrf_token(
    make_app: Callable[..., Flask], signed_in: bool
) -> None:
    app = make_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    with app.app_context():
        admin = make_user(Role.ADMIN)
        org = make_org_key()
        case = make_case(org)
        values = {"ref": case.ref, "user_id": admin.id}
        missing: list[str] = []
        for rule, method in routes(app):
            if method not in STATE_CHANGING:
                continue
            client = app.test_client()
            if signed_in:
                db.session.refresh(admin)
                sign_in(client, admin)
            path = url_for_rule(rule, "GET", values)  # real objects: only CSRF stands in the way
            response = client.open(path, method=method, data={"anything": "x"})
            # Nobody signed in, on a page for signed-in staff: the post of a page whose session
            # ended meanwhile, sent to sign in and told nothing was saved (refused all the same).
            guarded = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
            if not signed_in and guarded is not None and goes_to_login(response):
                continue
            if response.status_code != 400:
                missing.append(f"{method} {path}: {response.status_code}")
        assert not missing, "\n".join(missing)
        db.session.refresh(admin)
        assert admin.is_active_account
        assert admin.password_hash
