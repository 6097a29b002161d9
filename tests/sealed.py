"""Opening what Refuge seals, with the organisation secret key: what a caseworker's browser
does, done in Python so tests can check what was stored. The server itself never opens these."""

from __future__ import annotations

import json

from intake import crypto
from intake.services.submissions import PlainFile


def open_file(sealed: bytes, secret_key: bytes) -> PlainFile:
    """Open a sealed attachment (the file envelope of intake.services.submissions): keep the
    header's ``size`` bytes and check that what follows is the padding (none for attachments
    stored before padding), as static/js/sealed.js does."""
    envelope = crypto.unseal(sealed, secret_key)
    header, separator, rest = envelope.partition(b"\n")
    if not separator:
        raise crypto.InvalidCiphertext("attachment has no header")
    meta = json.loads(header.decode("utf-8"))
    size = meta["size"]
    if not isinstance(size, int) or not 0 <= size <= len(rest):
        raise crypto.InvalidCiphertext("attachment header has a wrong size")
    data, padding = rest[:size], rest[size:]
    if padding and (padding[:1] != b"\x80" or padding[1:].strip(b"\x00")):
        raise crypto.InvalidCiphertext("attachment padding is invalid")
    return PlainFile(name=str(meta["name"]), content_type=str(meta["type"]), data=data)


def open_message(sealed_b64: str, secret_key: bytes) -> str:
    """The text of a sealed message (a padded ``{"body": …}`` object)."""
    return str(crypto.open_answers(sealed_b64, secret_key).get("body", ""))
