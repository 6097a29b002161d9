"""A light proof of work for the browser path of the public form (README "Shared addresses").

Many people can share one address (a Tor exit, an office behind one NAT), so the per-address
budget of ``REQUEST_RATE_LIMIT`` can be spent by strangers. A browser that is refused can still
send by showing work: BLAKE2b-256(challenge ":" nonce) must start with ``bits`` zero bits
(hashcash; BLAKE2b as libsodium's standard build has it, which the public pages load: 85 KB
less on the wire than the "sumo" build that SHA-256 needed). The challenge comes with
``/request/key``: signed with the server secret, carrying a random id, the difficulty and an
expiry; each id is accepted once (spent ids are remembered in the rate-limit storage, Redis in
production, until the challenge expires). A global ceiling (``POW_GLOBAL_LIMIT``) bounds what
proofs can let through in all, so a farm of solvers cannot flood the server either.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import time
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from intake.extensions import limiter

SALT = "refuge-proof-of-work-v1"
MAX_NONCE_LENGTH = 20
MAX_CHALLENGE_LENGTH = 300


class Outcome(enum.Enum):
    ADMITTED = "admitted"
    MALFORMED = "malformed"
    EXPIRED = "expired"
    WRONG = "wrong"
    REUSED = "reused"
    CEILING = "ceiling"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def difficulty() -> int:
    return int(current_app.config["POW_DIFFICULTY_BITS"])


def issue() -> dict[str, Any]:
    """A fresh challenge for the browser: {challenge, bits, expires_at}."""
    bits = difficulty()
    expires_at = int(time.time()) + int(current_app.config["POW_TTL_SECONDS"])
    token = _serializer().dumps({"id": secrets.token_hex(16), "bits": bits, "exp": expires_at})
    return {"challenge": token, "bits": bits, "expires_at": expires_at}


def leading_zero_bits(digest: bytes) -> int:
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def digest(challenge: str, nonce: str | int) -> bytes:
    """BLAKE2b-256 of "challenge:nonce", as libsodium's crypto_generichash(32, …) makes it."""
    return hashlib.blake2b(f"{challenge}:{nonce}".encode(), digest_size=32).digest()


def solve(challenge: str, bits: int) -> str:
    """What the browser does (for tests and the benchmark): the first nonce that works."""
    nonce = 0
    while leading_zero_bits(digest(challenge, nonce)) < bits:
        nonce += 1
    return str(nonce)


def redeem(challenge: str | None, nonce: str | None) -> Outcome:
    """Check a proof and spend its challenge. Cheap checks first; storage is touched only for a
    proof that is signed, unexpired and correct."""
    if not challenge or not nonce or len(challenge) > MAX_CHALLENGE_LENGTH:
        return Outcome.MALFORMED
    if len(nonce) > MAX_NONCE_LENGTH or not nonce.isascii() or not nonce.isdigit():
        return Outcome.MALFORMED
    try:
        claims = _serializer().loads(challenge)
    except BadSignature:
        return Outcome.MALFORMED
    if not isinstance(claims, dict):
        return Outcome.MALFORMED
    challenge_id, bits, expires_at = claims.get("id"), claims.get("bits"), claims.get("exp")
    if not isinstance(challenge_id, str) or not isinstance(bits, int):
        return Outcome.MALFORMED
    if not isinstance(expires_at, int):
        return Outcome.MALFORMED
    remaining = expires_at - int(time.time())
    if remaining <= 0:
        return Outcome.EXPIRED
    # A challenge issued before the difficulty was raised still has to meet today's.
    needed = max(bits, difficulty())
    if leading_zero_bits(digest(challenge, nonce)) < needed:
        return Outcome.WRONG
    storage = limiter.storage
    if storage.incr(f"pow-spent/{challenge_id}", remaining) > 1:
        return Outcome.REUSED
    ceiling = parse(str(current_app.config["POW_GLOBAL_LIMIT"]))
    if not limiter.limiter.hit(ceiling, "pow-global"):
        return Outcome.CEILING
    return Outcome.ADMITTED
