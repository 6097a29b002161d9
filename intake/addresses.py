"""Client addresses, only ever as keyed hashes (DESIGN §1.7).

Rate limits need to tell clients apart for the length of a window, but the limiter's storage
(Redis in production) must not hold who came from where: every limiter key is an HMAC of the
address under the server secret, cut short. IPv6 clients are counted per /64, which one host
usually holds whole.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, request


def hashed_address(scope: str) -> str:
    """``scope:`` and a keyed hash of the client's address (its /64 for IPv6)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        if parsed.version == 6:
            address = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return f"{scope}:" + hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:24]


def staff_client_key() -> str:
    """The limiter's default key: sign-in and the other staff routes."""
    return hashed_address("staff")
