"""Organisation-wide settings kept in the database, falling back to the environment."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_babel import lazy_gettext as _l

from intake.extensions import db
from intake.models import OrgSetting, User
from intake.services import audit

TIMEZONE = "timezone"


class SettingError(ValueError):
    """A setting value that cannot be used; the message is safe to show."""


# The stored time zone, read once per application context (one request, one task): a page
# shows a date per row, each through org_zone(), and a missing row (the usual case: the
# environment's zone) is not kept by the session's identity map, so each read was a query.
_STORED_ZONE = "_org_setting_timezone"
_NOT_READ = object()


def _stored_timezone() -> str | None:
    snapshot = _request_snapshot()
    if snapshot is not None:
        return snapshot.get(TIMEZONE)
    stored = g.get(_STORED_ZONE, _NOT_READ)
    if stored is _NOT_READ:
        stored = db.session.scalar(sa.select(OrgSetting.value).where(OrgSetting.key == TIMEZONE))
        setattr(g, _STORED_ZONE, stored)
    return stored


def timezone_column() -> sa.Label[str | None]:
    """The stored time zone (NULL when not set) as a column for another statement, which
    hands it to :func:`keep_timezone` (a send task reads it with its claim)."""
    return (
        sa.select(OrgSetting.value)
        .where(OrgSetting.key == TIMEZONE)
        .scalar_subquery()
        .label(TIMEZONE)
    )


def keep_timezone(stored: str | None) -> None:
    """The stored time zone as :func:`timezone_column` read it: this application context's
    :func:`org_zone` reads no more."""
    setattr(g, _STORED_ZONE, stored)


def timezone_name() -> str:
    """The organisation's time zone: the admin's choice, else ORG_TIMEZONE, else UTC."""
    stored = _stored_timezone()
    if stored is not None:
        return stored
    return str(current_app.config.get("ORG_TIMEZONE") or "UTC")


def timezone_chosen() -> bool:
    """Whether someone chose the organisation's time zone: an admin on the settings page (UTC
    too), or the operator's ORG_TIMEZONE other than the default UTC. A new organisation's
    dates are in UTC until then, which the admin's "Getting started" list points out."""
    if _stored_timezone() is not None:
        return True
    return str(current_app.config.get("ORG_TIMEZONE") or "UTC") != "UTC"


def org_zone() -> ZoneInfo:
    try:
        return ZoneInfo(timezone_name())
    except (ZoneInfoNotFoundError, ValueError):
        current_app.logger.warning("unknown organisation time zone; using UTC")
        return ZoneInfo("UTC")


# The tz database's regions: without them the list held ~600 names, "Factory", "localtime",
# "ROC" and "US/Pacific" among them (links kept for old systems), with no offsets.
_TZ_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)


def timezone_choices(now: datetime | None = None) -> list[tuple[str, str]]:
    """(name, label) of the time zones offered: UTC and the regions' zones, each with its
    offset now ("Asia/Taipei (UTC+08:00)"), and the one in use whatever it is."""
    moment = now or datetime.now(UTC)
    current = timezone_name()
    names = sorted(n for n in available_timezones() if n.split("/")[0] in _TZ_REGIONS)
    names = ["UTC", *names, *([current] if current not in names and current != "UTC" else [])]

    def label(name: str) -> str:
        offset = moment.astimezone(ZoneInfo(name)).strftime("%z")
        return f"{name.replace('_', ' ')} (UTC{offset[:3]}:{offset[3:]})"

    return [(name, label(name)) for name in names]


def set_timezone(name: str, actor: User) -> str:
    if name not in available_timezones():
        raise SettingError(_l("Choose a time zone from the list."))
    row = db.session.get(OrgSetting, TIMEZONE)
    previous = row.value if row is not None else timezone_name()
    if row is None:
        row = OrgSetting(key=TIMEZONE, value=name, updated_by_id=actor.id)
        db.session.add(row)
    else:
        row.value, row.updated_by_id = name, actor.id
    detail = {"from": previous, "to": name}
    audit.record("settings.timezone", "settings", TIMEZONE, actor=actor, detail=detail)
    db.session.commit()
    setattr(g, _STORED_ZONE, name)
    _forget_snapshot()
    return name


# --- what the organisation tells the public ------------------------------------------------------
#
# Shown on the landing page, the form, the receipt and /status. Free text, escaped by Jinja like
# everything else; length-limited here because the column holds at most 255 characters.

ORG_NAME = "org_name"
ORG_DESCRIPTION = "org_description"
ORG_RESPONSE_TIME = "org_response_time"
ORG_CONTACT = "org_contact"
ORG_ONION = "org_onion"

PROFILE_LIMITS: dict[str, int] = {
    ORG_NAME: 120,
    ORG_DESCRIPTION: 255,
    ORG_RESPONSE_TIME: 120,
    ORG_CONTACT: 200,
    ORG_ONION: 100,
}

# The description and response time may be written once per public language as well: a
# defender reading the Arabic pages gets the Arabic text where the admin wrote one, else the
# text above. Stored under "<key>.<language>" (e.g. "org_description.ar").
TRANSLATED = (ORG_DESCRIPTION, ORG_RESPONSE_TIME)


def translated_key(key: str, language: str) -> str:
    return f"{key}.{language}"


def _translation_limits() -> dict[str, int]:
    return {
        translated_key(key, language): PROFILE_LIMITS[key]
        for language in current_app.config["PUBLIC_LANGUAGES"]
        for key in TRANSLATED
    }


_ONION_V3 = re.compile(r"^(?:https?://)?([a-z2-7]{56})\.onion/?$")


@dataclass(frozen=True)
class OrgProfile:
    name: str = ""
    description: str = ""
    response_time: str = ""
    contact: str = ""
    onion: str = ""  # "http://<56 chars>.onion", or empty

    @property
    def onion_host(self) -> str:
        return self.onion.removeprefix("http://")


def onion_url(value: str) -> str:
    """The canonical http://….onion URL of a v3 onion address, or SettingError.

    Checks what Tor checks: 56 base32 characters decoding to a 32-byte ed25519 key, a two-byte
    SHA3-256 checksum and version 3 (rend-spec-v3 §6), so a typo is caught here, not by a
    defender whose Tor Browser cannot reach it."""
    match = _ONION_V3.match(value.strip().lower())
    if match is None:
        raise SettingError(
            _l("Enter a version 3 onion address: 56 letters and digits, then .onion.")
        )
    label = match.group(1)
    if not onion_v3_checks(label):
        raise SettingError(_l("This onion address has a typo: its checksum does not match."))
    return f"http://{label}.onion"


def onion_v3_checks(label: str) -> bool:
    """Whether 56 base32 characters (lower case) are a v3 onion service's key, checksum and
    version, as Tor checks them (rend-spec-v3 §6)."""
    if not re.fullmatch(r"[a-z2-7]{56}", label):
        return False
    decoded = base64.b32decode(label.upper())
    pubkey, checksum, version = decoded[:32], decoded[32:34], decoded[34:]
    expected = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return version == b"\x03" and checksum == expected


def org_profile(language: str | None = None) -> OrgProfile:
    """The public profile; with ``language``, its description and response time in that
    language where the admin wrote them (one statement either way)."""
    wanted = [translated_key(key, language) for key in TRANSLATED] if language else []
    values = None if wanted else _request_snapshot()
    if values is None:
        keys = [*PROFILE_LIMITS, *wanted]
        rows = db.session.scalars(sa.select(OrgSetting).where(OrgSetting.key.in_(keys)))
        values = {row.key: row.value for row in rows}

    def text(key: str) -> str:
        own = values.get(translated_key(key, language), "") if language else ""
        return own or values.get(key, "")

    return OrgProfile(
        name=values.get(ORG_NAME, ""),
        description=text(ORG_DESCRIPTION),
        response_time=text(ORG_RESPONSE_TIME),
        contact=values.get(ORG_CONTACT, ""),
        onion=values.get(ORG_ONION, ""),
    )


def org_profile_translations() -> dict[str, str]:
    """The per-language texts on record, by their stored key ("org_description.ar")."""
    rows = db.session.scalars(
        sa.select(OrgSetting).where(OrgSetting.key.in_(_translation_limits()))
    )
    return {row.key: row.value for row in rows}


def set_org_profile(values: Mapping[str, str], actor: User) -> OrgProfile:
    """Replace the public profile (and its per-language texts, where ``values`` has them);
    all values are checked before anything is written."""
    cleaned: dict[str, str] = {}
    translations = {key: limit for key, limit in _translation_limits().items() if key in values}
    for key, limit in {**PROFILE_LIMITS, **translations}.items():
        value = " ".join(str(values.get(key) or "").split())  # one line, no control characters
        if len(value) > limit:
            raise SettingError(_l("At most %(count)d characters.", count=limit))
        if key == ORG_ONION and value:
            value = onion_url(value)
        cleaned[key] = value
    changed: dict[str, dict[str, str]] = {}
    for key, value in cleaned.items():
        row = db.session.get(OrgSetting, key)
        previous = row.value if row is not None else ""
        if previous == value:
            continue
        changed[key] = {"from": previous, "to": value}
        if row is None:
            db.session.add(OrgSetting(key=key, value=value, updated_by_id=actor.id))
        else:
            row.value, row.updated_by_id = value, actor.id
    if changed:
        audit.record("settings.profile", "settings", "profile", actor=actor, detail=changed)
    db.session.commit()
    _forget_snapshot()
    return org_profile()


# --- the admin's "Getting started" list ---------------------------------------------------------

GETTING_STARTED_HIDDEN = "getting_started_hidden"


def getting_started_hidden() -> bool:
    """Whether an admin hid the "Getting started" list on /admin/ before it was done (an
    organisation of one person may never have a second key holder)."""
    return (
        db.session.scalar(
            sa.select(OrgSetting.value).where(OrgSetting.key == GETTING_STARTED_HIDDEN)
        )
        == "1"
    )


def set_getting_started_hidden(hidden: bool, actor: User) -> None:
    """Hide the list, or show it again, for every admin of the organisation: audited, as every
    other change an admin makes to the organisation's settings (a change only: hiding a
    hidden list records nothing)."""
    row = db.session.get(OrgSetting, GETTING_STARTED_HIDDEN)
    value = "1" if hidden else "0"
    if (row.value if row is not None else "0") != value:
        audit.record(
            "settings.getting_started_hidden" if hidden else "settings.getting_started_shown",
            "settings",
            GETTING_STARTED_HIDDEN,
            actor=actor,
        )
    if row is None:
        db.session.add(OrgSetting(key=GETTING_STARTED_HIDDEN, value=value, updated_by_id=actor.id))
    else:
        row.value, row.updated_by_id = value, actor.id
    db.session.commit()


# --- read with the staff session -----------------------------------------------------------------
#
# Every staff page shows dates (the zone) and the public profile (in the page's frame): two
# statements per request. The user loader reads them in its own statement instead
# (auth.access.load_user), one primary-key look-up per setting, and keeps them for the request
# (on the request, not ``g``, which outlives it when an application context is already pushed):
# as fresh as reading them later in the request, without a cache to invalidate across processes.

_SNAPSHOT_KEYS = (TIMEZONE, *PROFILE_LIMITS)
_SNAPSHOT = "intake.org_settings"


def snapshot_columns() -> list[sa.Label[str | None]]:
    """The settings every staff page reads, as columns for another statement: each one's
    value (NULL when not set), labelled by its key."""
    return [
        sa.select(OrgSetting.value).where(OrgSetting.key == key).scalar_subquery().label(key)
        for key in _SNAPSHOT_KEYS
    ]


def remember_snapshot(row: Mapping[Any, Any]) -> None:
    """Keep the values of :func:`snapshot_columns` (by key) for the rest of this request."""
    if has_request_context():
        request.environ[_SNAPSHOT] = {
            key: row[key] for key in _SNAPSHOT_KEYS if row[key] is not None
        }


def _request_snapshot() -> dict[str, str] | None:
    if not has_request_context():
        return None
    snapshot: dict[str, str] | None = request.environ.get(_SNAPSHOT)
    return snapshot


def _forget_snapshot() -> None:
    """After a write: the rest of the request reads the settings again."""
    if has_request_context():
        request.environ.pop(_SNAPSHOT, None)
