"""Where the web process listens, and the address people and e-mails should use.

config/gunicorn.py binds ``BIND_HOST:PORT``; ``make run`` prints :func:`served_address` and, when
``PUBLIC_BASE_URL`` is unset, hands it to every process it starts (honcho gives each process
type its own ``PORT``: the worker, which sends the e-mails, must not use its own).
``python -m config.address`` prints the served address.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "5000"
ANY_ADDRESS = {"0.0.0.0", "::", "[::]"}  # noqa: S104 — names of "all interfaces", not a bind


def bind_host(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("BIND_HOST") or DEFAULT_HOST


def bind_port(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("PORT") or DEFAULT_PORT


def served_address(environ: Mapping[str, str] = os.environ) -> str:
    """``http://host:port`` the web process answers on; all interfaces read as this machine."""
    host = bind_host(environ)
    if host in ANY_ADDRESS:
        host = DEFAULT_HOST
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{bind_port(environ)}"


if __name__ == "__main__":
    print(served_address())  # noqa: T201
