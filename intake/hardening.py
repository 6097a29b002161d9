"""What keeps hostile or unlucky requests from becoming 500s (issue #15, DESIGN §1.8).

- :class:`StrictFormRequest` refuses a multipart body with a part that has no usable name
  (``Content-Disposition: form-data;; name=\\0"x"``, or no name at all). Werkzeug files such
  parts under the key ``None``, which Flask-WTF and our views assume never happens.
- :class:`RefugeFlask` logs Flask's last-resort exceptions (an error handler that itself
  failed) in one line: the type and where, never the message, which may quote the request.
- :func:`init_app` answers a database outage with a 503 page in the reader's language, one log
  line per failed request, instead of a 500 and a stack trace per request.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from types import TracebackType

from flask import Flask, Request, Response, abort, g, has_request_context, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc
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
            "unhandled %s on %s %s", logs.summary(error), request.method, request.path
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


def init_app(app: Flask) -> None:
    from intake.web import error_response

    def database_unavailable(error: Exception) -> Response:
        if not request.environ.get(OUTAGE_LOGGED):
            request.environ[OUTAGE_LOGGED] = True
            log.error(
                "database unavailable on %s %s: %s",
                request.method,
                request.path,
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
