"""A post from a staff page whose sign-in ended while it was open (the idle time-out, Sign out
in another tab, the account deactivated) saves nothing and says so: a page's script gets a 401
it shows beside the text it keeps, never a redirect it would take for "saved" (a review with
two colleagues in Chromium: a typed note was emptied and lost without a word)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.auth.sessions import SID
from intake.db import utcnow
from intake.extensions import db
from intake.models import Case, CaseMessage, Role, StaffSession, User
from intake.services import staff_sessions
from tests.builders import OrgKeyPair, make_case, make_org_key, sign_in
from tests.cases.test_routes import csrf_from, sealed_note

JSON = {"Accept": "application/json"}


@pytest.fixture
def csrf_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app


def _at_a_note(app: Flask, *, lang: str | None = None) -> tuple[FlaskClient, Case, dict[str, str]]:
    """A caseworker signed in, on a case page, with a sealed note ready to post."""
    org = make_org_key()
    case = make_case(org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    if lang:
        client.get(f"/cases/?lang={lang}")
    return client, case, _note_form(client, org, case)


def _record(client: FlaskClient) -> StaffSession:
    with client.session_transaction() as session:
        record = staff_sessions.find(session.get(SID))
    assert record is not None
    return record


def _note_form(client: FlaskClient, org: OrgKeyPair, case: Case) -> dict[str, str]:
    """The note form as the case page gives it, sealed as case-view.js seals it."""
    token = csrf_from(client.get(f"/cases/{case.ref}"))
    return {"sealed_body": sealed_note(org), "org_key_id": str(org.key.id), "csrf_token": token}


def _notes() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(CaseMessage)) or 0


def _idle(client: FlaskClient, app: Flask) -> None:
    record = _record(client)
    record.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()


def _deactivated(client: FlaskClient, app: Flask) -> None:
    user = db.session.get(User, _record(client).user_id)
    assert user is not None
    user.is_active_account = False
    db.session.commit()


def _signed_out_elsewhere(client: FlaskClient, app: Flask) -> None:
    """Sign out in another tab: the same cookie jar, so this page's session is gone with it."""
    token = csrf_from(client.get("/cases/"))
    assert client.post("/logout", data={"csrf_token": token}).status_code in (302, 303)


@pytest.mark.parametrize(
    ("end", "why"),
    [
        (_idle, "signed out after a period of inactivity"),
        (_deactivated, "Your session has ended"),
        (_signed_out_elsewhere, "You are signed out"),
    ],
)
def test_a_script_post_after_the_session_ended_is_a_401_that_says_nothing_was_saved(
    csrf_app: Flask, end: Callable[[FlaskClient, Flask], None], why: str
) -> None:
    client, case, form = _at_a_note(csrf_app)
    end(client, csrf_app)
    response = client.post(f"/cases/{case.ref}/notes", data=form, headers=JSON)
    assert response.status_code == 401
    assert response.is_json
    error = response.get_json()["error"]
    assert why in error
    assert "Nothing was saved: what you wrote is still here" in error
    assert _notes() == 0


def test_a_plain_form_posted_after_sign_out_elsewhere_goes_to_sign_in_and_says_it_was_not_saved(
    csrf_app: Flask,
) -> None:
    client, case, form = _at_a_note(csrf_app)
    _signed_out_elsewhere(client, csrf_app)
    response = client.post(f"/cases/{case.ref}/notes", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert "You are signed out." in page
    assert "What you sent was not saved. Sign in again, then send it again." in page
    assert _notes() == 0


def test_the_message_is_in_the_readers_language(csrf_app: Flask) -> None:
    client, case, form = _at_a_note(csrf_app, lang="zh_Hant")
    _idle(client, csrf_app)
    response = client.post(f"/cases/{case.ref}/notes", data=form, headers=JSON)
    assert response.status_code == 401
    assert "你因一段時間沒有操作而被登出。" in response.get_json()["error"]


def test_the_sign_in_page_still_answers_an_expired_token_as_before(csrf_app: Flask) -> None:
    """Only pages for signed-in staff say "signed out": the sign-in form's own expired token is
    the usual 400."""
    response = csrf_app.test_client().post(
        "/login", data={"csrf_token": "stale", "email": "a@example.org"}
    )
    assert response.status_code == 400
    assert "signed out" not in response.get_data(as_text=True)


def test_typing_tells_the_server_someone_is_there(app: Flask, client: FlaskClient) -> None:
    """/auth/alive (asked by staff.js while someone types) is activity for the idle time-out,
    and only for a signed-in colleague."""
    assert client.get("/auth/alive").status_code == 302
    sign_in(client, Role.VIEWER)
    record = _record(client)
    record.last_seen_at = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 2)
    db.session.commit()
    response = client.get("/auth/alive")
    assert response.status_code == 204
    assert response.data == b""
    db.session.refresh(record)
    assert utcnow() - record.last_seen_at < timedelta(seconds=5)


def test_sign_out_after_the_idle_time_out_says_why_and_nothing_of_a_lost_post(
    csrf_app: Flask,
) -> None:
    """Sign out pressed after the time-out: signed out, told why, not "what you sent was not
    saved" (nothing was being sent), and not sent back to /logout after signing in."""
    client, _case, _form = _at_a_note(csrf_app)
    token = csrf_from(client.get("/cases/"))
    _idle(client, csrf_app)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert "You were signed out after a period of inactivity. Please sign in again." in page
    assert "not saved" not in page


def test_a_public_form_posted_from_a_browser_whose_staff_sign_in_ended_goes_on(
    csrf_app: Flask,
) -> None:
    """The receipt-code form asks for no sign-in: a colleague's timed-out session in the same
    browser ends quietly and the form is answered as anyone's would be."""
    client, _case, _form = _at_a_note(csrf_app)
    token = csrf_from(client.get("/status"))
    _idle(client, csrf_app)
    response = client.post("/status", data={"csrf_token": token, "code": "NOPE-NOPE"})
    assert "/login" not in response.headers.get("Location", "")
    assert response.status_code in (200, 400, 404, 422)
    assert "signed out" not in response.get_data(as_text=True)
