"""No page loads libsodium twice, for any role. Signed in, the header's keyring loads it
(auth/_lock_state.html); a page that loaded its own copy as well replaced ``window.sodium``
under the scripts waiting on the first, and they broke: on /status the replies said
"Opening…" for good. Every GET route × role is read from ``app.url_map`` (as the
authorisation matrix does), and /status's detail page, which shows only in answer to a code."""

from __future__ import annotations

import re

from tests.builders import make_case, make_org_key
from tests.public.conftest import case_with_a_thread, csrf_token
from tests.test_authorisation_matrix import ROLES, World, client_for, routes, url_for_rule, world

__all__ = ["world"]  # the fixture, shared with the authorisation matrix

# Either build: the staff pages' sumo one or the public pages' standard one.
LIBSODIUM = re.compile(r"<script\b[^>]*\bsrc=\"[^\"]*/vendor/libsodium(?:-public)?\.js[?\"]")
KEYRING = re.compile(r"<script\b[^>]*\bsrc=\"[^\"]*/js/keyring\.js[?\"]")


def _loads(response_text: str) -> tuple[int, int]:
    return len(LIBSODIUM.findall(response_text)), len(KEYRING.findall(response_text))


def test_no_page_loads_libsodium_or_the_keyring_twice(world: World) -> None:
    problems: list[str] = []
    pages_with_libsodium = 0
    for rule, method in routes(world.app):
        if method != "GET" or rule.endpoint in {"static", "system.vendor_asset"}:
            continue
        path = url_for_rule(rule, method, world.values)
        for role in ROLES:
            client = world.app.test_client() if role is None else client_for(world, role)
            response = client.get(path)
            if response.mimetype != "text/html":
                continue
            libsodium, keyring = _loads(response.text)
            pages_with_libsodium += libsodium > 0
            if libsodium > 1 or keyring > 1:
                who = role.value if role else "anonymous"
                problems.append(f"GET {path} as {who}: libsodium ×{libsodium}, keyring ×{keyring}")
    # The public form and every signed-in page load it: the walk reached them.
    assert pages_with_libsodium > 20
    assert not problems, "\n".join(problems)


def test_the_status_page_loads_libsodium_once_signed_in_or_not(world: World) -> None:
    with world.app.app_context():
        code = case_with_a_thread(make_org_key(), reply="We are on it.")
        make_case(make_org_key())  # another case, so that the code is not the only one
    for role in ROLES:
        client = world.app.test_client() if role is None else client_for(world, role)
        token = csrf_token(client, "/status")
        response = client.post("/status", data={"csrf_token": token, "code": code})
        assert response.status_code == 200
        assert "data-sealed-reply" in response.text  # the detail page, not the code form
        assert _loads(response.text)[0] == 1, role
