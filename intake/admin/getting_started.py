"""The "Getting started" list on /admin/: a new organisation's first steps, each ticked by
what the database says (an account invited, a second key holder, a confirmed recovery kit, the
time zone chosen, the public profile written), never by a click. It goes once every step is
done, or when an admin hides it; the empty case list points to it meanwhile."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from intake.admin import bp
from intake.auth.access import ADMINS
from intake.extensions import db
from intake.models import User
from intake.services import keys, recovery
from intake.services import settings as org_settings

# The parts of the public profile a defender needs to tell whose form it is, by the labels
# of the settings form (admin.forms.ProfileForm). The onion address is not among them: not
# every organisation runs one.
PROFILE_PARTS = (
    ("name", _l("Organisation name")),
    ("description", _l("Short description")),
    ("response_time", _l("Expected response time")),
    ("contact", _l("Public contact")),
)


@dataclass(frozen=True)
class Step:
    name: str  # "invite", "second_holder", "recovery_kit", "timezone", "profile"
    done: bool
    url: str


@dataclass(frozen=True)
class GettingStarted:
    steps: tuple[Step, ...]
    hidden: bool
    profile_missing: tuple[str, ...]  # labels of PROFILE_PARTS not written yet
    waiting_for_key: int  # colleagues who set a password and wait for a grant
    holders: int  # active people who hold the current organisation key

    @property
    def done(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def shown(self) -> bool:
        return not self.done and not self.hidden

    @property
    def left(self) -> int:
        return sum(not step.done for step in self.steps)


def for_admin(admin: User, waiting_for_key: int = 0) -> GettingStarted:
    current = keys.current_org_key()
    colleagues = int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(User.id != admin.id, User.is_active_account)
        )
        or 0
    )
    holders = len(keys.current_holders(current)) if current is not None else 0
    profile = org_settings.org_profile()
    missing = tuple(
        str(label) for part, label in PROFILE_PARTS if not getattr(profile, part).strip()
    )
    steps = (
        Step("invite", colleagues > 0, url_for("admin.users", _anchor="invite-heading")),
        Step("second_holder", holders >= 2, url_for("admin.key_grants", _anchor="waiting-heading")),
        Step(
            "recovery_kit",
            recovery.confirmed_kit() is not None,
            url_for("admin.key_grants", _anchor="recovery-heading"),
        ),
        Step(
            "timezone",
            org_settings.timezone_chosen(),
            url_for("admin.settings", _anchor="timezone-form"),
        ),
        Step("profile", not missing, url_for("admin.settings", _anchor="profile-title")),
    )
    return GettingStarted(
        steps=steps,
        hidden=org_settings.getting_started_hidden(),
        profile_missing=missing,
        waiting_for_key=waiting_for_key,
        holders=holders,
    )


@bp.app_template_global("getting_started_pending")
def getting_started_pending() -> bool:
    """Whether the signed-in admin has first steps left on /admin/ (the empty case list
    points there). Asked only where it is shown: it reads several tables."""
    if not current_user.is_authenticated or current_user.role not in ADMINS:
        return False
    return for_admin(current_user._get_current_object()).shown
