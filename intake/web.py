"""Cross-cutting web behaviour: security headers, error pages, template helpers."""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from base64 import b64encode
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from babel.lists import format_list
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.globals import request_ctx
from flask_babel import get_locale, ngettext, pgettext, refresh
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response as WerkzeugResponse

from intake import clock, crypto, i18n, labels, logs, vocab
from intake.i18n import (
    LANGUAGE_NAMES,
    is_staff_page,
    normalise_locale,
    offered_languages,
    text_direction,
)
from intake.services import deadlines
from intake.services.triage_phrases import lines as triage_lines

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # libsodium.js compiles WebAssembly: this and nothing looser (DESIGN §8).
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def wants_json() -> bool:
    """Whether the request asks for JSON (a page's script), not a page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def error_response(
    status: int, message: str, field: str | None = None
) -> tuple[Response | str, int]:
    """An error page or JSON body that says what went wrong and never echoes the request.
    ``field``: the form field it is about, for a script to say it beside that field."""
    if wants_json():
        body: dict[str, Any] = {"error": message, "status": status}
        if field:
            body["field"] = field
        return jsonify(body), status
    if request_ctx.url_adapter is None:
        # The request could not even be routed (a Host header that is not a valid name, e.g.
        # a label over 63 characters): no link can be built for it, so no page either.
        return Response(message, status=status, mimetype="text/plain"), status
    return render_template("errors/error.html", status=status, message=message), status


def message_for(error: HTTPException) -> str:
    messages = {
        400: _("The request could not be understood. Nothing was saved."),
        403: _("You do not have permission to do this."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        413: _("What you sent is too large. Nothing was saved."),
        429: _("Too many attempts. Please wait a little and try again."),
        500: _("Something went wrong on our side. Nothing was saved."),
    }
    return messages.get(error.code or 500, error.description or _("Something went wrong."))


# A label that already ends in a question mark or colon (in any script) takes no other.
_ENDS_A_LEAD = frozenset("?？؟:：")


def lead_separators() -> tuple[str, str]:
    """What follows a field's label before its error message, in the page's language: after a
    bare label (a colon and a space, "Country: …"; French sets a narrow no-break space before
    the colon, "Pays : …"; Chinese a full-width colon and no space, "国家：…"), and after a
    label ending in its own question mark or colon (a space; none in Chinese). The error
    summaries carry both for the scripts that write their lines (intake.js, status.js)."""
    locale = str(get_locale() or "en")
    if locale.startswith("zh"):
        return "\uff1a", ""
    if locale == "fr":
        return "\u202f: ", " "
    return ": ", " "


def as_lead(label: object) -> str:
    """A field's label as it leads its error message, separator included: "Country: ", but
    "What happened? " (not "?:"), "Pays : ", "国家：" (see :func:`lead_separators`)."""
    text = str(label).rstrip()
    colon, space = lead_separators()
    return text + (space if text[-1:] in _ENDS_A_LEAD else colon)


def words_list(words: Iterable[str]) -> str:
    """Words as the reader's language lists them: "a, b, and c", "a、b和c"."""
    return format_list(list(words), locale=str(get_locale() or "en"))


def days_list(days: Iterable[int]) -> str:
    """Numbers of days as the reader's language lists them: "14, 7, 3, and 1", "14、7、3和1"."""
    return words_list(str(day) for day in days)


def days_phrase(days: Sequence[int]) -> str:
    """ "14, 7, 3, and 1 days", "1 day", "14、7、3和1 天": one number of 1 is singular."""
    count = days[0] if len(days) == 1 else 2
    return ngettext("%(days)s day", "%(days)s days", count, days=days_list(days))


def language_url(code: str, back: str | None = None) -> str:
    """This page in another language, keeping its query (a report's period, a filter); for
    a page shown only in answer to a post, ``back`` (a local path it came from) instead.

    The query is re-encoded as it came, never passed to url_for as keywords: names such as
    ``endpoint``, ``_external`` or ``_anchor`` would be taken as url_for's own arguments.
    """
    if back and request.method != "GET":
        back_path, _, back_query = back.partition("?")
        kept = [(k, v) for k, v in parse_qsl(back_query, keep_blank_values=True) if k != "lang"]
        return f"{back_path}?{urlencode([*kept, ('lang', code)])}"
    if request.endpoint is None:
        return url_for("public.landing", lang=code)
    if request.method != "GET":
        # What was posted cannot come along in a link (a page that must keep it posts it
        # again: base.html ``language_form``); the page itself, empty, if it can be fetched.
        methods = request.url_rule.methods if request.url_rule is not None else None
        if methods and "GET" in methods:
            return url_for(request.endpoint, **(request.view_args or {}), lang=code)
        return url_for("public.landing", lang=code)
    path = url_for(request.endpoint, **(request.view_args or {}))
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{path}?{urlencode([*query, ('lang', code)])}"


@cache
def _vendor_manifest(folder: str) -> dict[str, str]:
    manifest = Path(folder) / "vendor" / "manifest.json"
    if not manifest.exists():
        raise RuntimeError(
            "intake/static/vendor/ is not built: run `make vendor` (npm install + build)"
        )
    data: dict[str, str] = json.loads(manifest.read_text())
    return data


@cache
def _file_integrity(path: str, mtime: float) -> str:
    digest = hashlib.sha384(Path(path).read_bytes()).digest()
    return "sha384-" + b64encode(digest).decode()


def asset_integrity(filename: str) -> str:
    """Subresource-integrity hash of a static file (vendored ones from the build manifest)."""
    folder = current_app.static_folder or ""
    if filename.startswith("vendor/"):
        return _vendor_manifest(folder)[filename.removeprefix("vendor/")]
    path = Path(folder) / filename
    return _file_integrity(str(path), path.stat().st_mtime)


MAX_ID = 2**31 - 1  # the largest id a database integer column holds on both backends


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that 404s on ids no row can have, instead of overflowing the database."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _has_nul(values: Iterable[str]) -> bool:
    return any("\x00" in value for value in values)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    from intake.system import assets

    # Static files compressed and under versioned URLs; nothing else is compressed (BREACH).
    assets.init_app(app)
    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    else:
        told: list[bool] = []

        @app.before_request
        def warn_of_an_untrusted_proxy() -> None:
            """A reverse proxy in front without TRUST_PROXY: every client is counted as the
            proxy's address, so all defenders share one rate-limit bucket. Said once per
            process (no address logged); anyone can send the header, so it is only a hint."""
            if not told and "X-Forwarded-For" in request.headers:
                told.append(True)
                app.logger.warning(
                    "requests carry X-Forwarded-For but TRUST_PROXY is off: if Refuge is behind "
                    "one reverse proxy, set TRUST_PROXY=1, else every client shares the "
                    "proxy's rate limits (README, configuration)"
                )

    @app.before_request
    def refuse_nul_bytes() -> None:
        """No text field anywhere has a use for NUL; PostgreSQL refuses it mid-transaction."""
        # Multipart bodies are left to their views: parsing them here would spool uploads to
        # disk before the public form can keep them in memory; their text is sealed anyway.
        if (
            "\x00" in request.path
            or _has_nul(chain.from_iterable(request.args.listvalues()))
            or (
                request.mimetype == "application/x-www-form-urlencoded"
                and _has_nul(chain.from_iterable(request.form.listvalues()))
            )
        ):
            abort(400)

    @app.before_request
    def remember_staff_language() -> None:
        """A signed-in staff member's language choice is kept on their account, so that
        reminder e-mails reach them in it too (before any choice: auth.sessions.start_session)."""
        chosen = normalise_locale(request.args.get("lang"), app.config["STAFF_LANGUAGES"])
        if chosen and current_user.is_authenticated and current_user.language != chosen:
            current_user.language = chosen
            from intake.extensions import db

            db.session.commit()

    @app.before_request
    def locale_per_request() -> None:
        """Flask-Babel caches the locale on ``g``, which lives as long as the app context; when
        a caller (a test, a CLI) keeps one app context across requests, ?lang= must still win."""
        refresh()

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.scheme == "https":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[Response | WerkzeugResponse | str, int]:
        if request.endpoint == "auth.logout":
            # Signing out must work from a page left open past its token's life; a forged
            # cross-site sign-out is harmless (and SameSite=Strict sends no cookie anyway).
            from intake.auth.sessions import end_session

            end_session()
            return error_response(400, _("You are signed out. (That page had expired.)"))
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "allowed_roles", None) is not None and not current_user.is_authenticated:
            # A page for signed-in staff, posted by nobody signed in: its session ended while
            # it was open (Sign out in another tab clears the token's secret with it).
            from intake.auth.sessions import refuse_signed_out_post

            refused = refuse_signed_out_post("signed_out")
            return refused, refused.status_code
        # A colleague is told as staff pages speak (Chinese 你, as the footer); a defender 您.
        if is_staff_page():
            message = pgettext(
                "staff",
                "Your form expired or was sent from elsewhere. Please reload and try again.",
            )
        else:
            message = _(
                "Your form expired or was sent from elsewhere. Please reload and try again."
            )
        return error_response(400, message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response | str, int]:
        return error_response(error.code or 500, message_for(error))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[Response | str, int]:
        # Log the type and the frames, never the message: it may quote what was submitted.
        app.logger.error(
            "unhandled %s on %s %s\n%s",
            type(error).__name__,
            request.method,
            logs.route(),
            "".join(traceback.format_tb(error.__traceback__)),
        )
        from intake.extensions import db

        db.session.rollback()
        return error_response(500, _("Something went wrong on our side. Nothing was saved."))

    app.add_template_filter(as_lead, "as_lead")
    app.add_template_global(lead_separators, "lead_separators")
    app.add_template_filter(number_runs, "number_runs")
    # One clock for people (intake.clock): `{{ moment | when }}` on every staff page.
    app.add_template_filter(clock.time_tag, "when")
    app.add_template_filter(clock.local_text, "when_text")
    app.add_template_filter(clock.week_start_text, "week_start")
    app.add_template_filter(clock.day_text, "day")
    app.add_template_filter(clock.local_day_text, "local_day")
    app.add_template_filter(clock.zone_words, "zone_words")
    app.add_template_filter(crypto.short_fingerprint, "key_fingerprint")
    app.add_template_global(clock.relative, "relative_time")
    app.add_template_global(deadlines.is_due_soon, "is_due_soon")
    app.add_template_global(days_list, "days_list")
    app.add_template_global(words_list, "words_list")
    app.add_template_global(i18n.sentences, "sentences")
    app.add_template_global(i18n.sentence_gap, "sentence_gap")
    app.add_template_global(days_phrase, "days_phrase")

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        locale = str(get_locale() or "en")
        return {
            "asset_integrity": asset_integrity,
            "entry_name": vocab.entry_name,
            "entry_description": vocab.entry_description,
            "current_locale": locale,
            "staff_page": is_staff_page(),
            "text_direction": text_direction(locale),
            "language_names": {code: LANGUAGE_NAMES[code] for code in offered_languages()},
            "all_language_names": LANGUAGE_NAMES,
            "language_url": language_url,
            "triage_lines": triage_lines,
            "role_labels": labels.ROLE_LABELS,
            # What the submitter reads at /status, and staff on the case page ("what the
            # submitter sees"): the same words.
            "shared_status_labels": labels.SHARED_STATUS_LABELS,
        }


# A run of digits that reads left to right whatever surrounds it: a phone number, a date.
# In a right-to-left paragraph the bidi algorithm orders "+20 111 222 3333" as "3333 222 111
# 20+". The same pattern as sealed.js's showText, which does this in the browser.
NUMBER_RUN = re.compile(r"\+?\d[\d \u00a0().\-/]{4,}\d")


def number_runs(text: object) -> Markup:
    """``text`` escaped, each number run isolated left to right (``<bdi dir="ltr">``): what
    someone wrote, shown without JavaScript as sealed.js shows it with."""
    value = str(text)
    parts: list[str] = []
    last = 0
    for match in NUMBER_RUN.finditer(value):
        parts.append(str(escape(value[last : match.start()])))
        parts.append(f'<bdi dir="ltr">{escape(match.group(0))}</bdi>')
        last = match.end()
    parts.append(str(escape(value[last:])))
    return Markup("".join(parts))  # noqa: S704 (every part escaped above)
