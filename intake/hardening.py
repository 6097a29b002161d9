"""What keeps hostile or unlucky requests from becoming 500s (issue #15, DESIGN §1.8).

- :class:`StrictFormRequest` refuses a multipart body with a part that has no usable name
  (``Content-Disposition: form-data;; name=\\0"x"``, or no name at all). Werkzeug files such
  parts under the key ``None``, which Flask-WTF and our views assume never happens.
- :class:`RefugeFlask` logs Flask's last-resort exceptions (an error handler that itself
  failed) in one line: the type and where, never the message, which may quote the request.
- :func:`init_app` answers a database outage with a 503 page in the reader's language, one log
  line per failed request, instead of a 500 and a stack trace per request.
- :func:`watch_connections` replaces a pooled PostgreSQL connection the server has ended (a
  restart, ``pg_terminate_backend``, an idle timeout) before a request uses it, without the
  round trip per request of SQLAlchemy's ``pool_pre_ping``.
"""

from __future__ import annotations

import logging
import select
from contextlib import suppress
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, Response, abort, g, has_request_context, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from werkzeug.exceptions import BadRequest

from intake import logs

log = logging.getLogger(__name__)

# What a database that is down, restarting or out of connections raises through SQLAlchemy.
DATABASE_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
RETRY_AFTER_SECONDS = 60


class StrictFormRequest(Request):
    def _load_form_data(self) -> None:
        super()._load_form_data()
        nameless = False
        for name in ("form", "files"):
            parts = self.__dict__.get(name)
            if parts is not None and None in parts:
                nameless = True
                # Drop them, so that whoever reads the form afterwards (an error handler)
                # never meets a key of None either.
                named = [(key, value) for key, value in parts.items(multi=True) if key is not None]
                self.__dict__[name] = type(parts)(named)
        if nameless:
            raise BadRequest("a multipart part has no name")


class RefugeFlask(Flask):
    request_class = StrictFormRequest

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        error = exc_info[1]
        if error is None:  # pragma: no cover — Flask always passes the exception
            return
        self.logger.error(
            "unhandled %s on %s %s", logs.summary(error), request.method, logs.route()
        )


OUTAGE_LOGGED = "refuge.outage_logged"


def log_outage(what: str, error: BaseException) -> None:
    """One log line per request during a database outage: the first failure says what failed;
    later ones in the same request (a re-shown form reads more than one thing) stay quiet."""
    if has_request_context():
        if request.environ.get(OUTAGE_LOGGED):
            return
        request.environ[OUTAGE_LOGGED] = True
    log.error("%s failed: %s", what, type(error).__name__)


def database_unavailable_message() -> str:
    return _("The service is briefly unavailable. Nothing was saved. Please try again in a minute.")


def still_connected(connection: Any) -> bool:
    """Whether a psycopg connection resting in the pool is still open, asked of the socket
    alone (no round trip). A resting session has nothing to say: bytes waiting on it are the
    server's goodbye (``FATAL: terminating connection``, then the end of the stream). Anything
    else an idle session might be sent (a notice) is rare enough that a new connection is the
    simpler answer than reading it."""
    if connection.closed or connection.broken or connection.pgconn.status != 0:  # 0: OK
        return False
    poller = select.poll()
    poller.register(connection.pgconn.socket, select.POLLIN)
    return not poller.poll(0)


def _check_on_checkout(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    if not still_connected(dbapi_connection):
        # The pool opens a new connection for this checkout. The others are not dropped with
        # it: each is checked in turn, and after a restart each shows its own close.
        raise sa_exc.DisconnectionError("the server closed this connection")


def watch_connections(engine: sa.Engine) -> None:
    """Check each pooled PostgreSQL connection as it is taken from the pool, from its socket.

    ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one more round trip on every
    request (a sixth of a public submission's). A restarted or crashed server closes its end
    of every connection, which the socket shows at once; so does a session ended by an idle
    timeout or ``pg_terminate_backend``. What the socket cannot show (a network path that went
    silent, with no close) the ping could not either without waiting for a timeout: the
    statement then fails, the request gets the 503 page, and SQLAlchemy replaces the pool."""
    if engine.dialect.driver != "psycopg" or engine.pool._pre_ping or not hasattr(select, "poll"):
        return
    sa.event.listen(engine, "checkout", _check_on_checkout)


def init_app(app: Flask) -> None:
    from intake.extensions import db
    from intake.web import error_response

    with app.app_context():
        for engine in db.engines.values():
            watch_connections(engine)

    def database_unavailable(error: Exception) -> Response:
        if not request.environ.get(OUTAGE_LOGGED):
            request.environ[OUTAGE_LOGGED] = True
            log.error(
                "database unavailable on %s %s: %s",
                request.method,
                logs.route(),
                logs.summary(error),
            )
        from intake.extensions import db, login_manager

        with suppress(sa_exc.SQLAlchemyError):  # the connection is gone: nothing to undo
            db.session.rollback()
        # The page must not reach for the database again: objects loaded before the error
        # (the signed-in user among them) are expired by the rollback and would reload.
        g._login_user = login_manager.anonymous_user()
        response = app.make_response(error_response(503, database_unavailable_message()))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.before_request
    def refuse_unreadable_host() -> None:
        """Refuse a Host header that is no valid name before any other hook builds a URL.

        A label over 63 characters leaves no URL adapter (routing failed), so every
        ``url_for`` would crash; ``xn--`` routes but cannot be decoded back, which breaks
        ``request.url`` (read by sign-in redirects). Registered before the other hooks."""
        if request_ctx.url_adapter is None and request.routing_exception is not None:
            raise request.routing_exception
        try:
            request.url  # noqa: B018 — computing it is the check
        except UnicodeError:
            abort(400)

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)
