"""Vendored browser libraries: served from the app itself, compressed, and matching their SRI."""

from __future__ import annotations

import gzip
import hashlib
import json
from base64 import b64encode
from pathlib import Path

import pytest
from flask.testing import FlaskClient

VENDOR = Path(__file__).resolve().parent.parent / "intake" / "static" / "vendor"


# Each file's gzipped size at most, as a share of its own: Chinese characters compress less.
@pytest.mark.parametrize(
    ("name", "share"),
    [
        ("libsodium.js", 0.5),
        ("libsodium-wrappers.js", 0.5),
        ("libsodium-public.js", 0.5),
        ("libsodium-wrappers-public.js", 0.5),
        ("han-fold.js", 0.7),
    ],
)
def test_vendored_library_is_gzipped_when_accepted_and_matches_its_integrity_hash(
    client: FlaskClient, name: str, share: float
) -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    compressed = client.get(f"/static/vendor/{name}", headers={"Accept-Encoding": "gzip"})
    plain = client.get(f"/static/vendor/{name}")
    assert compressed.status_code == plain.status_code == 200
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    decoded = gzip.decompress(compressed.data)
    assert decoded == plain.data
    assert len(compressed.data) < len(plain.data) * share
    digest = "sha384-" + b64encode(hashlib.sha384(decoded).digest()).decode()
    assert manifest[name] == digest


@pytest.mark.parametrize("path", ["../secret_key", "..%2F..%2Fpyproject.toml", "nope.js"])
def test_vendor_route_serves_nothing_else(client: FlaskClient, path: str) -> None:
    response = client.get(f"/static/vendor/{path}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 404
