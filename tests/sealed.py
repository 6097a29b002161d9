"""Opening what Refuge seals, with the organisation secret key: what a caseworker's browser
does, done in Python so tests can check what was stored. The server itself never opens these."""

from __future__ import annotations

import json

from intake import crypto
from intake.services.submissions import PlainFile


def open_file(sealed: bytes, secret_key: bytes) -> PlainFile:
    """Open a sealed attachment (the file envelope of intake.services.submissions)."""
    envelope = crypto.unseal(sealed, secret_key)
    header, separator, data = envelope.partition(b"\n")
    if not separator:
        raise crypto.InvalidCiphertext("attachment has no header")
    meta = json.loads(header.decode("utf-8"))
    return PlainFile(name=str(meta["name"]), content_type=str(meta["type"]), data=data)


def open_message(sealed_b64: str, secret_key: bytes) -> str:
    """The text of a sealed message (a padded ``{"body": …}`` object)."""
    return str(crypto.open_answers(sealed_b64, secret_key).get("body", ""))
