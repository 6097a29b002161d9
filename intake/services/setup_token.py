"""The one-time token that guards /setup until the first account exists.

A fresh instance facing the internet would otherwise let anyone create its first admin. The
token is printed on the operator's console (``make run``, ``flask setup-token``); only its
SHA-256 is stored (``org_settings``, so every web process on any host agrees). Printing it
again means issuing a new one: the old one stops working. It is spent in the transaction that
creates the first account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from intake.extensions import db
from intake.models import OrgSetting
from intake.services import accounts

SETTING = "setup_token_sha256"
TOKEN_MAX = 128


class SetupDone(Exception):
    """An account exists: there is no setup any more, so no token either."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue() -> str:
    """A new token (replacing any earlier one), committed."""
    if accounts.user_count() > 0:
        raise SetupDone
    token = secrets.token_urlsafe(24)
    row = db.session.get(OrgSetting, SETTING)
    if row is None:
        db.session.add(OrgSetting(key=SETTING, value=_digest(token)))
    else:
        row.value = _digest(token)
    db.session.commit()
    return token


def is_valid(token: str | None) -> bool:
    if not token or len(token) > TOKEN_MAX:
        return False
    row = db.session.get(OrgSetting, SETTING)
    return row is not None and hmac.compare_digest(row.value, _digest(token))


def spend() -> None:
    """Forget the token (the caller commits with the first account)."""
    row = db.session.get(OrgSetting, SETTING)
    if row is not None:
        db.session.delete(row)
