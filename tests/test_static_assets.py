"""The app's own styles and scripts on slow links (intake.system.assets): gzipped when the
browser accepts it, from a copy made at build time and never a stale one; under URLs carrying
their content's version, which a browser may keep for a year; pages never compressed."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from base64 import b64encode
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from intake.web import asset_integrity
from tests.builders import make_org_key

STATIC = Path(__file__).resolve().parent.parent / "intake" / "static"
APP_ASSETS = sorted(
    path.relative_to(STATIC).as_posix()
    for path in [*STATIC.glob("css/*.css"), *STATIC.glob("js/*.js")]
)
ONE_YEAR = 31536000
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def sha384(body: bytes) -> str:
    return "sha384-" + b64encode(hashlib.sha384(body).digest()).decode()


def version_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:12]


def static_url(app: Flask, filename: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=filename)


# 1. Compressed copies.


@pytest.mark.parametrize("name", APP_ASSETS)
def test_the_build_leaves_a_current_gzip_copy_beside_each_app_style_and_script(name: str) -> None:
    copy = STATIC / f"{name}.gz"
    assert copy.is_file(), f"no {name}.gz: run `make vendor`"
    assert gzip.decompress(copy.read_bytes()) == (STATIC / name).read_bytes(), (
        f"{name} changed since the build: run `make vendor`"
    )


@pytest.mark.parametrize("name", ["css/refuge.css", "js/intake.js", "js/sealed.js"])
def test_styles_and_scripts_are_gzipped_when_accepted_and_keep_their_integrity_hash(
    app: Flask, client: FlaskClient, name: str
) -> None:
    source = (STATIC / name).read_bytes()
    compressed = client.get(f"/static/{name}", headers=GZIP)
    plain = client.get(f"/static/{name}")
    refused = client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert compressed.status_code == plain.status_code == refused.status_code == 200
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert compressed.content_type == plain.content_type
    assert len(compressed.data) < len(source) * 0.5
    assert gzip.decompress(compressed.data) == source
    for response in (plain, refused):
        assert "Content-Encoding" not in response.headers
        assert response.data == source
    for response in (compressed, plain, refused):
        assert "Accept-Encoding" in response.vary
    # Subresource integrity covers the decoded bytes: the page's hash is the file's.
    with app.test_request_context():
        assert asset_integrity(name) == sha384(source)


def test_a_copy_that_is_not_the_file_as_it_is_now_is_never_sent(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    app.static_folder = str(tmp_path)
    (tmp_path / "js").mkdir()
    script = tmp_path / "js" / "form.js"
    copy = tmp_path / "js" / "form.js.gz"
    first = b"window.answer = 1;\n" * 200
    script.write_bytes(first)
    copy.write_bytes(gzip.compress(first))

    def sent() -> tuple[str | None, bytes]:
        response = client.get("/static/js/form.js", headers=GZIP)
        assert response.status_code == 200
        encoding = response.headers.get("Content-Encoding")
        return encoding, gzip.decompress(response.data) if encoding else response.data

    assert sent() == ("gzip", first)

    # Edited since the build: the copy is older than the file.
    second = b"window.answer = 2;\n" * 200
    script.write_bytes(second)
    os.utime(copy, ns=(script.stat().st_mtime_ns - 10**9,) * 2)
    assert sent() == (None, second)
    # A copy written after the file but of the old text (a build that read it mid-edit).
    os.utime(copy, ns=(script.stat().st_mtime_ns + 10**9,) * 2)
    assert sent() == (None, second)
    # Half written, or not gzip at all.
    copy.write_bytes(gzip.compress(second)[:40])
    assert sent() == (None, second)
    copy.write_bytes(second)
    assert sent() == (None, second)
    # Rebuilt: compressed again.
    copy.write_bytes(gzip.compress(second))
    assert sent() == ("gzip", second)


@pytest.mark.parametrize("path", ["/", "/request?lang=en", "/status", "/login", "/healthz"])
def test_pages_and_other_dynamic_responses_are_never_compressed(
    client: FlaskClient, path: str
) -> None:
    """They carry CSRF tokens beside what was typed: compressed, the length would leak the
    token (BREACH). A guard: this held before and must keep holding."""
    response = client.get(path, headers=GZIP)
    assert "Content-Encoding" not in response.headers


# 2. Versioned URLs, kept for a year.

STATIC_URL = re.compile(r'(?:src|href)="/static/([^"?]+)(?:\?v=([^"&]*))?"')


@pytest.mark.parametrize("path", ["/request?lang=en", "/status?lang=ar", "/login"])
def test_every_static_url_on_a_page_carries_its_file_version_and_integrity_hash(
    app: Flask, client: FlaskClient, path: str
) -> None:
    make_org_key()  # an open form, with its scripts
    page = client.get(path).get_data(as_text=True)
    found = STATIC_URL.findall(page)
    assert any(name == "css/refuge.css" for name, _ in found)
    assert any(name.startswith("js/") for name, _ in found)
    for name, version in found:
        body = (STATIC / name).read_bytes()
        assert version == version_of(body), name
        if name.endswith(".js"):
            pattern = rf'src="/static/{re.escape(name)}\?v={version}" integrity="([^"]+)"'
            assert re.search(pattern, page)[1] == sha384(body)  # type: ignore[index]


@pytest.mark.parametrize(
    "name", ["css/refuge.css", "js/intake.js", "vendor/libsodium.js", "favicon.ico"]
)
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_the_current_version_is_kept_for_a_year_and_any_other_url_is_revalidated(
    app: Flask, client: FlaskClient, name: str, encoding: str
) -> None:
    client.get("/request?lang=fr")  # a session cookie, as any visitor has
    current = static_url(app, name)
    assert current == f"/static/{name}?v={version_of((STATIC / name).read_bytes())}"
    headers = {"Accept-Encoding": encoding}

    kept = client.get(current, headers=headers)
    assert kept.status_code == 200
    assert kept.cache_control.public
    assert kept.cache_control.max_age == ONE_YEAR
    assert kept.cache_control.immutable
    assert not kept.cache_control.no_cache
    # Nothing tying it to the session: a browser keeps using it when the cookie changes.
    assert "Cookie" not in kept.vary
    assert "Set-Cookie" not in kept.headers

    for other in (f"/static/{name}", f"/static/{name}?v=000000000000"):
        asked = client.get(other, headers=headers)
        assert asked.status_code == 200
        assert asked.data == kept.data
        assert asked.cache_control.no_cache
        assert asked.cache_control.max_age is None
        assert not asked.cache_control.immutable
        assert asked.headers.get("ETag")
        again = client.get(other, headers={**headers, "If-None-Match": asked.headers["ETag"]})
        assert again.status_code == 304


def test_an_edited_file_gets_a_new_url_at_once_and_the_old_one_is_revalidated(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    app.static_folder = str(tmp_path)
    style = tmp_path / "site.css"
    style.write_bytes(b"body { color: black; }\n")
    old = static_url(app, "site.css")
    assert old == f"/static/site.css?v={version_of(style.read_bytes())}"
    style.write_bytes(b"body { color: navy; }\n")
    new = static_url(app, "site.css")
    assert new == f"/static/site.css?v={version_of(style.read_bytes())}" != old
    assert client.get(new).cache_control.immutable
    stale = client.get(old)
    assert stale.cache_control.no_cache
    assert not stale.cache_control.immutable
    assert stale.data == style.read_bytes()
    # A name that is no file gets no version.
    assert static_url(app, "gone.css") == "/static/gone.css"


@pytest.mark.parametrize(
    "path", ["..%2F..%2Fpyproject.toml", "js/..%2F..%2F..%2Fconfig/settings.py", "js/nope.js"]
)
def test_the_static_route_serves_nothing_else(client: FlaskClient, path: str) -> None:
    assert client.get(f"/static/{path}", headers=GZIP).status_code == 404
