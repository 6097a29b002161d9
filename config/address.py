"""Where the web process listens, and the address people and e-mails should use.

config/gunicorn.py binds ``BIND_HOST:PORT``; ``make run`` prints :func:`served_address` and, when
``PUBLIC_BASE_URL`` is unset, hands it to every process it starts (honcho gives each process
type its own ``PORT``: the worker, which sends the e-mails, must not use its own).
``python -m config.address`` prints the served address.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "5000"
RECORDED = "served-address"  # in the instance folder, beside gunicorn.ctl
ANY_ADDRESS = {"0.0.0.0", "::", "[::]"}  # noqa: S104 — names of "all interfaces", not a bind


def bind_host(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("BIND_HOST") or DEFAULT_HOST


def bind_port(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("PORT") or DEFAULT_PORT


def served_address(environ: Mapping[str, str] = os.environ) -> str:
    """``http://host:port`` the web process answers on. This machine (the default loopback,
    or all interfaces) is named ``localhost``: browsers refuse an IP address as a passkey's
    relying party, and the links printed and e-mailed should be ones where passkeys work."""
    host = bind_host(environ)
    if host in ANY_ADDRESS or host == DEFAULT_HOST:
        host = "localhost"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{bind_port(environ)}"


def recorded_address(instance: Path) -> str | None:
    """The address the instance's running web process recorded (config/gunicorn.py), so a
    command run in another shell, without ``PORT``, prints links to that instance."""
    try:
        text = (instance / RECORDED).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if text.startswith(("http://", "https://")) else None


def record_address(instance: Path, environ: Mapping[str, str] = os.environ) -> None:
    """Written when the web process is ready: ``PUBLIC_BASE_URL`` if set, else where it serves."""
    instance.mkdir(parents=True, exist_ok=True)
    address = environ.get("PUBLIC_BASE_URL") or served_address(environ)
    (instance / RECORDED).write_text(address + "\n", encoding="utf-8")


if __name__ == "__main__":
    print(served_address())  # noqa: T201
