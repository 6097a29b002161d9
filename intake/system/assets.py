"""Static files for defenders on slow phone links: pre-compressed copies and versioned URLs.

- **Compressed copies.** ``make vendor`` (scripts/vendor.mjs) writes ``NAME.gz`` beside each of
  the app's own styles and scripts and each vendored library. A browser that accepts gzip is
  sent that copy with ``Content-Encoding: gzip``; subresource integrity covers the decoded
  bytes, so the hashes stay those of the files themselves. A copy is sent only while it decodes
  to the file as it is now: after an edit since the last build the file goes out uncompressed,
  never stale.
- **Versioned URLs.** Every ``url_for("static", …)`` carries ``?v=`` and the start of the file's
  SHA-256. A request for the current version may be kept for a year without asking again (a
  changed file gets a new URL); one without it, or with an old one, is revalidated as before.

Only these files are compressed. HTML pages and every other dynamic response are not, on
purpose: they carry CSRF tokens and repeat what was typed, and compressing a secret beside text
an attacker chooses reveals it through the compressed length (BREACH).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import zlib
from functools import lru_cache
from typing import Any

from flask import Flask, Response, abort, current_app, request, send_from_directory
from flask.globals import request_ctx
from werkzeug.security import safe_join

VERSION_ARG = "v"
VERSION_LENGTH = 12  # hex digits of SHA-256: 48 bits, plenty to tell a file's versions apart
ONE_YEAR = 365 * 24 * 3600
# Enough for every static file a few times over as they are edited in a long-running process.
_CACHED_FILES = 1024

Signature = tuple[int, int]  # (mtime in ns, size): a file as it is now, without reading it


def _signature(path: str) -> Signature | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=_CACHED_FILES)
def _version_of(path: str, signature: Signature) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:VERSION_LENGTH]


def content_version(folder: str, filename: str) -> str | None:
    """The version of static file ``filename`` as it is now, read once per change of the file;
    None for a name that is no file there."""
    path = safe_join(folder, filename)
    if path is None or not os.path.isfile(path):
        return None
    signature = _signature(path)
    return _version_of(path, signature) if signature else None


def add_version(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for("static", filename=…)`` with the file's ``v=``: no template has to ask."""
    if endpoint != "static" or VERSION_ARG in values or "filename" not in values:
        return
    version = content_version(current_app.static_folder or "", values["filename"])
    if version:
        values[VERSION_ARG] = version


@lru_cache(maxsize=_CACHED_FILES)
def _decodes_to(
    compressed: str, compressed_signature: Signature, source: str, source_signature: Signature
) -> bool:
    try:
        with open(compressed, "rb") as packed, open(source, "rb") as plain:
            return gzip.decompress(packed.read()) == plain.read()
    except (OSError, EOFError, zlib.error):  # half written, or not gzip at all
        return False


def current_gzip(source: str) -> str | None:
    """``source``'s ``.gz`` copy, if it holds exactly the file as it is now."""
    compressed = f"{source}.gz"
    compressed_signature = _signature(compressed)
    source_signature = _signature(source)
    if compressed_signature is None or source_signature is None:
        return None
    if not _decodes_to(compressed, compressed_signature, source, source_signature):
        return None
    return compressed


def _accepts_gzip() -> bool:
    # The quality, not membership: "gzip;q=0" is a refusal.
    return request.accept_encodings["gzip"] > 0


def send_asset(folder: str, filename: str) -> Response:
    """Static file ``filename`` from ``folder``: compressed when the browser accepts it and a
    current copy exists, and cacheable for a year when asked for under its current version."""
    source = safe_join(folder, filename)
    if source is None or not os.path.isfile(source):
        abort(404)
    options: dict[str, Any] = {}
    requested = request.args.get(VERSION_ARG)
    if requested is not None and requested == content_version(folder, filename):
        options["max_age"] = ONE_YEAR
    compressed = current_gzip(source) if _accepts_gzip() else None
    if compressed is not None:
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        response = send_from_directory(
            folder,
            f"{filename}.gz",
            mimetype=mimetype,
            download_name=os.path.basename(filename),  # saved as what it is once decoded
            **options,
        )
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = send_from_directory(folder, filename, **options)
    # A static file owes nothing to the session. Left open, it would be saved with this
    # response (Flask-Login reads it after every request): "Vary: Cookie", so a browser asks
    # again for every file as soon as its session cookie changes (each page refreshes it), and
    # a Set-Cookie on a file shared caches then refuse to store. (RequestContext has no public
    # way to set its session; Flask >=3.1,<4 keeps it in ``_session``. Tested.)
    request_ctx._session = current_app.session_interface.make_null_session(current_app)
    if os.path.exists(f"{source}.gz"):
        # Which body depends on Accept-Encoding: a shared cache must keep them apart.
        response.vary.add("Accept-Encoding")
    if "max_age" in options:
        response.cache_control.immutable = True
    return response


def send_static(filename: str) -> Response:
    """The ``static`` endpoint's view, in place of Flask's own."""
    return send_asset(current_app.static_folder or "", filename)


def init_app(app: Flask) -> None:
    app.view_functions["static"] = send_static
    app.url_defaults(add_version)
