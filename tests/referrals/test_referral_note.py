"""The referral's note on /referrals/<id> (DESIGN §1.1, §1.3): the server only ever sees it sealed.

Who may write it, CSRF, hostile ciphertext and key ids (a clear 4xx, nothing written, never a
500), that what is stored opens with the organisation secret to {"body": ...}, the audit event
without content, and how the page carries it (ciphertext in a data attribute, never HTML).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient
from nacl.public import PublicKey, SealedBox

from intake import crypto
from intake.db import utcnow
from intake.extensions import db
from intake.models import AuditEvent, Referral, Role
from intake.services import audit, referrals
from intake.web import asset_integrity
from tests.builders import OrgKeyPair, make_org_key, make_user, sign_in
from tests.referrals.conftest import sent_referral

NOTE_CANARY = "CANARY-91c4-referral-note 林 <b>bold</b>"
SCRIPT = Path(__file__).resolve().parents[2] / "intake" / "static" / "js" / "referral-note.js"


def seal_note(org: OrgKeyPair, body: str = NOTE_CANARY) -> str:
    """What referral-note.js posts: crypto_box_seal(sodium_pad(JSON {"body": ...})) base64."""
    return crypto.seal_answers({"body": body}, org.public)


def csrf_from(html: str) -> str:
    match = re.search(
        r'id="referral-note-form".*?name="csrf_token" value="([^"]+)"', html, re.S
    ) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_note(
    client: FlaskClient,
    referral: Referral,
    data: dict[str, str],
    *,
    token: bool = True,
    json_reply: bool = False,
) -> tuple[int, str]:
    payload = dict(data)
    if token:
        payload["csrf_token"] = csrf_from(
            client.get(f"/referrals/{referral.id}").get_data(as_text=True)
        )
    headers = {"Accept": "application/json"} if json_reply else {}
    response = client.post(f"/referrals/{referral.id}/note", data=payload, headers=headers)
    return response.status_code, response.get_data(as_text=True)


def note_events() -> list[AuditEvent]:
    return list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "referral.note"))
    )


def stored(referral: Referral) -> tuple[str | None, int | None]:
    db.session.expire_all()
    row = db.session.execute(
        sa.select(Referral.sealed_note, Referral.note_org_key_id).where(Referral.id == referral.id)
    ).one()
    return row[0], row[1]


def db_dump() -> str:
    """Every row of every table as text: where a plaintext leak would show."""
    return "\n".join(
        repr(tuple(row))
        for table in db.metadata.sorted_tables
        for row in db.session.execute(sa.select(table)).all()
    )


def note_section(html: str) -> str:
    start = html.index('id="referral-note"')
    return html[start : html.index("</section>", start)]


# --- who may write it ------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_nothing_is_written(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    response = client.post(
        f"/referrals/{referral.id}/note",
        data={"sealed_note": seal_note(org), "org_key_id": str(org.key.id)},
    )
    # Refused either by the CSRF check or by the login redirect: never stored.
    assert response.status_code in (302, 400)
    assert stored(referral) == (None, None)
    assert note_events() == []


def test_viewer_reads_the_page_without_a_form_and_may_not_post(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    sealed = seal_note(org)
    referrals.set_note(referral.id, sealed, org.key.id, make_user(Role.CASEWORKER))
    client = app.test_client()
    sign_in(client, Role.VIEWER)
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    section = note_section(html)
    assert f'data-sealed-note="{sealed}"' in section  # viewers read it, in their browser
    assert "<form" not in section
    assert "<textarea" not in section
    assert "Unlock your key to read the note." in html
    # With a valid CSRF token from the page, the role check still refuses.
    other = seal_note(org, "viewer's attempt")
    status, _ = post_note(client, referral, {"sealed_note": other, "org_key_id": str(org.key.id)})
    assert status == 403
    assert stored(referral) == (sealed, org.key.id)
    assert len(note_events()) == 1


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
def test_writer_stores_a_note_that_opens_with_the_organisation_secret(
    app: Flask, role: Role
) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    user = sign_in(client, role)
    sealed = seal_note(org)
    response = client.post(
        f"/referrals/{referral.id}/note",
        data={
            "sealed_note": sealed,
            "org_key_id": str(org.key.id),
            "csrf_token": csrf_from(client.get(f"/referrals/{referral.id}").get_data(as_text=True)),
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/referrals/{referral.id}")
    note, key_id = stored(referral)
    assert (note, key_id) == (sealed, org.key.id)
    assert note is not None
    assert crypto.open_answers(note, org.secret) == {"body": NOTE_CANARY}
    # Audited on the case, naming the referral and the key, never the content.
    (event,) = note_events()
    assert (event.actor_id, event.target_type, event.target_id) == (
        user.id,
        "case",
        str(referral.case_id),
    )
    assert event.detail == {"referral": referral.id, "org_key_id": org.key.id}
    assert audit.verify_chain().ok
    # Nothing readable anywhere in the database.
    dump = db_dump()
    assert "CANARY-91c4" not in dump
    assert sealed not in json.dumps(event.detail)
    # The page after the redirect: flashed, and the ciphertext only in a data attribute.
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "Note saved, encrypted to the organisation key." in html
    assert "CANARY-91c4" not in html
    assert html.count(sealed) == 1
    assert f'data-sealed-note="{sealed}"' in html
    assert f'data-note-org-key-id="{org.key.id}"' in html


def test_a_new_note_replaces_the_old_one_and_each_save_is_audited(any_app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = any_app.test_client()
    sign_in(client, Role.CASEWORKER)
    for body in ("first", "second, longer " * 200):
        status, _ = post_note(
            client, referral, {"sealed_note": seal_note(org, body), "org_key_id": str(org.key.id)}
        )
        assert status == 303
    note, _ = stored(referral)
    assert note is not None
    assert crypto.open_answers(note, org.secret) == {"body": "second, longer " * 200}
    assert len(note_events()) == 2


# --- CSRF and hostile input --------------------------------------------------------------------


def test_csrf_is_enforced(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    data = {"sealed_note": seal_note(org), "org_key_id": str(org.key.id)}
    for token in (None, "not-a-token", ""):
        payload = dict(data)
        if token is not None:
            payload["csrf_token"] = token
        response = client.post(f"/referrals/{referral.id}/note", data=payload)
        assert response.status_code == 400
        assert "expired or was sent from elsewhere" in response.get_data(as_text=True)
    assert stored(referral) == (None, None)
    assert note_events() == []


def _unpadded(org: OrgKeyPair) -> str:
    """Sealed correctly but not padded: its size would give the note's length away."""
    sealed = SealedBox(PublicKey(base64.b64decode(org.public))).encrypt(b'{"body": "short"}')
    return base64.b64encode(bytes(sealed)).decode()


def _oversized(org: OrgKeyPair) -> str:
    return crypto.seal_answers({"body": "x" * (referrals.NOTE_MAX_BYTES + 10)}, org.public)


HOSTILE_NOTES = {
    "missing": None,
    "empty": "",
    "plaintext": "Meeting the family on Monday",
    "not base64": "!!!!@@@@" * 20,
    "url-safe base64": base64.urlsafe_b64encode(b"\xfb\xff" * 600).decode().rstrip("="),
    "markup": '"><script>alert(1)</script>',
    "too short": base64.b64encode(b"x" * 40).decode(),
    "NUL": "AAAA\x00AAAA",
    "non-ASCII": "ＡＢＣＤ" * 100,
    "huge": "A" * 2_000_000,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NOTES))
def test_hostile_ciphertext_is_refused_and_nothing_is_written(app: Flask, case: str) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    data = {"org_key_id": str(org.key.id)}
    note = HOSTILE_NOTES[case]
    if note is not None:
        data["sealed_note"] = note
    status, body = post_note(client, referral, data)
    assert 400 <= status < 500, (case, status)
    assert (
        "Nothing was saved" in body
        or "too large" in body  # MAX_CONTENT_LENGTH would answer before the view
    ), case
    assert "<script>alert(1)" not in body
    assert stored(referral) == (None, None)
    assert note_events() == []


@pytest.mark.parametrize(
    ("case", "status"), [("unpadded", 400), ("oversized", 413)], ids=["unpadded", "oversized"]
)
def test_well_formed_but_unacceptable_seals_are_refused(app: Flask, case: str, status: int) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    note = _unpadded(org) if case == "unpadded" else _oversized(org)
    got, body = post_note(client, referral, {"sealed_note": note, "org_key_id": str(org.key.id)})
    assert got == status
    assert "Nothing was saved" in body
    if case == "oversized":
        assert "The note is too long." in body
    assert stored(referral) == (None, None)


@pytest.mark.parametrize(
    "key_id", ["", "0", "-1", "abc", "1e3", "²", "٣", "99999", "9" * 40, "1.0", " 1"]
)
def test_a_note_not_sealed_to_the_current_key_is_refused(app: Flask, key_id: str) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    data = {"sealed_note": seal_note(org)}
    if key_id:
        data["org_key_id"] = key_id
    status, body = post_note(client, referral, data, json_reply=True)
    assert status == 409
    message = json.loads(body)["error"]
    assert "not the organisation's current key" in message
    assert stored(referral) == (None, None)
    assert note_events() == []


def test_the_key_must_be_the_current_unretired_one(app: Flask) -> None:
    old = make_org_key()
    referral = sent_referral(org=old)
    newer = make_org_key()  # the newest key not retired is the current one
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    status, _ = post_note(
        client, referral, {"sealed_note": seal_note(old), "org_key_id": str(old.key.id)}
    )
    assert status == 409
    # Once the newest is retired, the older one is current again; a retired one never is.
    newer.key.retired_at = utcnow()
    db.session.commit()
    status, _ = post_note(
        client, referral, {"sealed_note": seal_note(newer), "org_key_id": str(newer.key.id)}
    )
    assert status == 409
    assert stored(referral) == (None, None)
    status, _ = post_note(
        client, referral, {"sealed_note": seal_note(old), "org_key_id": str(old.key.id)}
    )
    assert status == 303
    assert stored(referral)[1] == old.key.id


def test_without_any_organisation_key_no_note_can_be_stored(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    org.key.retired_at = utcnow()
    db.session.commit()
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'data-public-key=""' in html
    assert 'data-current-key-id=""' in html
    status, body = post_note(
        client, referral, {"sealed_note": seal_note(org), "org_key_id": str(org.key.id)}
    )
    assert status == 409
    assert "Nothing was saved" in body
    assert stored(referral) == (None, None)


def test_unknown_referrals_are_404(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    token = csrf_from(client.get(f"/referrals/{referral.id}").get_data(as_text=True))
    data = {"sealed_note": seal_note(org), "org_key_id": str(org.key.id), "csrf_token": token}
    for referral_id in ("12345", "9" * 30):
        assert client.post(f"/referrals/{referral_id}/note", data=data).status_code == 404
    assert note_events() == []


def test_errors_answer_json_to_the_script(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    status, body = post_note(
        client,
        referral,
        {"sealed_note": "plain words", "org_key_id": str(org.key.id)},
        json_reply=True,
    )
    assert status == 400
    answer = json.loads(body)
    assert answer["status"] == 400
    assert "It needs JavaScript. Nothing was saved." in answer["error"]
    assert "plain words" not in body  # never echoes what was sent


def test_set_note_refuses_what_is_not_text(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    user = make_user(Role.CASEWORKER)
    for bad in (None, 42, b"bytes"):
        with pytest.raises(referrals.NoteRejected) as caught:
            referrals.set_note(referral.id, bad, org.key.id, user)  # type: ignore[arg-type]
        assert caught.value.status == 400
    with pytest.raises(referrals.NoteRejected) as missing:
        referrals.set_note(987654, seal_note(org), org.key.id, user)
    assert missing.value.status == 404
    assert stored(referral) == (None, None)


# --- the page ----------------------------------------------------------------------------------


def test_the_page_carries_only_ciphertext_and_a_form_without_plaintext_fields(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    section = note_section(html)
    assert 'data-sealed-note=""' in section
    assert f'data-public-key="{org.public}"' in section
    assert f'data-current-key-id="{org.key.id}"' in section
    assert "No note yet." in section
    # The form: CSRF, the hidden sealed field and key id; the textarea has no name.
    form = section[section.index("<form") : section.index("</form>")]
    assert f'action="/referrals/{referral.id}/note"' in form
    names = re.findall(r'name="([^"]+)"', form)
    assert sorted(names) == ["csrf_token", "org_key_id", "replaces", "sealed_note"]
    textarea = re.search(r"<textarea[^>]*>", form)
    assert textarea
    assert "name=" not in textarea.group(0)
    assert "disabled" in textarea.group(0)  # until the script has unlocked and opened the note
    assert "Needs JavaScript." in form
    assert "reading or writing it needs JavaScript" in section
    # What the script says, as inert JSON; the script itself with subresource integrity.
    strings = re.search(r'id="referral-note-strings">(.*?)</script>', html, re.S)
    assert strings
    assert json.loads(strings.group(1))["locked"] == "Unlock your key to read or write the note."
    with app.test_request_context():
        src = url_for("static", filename="js/referral-note.js")
        integrity = asset_integrity("js/referral-note.js")
    assert f'src="{src}" integrity="{integrity}"' in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html
    assert " onsubmit=" not in html


def test_the_script_refuses_exactly_what_the_server_refuses() -> None:
    assert f"const MAX_SEALED_BYTES = {referrals.NOTE_MAX_BYTES};" in SCRIPT.read_text()


def test_the_note_section_speaks_traditional_chinese(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    html = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    strings = re.search(r'id="referral-note-strings">(.*?)</script>', html, re.S)
    assert strings
    assert json.loads(strings.group(1))["locked"] == "解鎖你的金鑰以閱讀或撰寫備註。"
    assert "儲存備註" in note_section(html)
    status, body = post_note(client, referral, {"sealed_note": "x", "org_key_id": "1"})
    assert status == 400
    assert "未儲存任何內容" in body


# --- two writers -------------------------------------------------------------------------------


def replaces_from(html: str) -> str:
    match = re.search(r'name="replaces" value="([^"]*)"', note_section(html))
    assert match, "the form does not say which note it replaces"
    return match.group(1)


def test_a_note_saved_meanwhile_is_never_overwritten_unseen(any_app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    alice = any_app.test_client()
    sign_in(alice, Role.CASEWORKER)
    bob = any_app.test_client()
    sign_in(bob, Role.ADMIN)
    alice_page = alice.get(f"/referrals/{referral.id}").get_data(as_text=True)
    bob_page = bob.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert replaces_from(alice_page) == replaces_from(bob_page) == ""

    def save(client: FlaskClient, page: str, body: str) -> tuple[int, str]:
        response = client.post(
            f"/referrals/{referral.id}/note",
            data={
                "sealed_note": seal_note(org, body),
                "org_key_id": str(org.key.id),
                "replaces": replaces_from(page),
                "csrf_token": csrf_from(page),
            },
            headers={"Accept": "application/json"},
        )
        return response.status_code, response.get_data(as_text=True)

    assert save(bob, bob_page, "bob's note")[0] == 303
    bobs, _ = stored(referral)
    # Alice's page still shows no note: her save would destroy Bob's, which she never read.
    status, body = save(alice, alice_page, "alice's note")
    assert status == 409
    assert "Someone else changed the note" in json.loads(body)["error"]
    assert stored(referral)[0] == bobs
    # Reloaded, her page names Bob's version and her save goes through.
    alice_page = alice.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert replaces_from(alice_page) == referrals.note_version(bobs)
    assert len(replaces_from(alice_page)) == referrals.NOTE_VERSION_CHARS
    assert save(alice, alice_page, "alice's note")[0] == 303
    note, _ = stored(referral)
    assert note is not None
    assert crypto.open_answers(note, org.secret) == {"body": "alice's note"}
    # Bob's page is now the stale one.
    assert save(bob, bob_page, "bob again")[0] == 409
    assert len(note_events()) == 2


def test_a_malformed_version_is_refused(app: Flask) -> None:
    org = make_org_key()
    referral = sent_referral(org=org)
    client = app.test_client()
    sign_in(client, Role.CASEWORKER)
    for replaces in ("x" * 45, "A" * 5000, "not-this-one"):
        status, body = post_note(
            client,
            referral,
            {"sealed_note": seal_note(org), "org_key_id": str(org.key.id), "replaces": replaces},
        )
        assert status in (400, 409), replaces
        assert "Nothing was saved" in body
    assert stored(referral) == (None, None)
    assert note_events() == []
