"""The request form's styles and scripts in real Chromium: gzipped on the wire and still
passing their integrity checks, and taken from the browser's cache on a second visit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask

from tests.builders import make_org_key

pytestmark = pytest.mark.browser

# Every script or style that fails to load, its integrity check included, fires "error" on
# its element; the listener is in place before the page's first element.
RECORD_FAILED_LOADS = """
window.failedLoads = [];
addEventListener("error", (event) => {
  const element = event.target;
  if (element instanceof HTMLScriptElement || element instanceof HTMLLinkElement) {
    window.failedLoads.push(element.src || element.href);
  }
}, true);
"""


class PathRecorder:
    """WSGI middleware noting the path of every request that reaches the server."""

    def __init__(self, app: Flask) -> None:
        self.wrapped = app.wsgi_app
        self.paths: list[str] = []
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        self.paths.append(environ["PATH_INFO"] + (f"?{query}" if query else ""))
        return self.wrapped(environ, start_response)


def test_the_request_form_gets_its_files_gzipped_and_each_passes_its_integrity_check(
    app: Flask, live_server: Any, page: Any
) -> None:
    make_org_key()
    page.add_init_script(RECORD_FAILED_LOADS)
    encodings: dict[str, str | None] = {}
    page.on(
        "response",
        lambda response: (
            encodings.__setitem__(
                response.url.split("/static/", 1)[-1].split("?")[0],
                response.headers.get("content-encoding"),
            )
            if "/static/" in response.url
            else None
        ),
    )
    page.goto(f"{live_server.url}/request?lang=en", wait_until="load")
    ours = {
        name: encoding for name, encoding in encodings.items() if name.endswith((".js", ".css"))
    }
    assert "css/refuge.css" in ours
    assert "js/intake.js" in ours
    # The standard build of libsodium, not the staff pages' sumo build (85 KB more on 2G).
    assert "vendor/libsodium-public.js" in ours
    assert "vendor/libsodium.js" not in ours
    assert ours == dict.fromkeys(ours, "gzip")
    assert page.evaluate("window.failedLoads") == []
    # The scripts ran: libsodium is ready, and the form is the stepped one intake.js makes.
    assert (
        page.evaluate("window.sodium.ready.then(() => typeof window.sodium.crypto_box_seal)")
        == "function"
    )
    assert page.locator("#step-nav").is_visible()


def test_a_second_visit_asks_the_server_for_the_page_alone(
    app: Flask, live_server: Any, page: Any
) -> None:
    make_org_key()
    reached = PathRecorder(app)
    page.goto(f"{live_server.url}/request?lang=en", wait_until="load")
    assert any(path.startswith("/static/js/intake.js?v=") for path in reached.paths)
    # Chromium asks for the icon after "load": let it, so that it is not counted below.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("favicon" in path for path in reached.paths):
        page.wait_for_timeout(100)
    reached.paths.clear()
    page.goto("about:blank")
    # A later visit: the page signs its session cookie anew (a new timestamp), which must not
    # make the browser ask for the files again.
    page.wait_for_timeout(1100)
    page.goto(f"{live_server.url}/request?lang=en", wait_until="load")
    page.wait_for_timeout(1000)  # the icon's turn, were it asked for again
    assert reached.paths == ["/request?lang=en"]
    assert page.locator("#step-nav").is_visible()
