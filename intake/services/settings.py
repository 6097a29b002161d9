"""Organisation-wide settings kept in the database, falling back to the environment."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l

from intake.extensions import db
from intake.models import OrgSetting, User
from intake.services import audit

TIMEZONE = "timezone"


class SettingError(ValueError):
    """A setting value that cannot be used; the message is safe to show."""


def timezone_name() -> str:
    """The organisation's time zone: the admin's choice, else ORG_TIMEZONE, else UTC."""
    row = db.session.get(OrgSetting, TIMEZONE)
    if row is not None:
        return row.value
    return str(current_app.config.get("ORG_TIMEZONE") or "UTC")


def org_zone() -> ZoneInfo:
    try:
        return ZoneInfo(timezone_name())
    except (ZoneInfoNotFoundError, ValueError):
        current_app.logger.warning("unknown organisation time zone; using UTC")
        return ZoneInfo("UTC")


def timezone_choices() -> list[str]:
    return sorted(available_timezones())


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
    return name
