"""Gunicorn settings for the Procfile's ``web`` process (``--config python:config.gunicorn``).

No client address in any log (DESIGN §1.7): gunicorn's own error log writes ``Invalid request
from ip=…`` for malformed requests, and its access log format starts with the address. Here
every gunicorn log record has addresses replaced before it is written, and the access log
(off unless ``GUNICORN_ACCESS_LOG`` names a file, or ``-`` for stdout) has no address field.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from pathlib import Path

from gunicorn.config import Config
from gunicorn.glogging import Logger

from config.address import bind_host, bind_port, record_address
from config.settings import DEFAULT_INSTANCE
from intake.addresses import address_key

bind = f"{bind_host()}:{bind_port()}"  # what `make run` prints: config.address.served_address
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not gunicorn's default sync workers: a defender on a slow phone link may take a
# minute or more to send a photo, and a sync worker still reading that body after `timeout`
# seconds is killed ("WORKER TIMEOUT"): the upload was lost, and every retry the same way (a
# review on Slow 3G: about 1 MB was the most that could be sent, 127 KB on 2G), while the
# worker served nobody else. With gthread the worker's heartbeat goes on while one thread
# reads a slow body and the others serve everyone else; kept-alive connections spare a phone
# a new handshake per file. In production a buffering reverse proxy in front (README) takes
# slow bodies off the workers altogether.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
keepalive = 5
# The key that hashes client addresses for the rate limits (intake.addresses), made here in
# the master and inherited by every worker, so that they count a client alike; never written.
address_key()
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): a second
# instance would take over the first one's. Keep it with the instance's state.
INSTANCE = Path(os.environ.get("INTAKE_INSTANCE_PATH") or DEFAULT_INSTANCE)
control_socket = str(INSTANCE / "gunicorn.ctl")


def when_ready(server: object) -> None:
    """Record where this instance serves, for links printed by commands in other shells."""
    record_address(INSTANCE)


accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Method, path without the query, status, bytes, duration: no %(h)s, %(r)s or user agent.
access_log_format = "%(m)s %(U)s %(s)s %(B)s %(M)sms"

HIDDEN = "[address]"
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?![0-9A-Fa-f:])")


def _hide(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)  # e.g. a time of day, not an address
    return HIDDEN


# A path that carries a one-time secret (an invitation or password-reset link): the access
# log keeps its route, not the token.
SECRET_IN_PATH = re.compile(r"(/auth/enrol/)[^\s/?]+")


def without_addresses(text: str) -> str:
    return SECRET_IN_PATH.sub(r"\1[token]", IPV6.sub(_hide, IPV4.sub(_hide, text)))


class HideAddresses(logging.Filter):
    """Rewrites each record with every IPv4 and IPv6 address (and an invitation's token,
    ``SECRET_IN_PATH``) replaced; the one exception is the arbiter's ``Listening at:`` line,
    which names the server's own address, not a client's."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Listening at:"):
            record.msg, record.args = without_addresses(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = without_addresses(record.exc_text)
        return True


class AddresslessLogger(Logger):
    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        # On the loggers, not their handlers: gunicorn replaces handlers when it reopens files.
        self.error_log.addFilter(HideAddresses())
        self.access_log.addFilter(HideAddresses())


logger_class = AddresslessLogger
