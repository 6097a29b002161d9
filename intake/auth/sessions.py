"""What a completed sign-in leaves in the session, and the idle / absolute time-outs.

A sign-in throws the old session away (``session.clear()``) before ``login_user``: whatever an
attacker planted in a cookie before sign-in is gone, and Flask's signed cookie is new.

The cookie alone does not sign anyone in: it carries a random token (``SID``) naming a row of
``staff_sessions`` (intake.services.staff_sessions), and the user loader
(intake.auth.access.load_user) admits a request only while that row is open and within the idle
and absolute time-outs. Signing out revokes the row, so a copy of the cookie is worthless after.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from intake.extensions import db
from intake.i18n import is_staff_page, normalise_locale, select_locale, sentences
from intake.models import StaffSession, User
from intake.services import staff_sessions

SID = "sid"
# The row's id (not secret): the keyring blob in sessionStorage names the session it belongs to.
SESSION_ID = "sid_id"
OFFER_UNLOCK = "offer_unlock"
PENDING = "pending_login"
# Set by the user loader when it refused a session that timed out or was revoked.
END_REASON = "_staff_session_end"


def current_record() -> StaffSession | None:
    """This request's ``staff_sessions`` row, if its cookie names one."""
    return staff_sessions.find(session.get(SID))


def start_session(user: User) -> None:
    lang = session.get("lang")
    if user.language is None:
        # Until they choose one, the language they sign in in (chosen on the page, or their
        # browser's) is kept for their reminder e-mails: a caseworker whose pages were in
        # Chinese from the first day got their reminders in English.
        shown = normalise_locale(select_locale(), current_app.config["STAFF_LANGUAGES"])
        if shown and shown != current_app.config["BABEL_DEFAULT_LOCALE"]:
            user.language = shown
    previous = current_record()
    if previous is not None:
        staff_sessions.revoke(previous)  # rotated: the pre-sign-in (or older) session ends
    staff_sessions.purge_expired()
    token, record = staff_sessions.open_session(user.id)
    db.session.commit()
    _new_cookie(user, token, record.id, lang)
    session[OFFER_UNLOCK] = True


def continue_session(user: User) -> None:
    """This session goes on after a change that ended every other session of ``user`` (its
    epoch moved on: a new authenticator app). Its cookie is renewed as at a sign-in (a new
    token, ``session.clear()``, the new epoch), but its row stays, and with it the row's id and
    tab key, under which this tab's keyring is encrypted: the keys stay unlocked, as nothing
    about them changed. Without an open row of ``user``, a brand-new session."""
    record = current_record()
    if record is None or record.user_id != user.id or staff_sessions.problem(record):
        start_session(user)
        return
    lang = session.get("lang")
    token = staff_sessions.new_token(record)
    db.session.commit()
    _new_cookie(user, token, record.id, lang)


def _new_cookie(user: User, token: str, record_id: int, lang: str | None) -> None:
    """The session cookie of a sign-in: nothing of the one before but its language."""
    session.clear()
    session.permanent = True
    session[SID] = token
    session[SESSION_ID] = record_id
    login_user(user)
    if lang:
        session["lang"] = lang


def end_session() -> None:
    lang = session.get("lang")
    record = current_record()
    if record is not None:
        staff_sessions.revoke(record)
        db.session.commit()
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


def enforce_timeouts() -> Response | None:
    """Before each request: a session the user loader refused (time-out, revoked) is cleared
    and the user sent to sign in with a message saying why."""
    # Each request reads the user and the CSRF token from its own cookie. (``g`` outlives a
    # request when an application context is already pushed, as in the test suite.)
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    g.pop(END_REASON, None)
    if request.endpoint == "static" or current_user.is_authenticated:
        return None
    reason = g.pop(END_REASON, None)
    if reason is None:
        if SID in session:  # e.g. the account changed: the row was already revoked
            end_session()
        return None
    end_session()
    if request.method not in ("GET", "HEAD") and request.endpoint != "auth.logout":
        if not is_staff_page():
            return None  # a public form asks for no sign-in: it goes on, as anyone's would
        return refuse_signed_out_post(reason)
    if reason == "idle":
        flash(_("You were signed out after a period of inactivity. Please sign in again."), "error")
    else:
        flash(_("Your session has ended. Please sign in again."), "error")
    if request.method in ("GET", "HEAD") and not request.path.startswith("/auth/keyring"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("auth.login"))


# Why a post from a signed-in page found nobody signed in (the user loader's reasons, and
# "signed_out": its session was gone, e.g. Sign out in another tab).
_SIGNED_OUT_BECAUSE = {
    "idle": _l("You were signed out after a period of inactivity."),
    "signed_out": _l("You are signed out."),
}


def refuse_signed_out_post(reason: str) -> Response:
    """A post from a page whose sign-in ended while it was open (a time-out, Sign out in
    another tab, the account changed): nothing of it is saved, and the person is told so.

    A page's script (it asks for JSON: a note, a reply, a UN summary sealed in the browser)
    gets a 401 and keeps the text in its box, and says this beside it: a redirect to the sign-in
    page looked to it like "saved", and it emptied the box. A plain form is sent to sign in,
    told the same."""
    from intake.web import error_response, wants_json

    because = _SIGNED_OUT_BECAUSE.get(reason, _l("Your session has ended."))
    if wants_json():
        message = sentences(
            because,
            _(
                "Nothing was saved: what you wrote is still here. Sign in again in another "
                "tab, then save it again."
            ),
        )
        body, status = error_response(401, message)
        return current_app.make_response((body, status))
    flash(
        sentences(because, _("What you sent was not saved. Sign in again, then send it again.")),
        "error",
    )
    return redirect(url_for("auth.login"))
