"""What /admin/audit shows of an event: the action as words in the reader's language (the code
stays beside it, for whoever greps the log), and the target as staff know it: a case by its
reference, linked to its page, an account by its address.

A deleted case (retention) has only what the audit keeps of it, its id; the audit itself
never holds case content (DESIGN §1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import JSONB

from intake.extensions import db
from intake.models import AuditEvent, Case, User

# Every action the code records (``audit.record``/``audit.Entry``); one without a label here is
# shown by its code. ``referral.<action>`` are the transitions of ``services.referrals``.
ACTION_LABELS = {
    "account.created": _l("Account created"),
    "account.invited": _l("Colleague invited"),
    "account.enrolled": _l("Invitation accepted, password set"),
    "admin.audit_verified": _l("Audit chain verified"),
    "admin.invite_link": _l("New invite link shown"),
    "admin.password_reset": _l("Password reset by an admin"),
    "admin.role_changed": _l("Role changed"),
    "admin.sign_in_throttle_lifted": _l("Sign-in lock lifted"),
    "admin.totp_reset": _l("Second factor reset by an admin"),
    "admin.user_activated": _l("Account reactivated"),
    "admin.user_deactivated": _l("Account deactivated"),
    "audit.restore_accepted": _l("Restore from a backup accepted (later events gone)"),
    "auth.failed": _l("Sign-in failed"),
    "auth.login": _l("Signed in"),
    "auth.logout": _l("Signed out"),
    "auth.logout_everywhere": _l("Signed out everywhere"),
    "auth.passkey_added": _l("Passkey added"),
    "auth.passkey_removed": _l("Passkey removed"),
    "auth.passkey_used": _l("Signed in with a passkey"),
    "auth.password_changed": _l("Password changed"),
    "auth.recovery_code_used": _l("Recovery code used"),
    "auth.recovery_codes_regenerated": _l("New recovery codes made"),
    "auth.refused_inactive": _l("Sign-in refused: account deactivated"),
    "auth.refused_locked": _l("Sign-in refused: locked after failed attempts"),
    "auth.refused_no_second_factor": _l("Sign-in refused: no second factor"),
    "auth.scheme_upgraded": _l("Password protection upgraded"),
    "auth.sign_in_wait_cleared": _l("Sign-in wait cleared"),
    "auth.totp_added": _l("Authenticator app added"),
    "auth.totp_confirmed": _l("Authenticator app confirmed"),
    "auth.totp_removed": _l("Authenticator app removed"),
    "auth.totp_replaced": _l("Authenticator app replaced"),
    "case.assign": _l("Case assigned"),
    "case.follow_up": _l("Message from the requester"),
    "case.list": _l("Case list viewed"),
    "case.note": _l("Note added"),
    "case.public_status_hold": _l("Public status held back"),
    "case.purged": _l("Case deleted (retention)"),
    "case.reply": _l("Reply sent to the requester"),
    "case.search_index": _l("Search index updated"),
    "case.status": _l("Case status changed"),
    "case.status_viewed": _l("Requester checked the status"),
    "case.submitted": _l("Request received"),
    "case.view": _l("Case opened"),
    "consent.recorded": _l("Consent recorded"),
    "demo.removed": _l("Sample cases removed (flask demo --remove)"),
    "consent.withdrawn": _l("Consent withdrawn"),
    "directory.create": _l("Directory entry added"),
    "directory.import": _l("Directory imported"),
    "directory.restore": _l("Directory entry restored"),
    "directory.retire": _l("Directory entry retired"),
    "directory.update": _l("Directory entry edited"),
    "keys.granted": _l("Organisation key granted"),
    "keys.keyring_fetched": _l("Keys fetched to unlock"),
    "keys.org_key_created": _l("Organisation key created"),
    "keys.org_key_pinned": _l("Organisation key pinned"),
    "keys.recovery_kit_confirmed": _l("Recovery kit confirmed"),
    "keys.recovery_kit_created": _l("Recovery kit made"),
    "keys.recovery_kit_used": _l("Recovery kit used"),
    "keys.revoked": _l("Organisation key grant removed"),
    "keys.rewrapped": _l("Personal key re-wrapped"),
    "keys.rotated": _l("Organisation key rotated"),
    "operator.password_reset": _l("Password reset by the operator"),
    "operator.totp_reset": _l("Second factor reset by the operator"),
    # A reminder, a digest or a security notice: whichever the admin sent again.
    "outbox.resend": _l("Failed e-mail sent again"),
    "referral.acknowledge": _l("Referral acknowledged"),
    "referral.close": _l("Referral closed"),
    "referral.consent_override": _l("Referral without consent (admin override)"),
    "referral.create": _l("Referral started"),
    "referral.date_corrected": _l("Referral date corrected"),
    "referral.list": _l("Referral list viewed"),
    "referral.no_reply": _l("Referral: no reply"),
    "referral.note": _l("Referral note added"),
    "referral.owner_changed": _l("Referral owner changed"),
    "referral.reply": _l("Referral answered"),
    "referral.send": _l("Referral sent"),
    "referral.un_step": _l("UN step recorded"),
    "referral.view": _l("Referral opened"),
    "referral.withdraw": _l("Referral withdrawn"),
    "security_notices.purged": _l("Security notices deleted (retention)"),
    "settings.getting_started_hidden": _l("“Getting started” list hidden"),
    "settings.getting_started_shown": _l("“Getting started” list shown again"),
    "settings.profile": _l("Organisation details changed"),
    "settings.timezone": _l("Time zone changed"),
    "setup.completed": _l("First-run setup completed"),
    "user.reminder_preference": _l("Reminder e-mail preference changed"),
}


# A code whose words depend on how it happened (the event's detail "via").
VIA_LABELS = {
    # Not an invitation: the first admin, or an invitee, who left before confirming the
    # authenticator app and gave their password again (second_factor.restart_enrolment).
    ("account.enrolled", "sign_in"): _l("Authenticator app set up again at sign-in"),
}


def action_label(code: str, detail: object = None) -> str:
    via = detail.get("via") if isinstance(detail, dict) else None
    label = VIA_LABELS.get((code, str(via))) or ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def action_condition(typed: str) -> sa.ColumnElement[bool]:
    """The events whose action is what was typed in the filter: a code's start
    ("referral." for every referral event), or words of the label the log shows, in the
    reader's language ("Referral opened" matched nothing: only the code did)."""
    text = typed.strip()
    words = text.casefold()
    codes = [
        code for code in ACTION_LABELS if words and words in str(ACTION_LABELS[code]).casefold()
    ]
    condition = AuditEvent.action.startswith(text, autoescape=True)
    return sa.or_(condition, AuditEvent.action.in_(codes)) if codes else condition


def actor_label(label: str) -> str:
    """Who acted, as words: a colleague by their address; the requester, the system or the
    operator's command line by name (the stored label stays in the page, for the filter)."""
    kind, _sep, who = label.partition(":")
    if kind == "user" and who:
        return who
    if kind == "submitter":
        return _("Requester")
    if kind == "public":
        return _("Someone not signed in")
    if kind == "system":
        return _("Refuge (automatic)")
    if kind == "operator":
        return _("Operator (command line)")
    return label


_ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass(frozen=True)
class Target:
    label: str
    url: str | None = None
    # A case list's rows (their names and summaries were opened in the viewer's browser).
    listed: tuple[Target, ...] = ()


def _ids(events: Sequence[AuditEvent], target_type: str) -> set[int]:
    return {
        int(event.target_id)
        for event in events
        if event.target_type == target_type and event.target_id.isdigit()
    }


# The listings that name the cases they showed (``detail["cases"]``): the case list, whose
# rows carry their ciphertext, and the referral list (which case went to which organisation).
LISTINGS = ("case.list", "referral.list")


def listed_case_ids(event: AuditEvent) -> list[int]:
    """The cases a listing event (:data:`LISTINGS`) showed, or none."""
    listed = (event.detail or {}).get("cases") if event.action in LISTINGS else None
    if not isinstance(listed, list):
        return []
    return [item for item in listed if isinstance(item, int) and not isinstance(item, bool)]


def targets(events: Sequence[AuditEvent]) -> dict[int, Target]:
    """Each event's target (by event id), looked up for the whole page at once: one query
    for the cases' references and one for the accounts' addresses, whatever the page holds."""
    case_ids, user_ids = _ids(events, "case"), _ids(events, "user")
    case_ids.update(case_id for event in events for case_id in listed_case_ids(event))
    refs: dict[int, str] = {}
    emails: dict[int, str] = {}
    if case_ids:
        query = sa.select(Case.id, Case.ref).where(Case.id.in_(case_ids))
        refs = {case_id: ref for case_id, ref in db.session.execute(query)}
    if user_ids:
        query = sa.select(User.id, User.email).where(User.id.in_(user_ids))
        emails = {user_id: email for user_id, email in db.session.execute(query)}
    return {event.id: _target(event, refs, emails) for event in events}


def _case(case_id: int, refs: dict[int, str]) -> Target:
    if case_id in refs:
        ref = refs[case_id]
        return Target(ref, url_for("cases.detail", ref=ref))
    return Target(_("Case %(id)s (deleted)", id=case_id))


def _target(event: AuditEvent, refs: dict[int, str], emails: dict[int, str]) -> Target:
    kind, key = event.target_type, event.target_id
    number = int(key) if key.isdigit() else None
    if kind == "case":
        if key == "*":
            listed = tuple(_case(case_id, refs) for case_id in listed_case_ids(event))
            if event.action == "referral.list":
                return Target(_("Referral list"), listed=listed)
            return Target(_("Case list"), listed=listed)
        return _case(number, refs) if number is not None else Target(key)
    if kind == "user":
        if number in emails:
            return Target(emails[number])
        if number is None:
            return Target(_("Unknown account"))
        return Target(_("Account %(id)s", id=key))
    if kind == "org_key":
        return Target(_("Organisation key %(id)s", id=key))
    if kind == "recovery_kit":
        return Target(_("Recovery kit %(id)s", id=key))
    if kind == "directory":
        # Linked, as a case is (an entry's id is [a-z0-9-]; anything else stays text).
        url = url_for("directory.detail", entry_id=key) if _ENTRY_ID.match(key) else None
        return Target(_("Directory: %(id)s", id=key), url)
    if kind == "settings":
        return Target(_("Organisation settings"))
    if kind == "audit":
        return Target(_("Audit chain"))
    if kind == "outbox":
        return Target(_("Reminder e-mail %(id)s", id=key))
    if kind == "security_notices":
        return Target(_("Security notices"))
    return Target(f"{kind} {key}")


def target_condition(wanted: str) -> sa.ColumnElement[bool]:
    """The "Target" filter: a case's reference (as staff know a case: "RF-7K2M…") finds that
    case's events; anything else is an id, as the audit stores it."""
    text = wanted.strip()
    if text.upper().startswith("RF-"):
        case_id = db.session.scalar(sa.select(Case.id).where(Case.ref == text.upper()))
        if case_id is not None:
            own = sa.and_(AuditEvent.target_type == "case", AuditEvent.target_id == str(case_id))
            return sa.or_(own, _listed(case_id))
    return AuditEvent.target_id == text


def _listed(case_id: int) -> sa.ColumnElement[bool]:
    """Listings that showed the case (listed_case_ids): the case list (its name was read
    there too) and the referral list."""
    is_list = AuditEvent.action.in_(LISTINGS)
    if db.session.get_bind().dialect.name == "postgresql":
        cases = sa.cast(AuditEvent.detail, JSONB)["cases"]
        return sa.and_(is_list, cases.op("@>")(sa.cast(sa.literal(f"[{case_id}]"), JSONB)))
    shown = (
        sa.select(sa.literal(1))
        .select_from(sa.func.json_each(AuditEvent.detail, "$.cases").table_valued("value"))
        .where(sa.column("value") == case_id)
        .exists()
    )
    return sa.and_(is_list, shown)
