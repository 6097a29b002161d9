"""Client addresses, only ever as keyed hashes (DESIGN §1.7).

Rate limits need to tell clients apart for the length of a window, but the limiter's storage
(Redis in production) must not hold who came from where: every limiter key is an HMAC of the
address, cut short. IPv6 clients are counted per /64, which one host usually holds whole.

The HMAC's key is made at random when the web server starts and is never written anywhere
(``ADDRESS_KEY_ENV``: gunicorn's master sets it in config/gunicorn.py, so its workers count
alike; a process started otherwise makes its own). Under the server secret, whoever seized
the disk and Redis could hash all 2³² IPv4 addresses in minutes and read back who used the
public form (a security review). A restart starts the limits' windows afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets

from flask import request

ADDRESS_KEY_ENV = "REFUGE_ADDRESS_KEY"


def address_key() -> bytes:
    """This server's address-hashing key, made at first use if its starter made none."""
    key = os.environ.get(ADDRESS_KEY_ENV)
    if not key or len(key) < 32:
        key = os.environ[ADDRESS_KEY_ENV] = secrets.token_hex(32)
    return key.encode()


def hashed_address(scope: str) -> str:
    """``scope:`` and a keyed hash of the client's address (its /64 for IPv6)."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        if parsed.version == 6:
            address = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return f"{scope}:" + hmac.new(address_key(), address.encode(), hashlib.sha256).hexdigest()[:24]


def staff_client_key() -> str:
    """The limiter's default key: sign-in and the other staff routes."""
    return hashed_address("staff")
