"""Labels in one place: the wording of the states and outcomes every staff page shows, and of
the intake questions (the public form asks them; staff pages label decrypted answers with
them). Ids are the models' and the form's; labels go through Flask-Babel.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from intake.models import (
    CaseOutcome,
    CaseStatus,
    ConsentChannel,
    ConsentGiver,
    ConsentPurpose,
    ReferralKind,
    ReferralOutcome,
    ReferralState,
    Role,
    SharedStatus,
    Urgency,
)

# --- a staff member -------------------------------------------------------------------------

# A role as staff pages name it (the users page, the account page); admin/forms.py describes
# each for the invitation.
ROLE_LABELS = {
    Role.ADMIN: lazy_pgettext("role", "Admin"),  # a person (管理員), not the Admin pages (管理)
    Role.CASEWORKER: _l("Caseworker"),
    Role.VIEWER: _l("Viewer"),
}

# --- a case ---------------------------------------------------------------------------------

# Short urgency labels, for badges (the form asks with vocab.URGENCIES' longer wording).
URGENCY_LABELS = {
    Urgency.IMMEDIATE: _l("Immediate"),
    Urgency.DAYS: _l("Days"),
    Urgency.WEEKS: _l("Weeks"),
    Urgency.NOT_URGENT: _l("Not urgent"),
}
STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.ASSESSING: _l("Assessing"),
    CaseStatus.REFERRED: _l("Referred"),
    CaseStatus.MONITORING: _l("Monitoring"),
    CaseStatus.CLOSED: _l("Closed"),
}
SHARED_STATUS_LABELS = {
    SharedStatus.RECEIVED: _l("Received"),
    SharedStatus.ASSESSING: _l("Being assessed"),
    SharedStatus.REFERRED: _l("Help being arranged"),
    SharedStatus.WAITING: _l("Waiting for others"),
    SharedStatus.CLOSED: _l("Closed"),
}
OUTCOME_LABELS = {
    CaseOutcome.RESOLVED: _l("Resolved"),
    CaseOutcome.REFERRED_ELSEWHERE: _l("Referred elsewhere"),
    CaseOutcome.SUPPORT_PROVIDED: _l("Support provided"),
    CaseOutcome.OUT_OF_SCOPE: _l("Out of scope"),
    CaseOutcome.NO_CONTACT: _l("No contact possible"),
    CaseOutcome.WITHDRAWN: _l("Withdrawn by the submitter"),
    CaseOutcome.DUPLICATE: _l("Duplicate"),
}

# --- a referral -----------------------------------------------------------------------------

KIND_LABELS = {
    # The government's time to reply once the mandate writes; the referral's own first
    # deadline (a check with the mandate) is shorter, and the form says so beside it.
    ReferralKind.SP_URGENT_APPEAL: _l(
        "UN Special Procedures: urgent appeal (government reply: 60 days)"
    ),
    ReferralKind.SP_ALLEGATION_LETTER: _l(
        "UN Special Procedures: allegation letter (government reply: 60 days)"
    ),
    ReferralKind.SP_LEGISLATION: _l("UN Special Procedures: draft law or policy (48 hours)"),
    ReferralKind.WGAD_OPINION: _l("Working Group on Arbitrary Detention follow-up (6 months)"),
    ReferralKind.REPRISALS_REPORT: _l("Reprisals report (by 15 April)"),
    ReferralKind.NGO_REFERRAL: _l("Referral to an organisation"),
    ReferralKind.EMBASSY_CONTACT: _l("Embassy contact (24 hours)"),
    ReferralKind.FOLLOW_UP: _l("Follow-up after no acknowledgement"),
}
STATE_LABELS = {
    ReferralState.DRAFT: _l("Draft"),
    ReferralState.SENT: _l("Sent"),
    ReferralState.ACKNOWLEDGED: _l("Acknowledged"),
    ReferralState.REPLIED: _l("Replied"),
    ReferralState.NO_REPLY: _l("No reply"),
    ReferralState.CLOSED: _l("Closed"),
    ReferralState.WITHDRAWN: _l("Withdrawn"),
}
REFERRAL_OUTCOME_LABELS = {
    ReferralOutcome.ACTION_TAKEN: _l("Action taken"),
    ReferralOutcome.PARTIALLY_RESOLVED: _l("Partially resolved"),
    ReferralOutcome.NO_ACTION: _l("No action"),
    ReferralOutcome.DECLINED: _l("Declined"),
    ReferralOutcome.NOT_APPLICABLE: _l("Not applicable"),
}

# --- the intake questions -------------------------------------------------------------------

# Sealed answers, in the order the form asks them. Staff pages label decrypted answers with these.
SEALED_FIELDS = (
    # 1. Who is sending, and how to reach them safely
    "sender_name",
    "sender_role",
    "sender_organisation",
    "sender_contact",
    # Safety
    "safe_to_contact",
    "safe_contact_notes",
    "others_at_risk",
    "reprisal_concerns",
    # 2. Urgency
    "urgency_reason",
    # 3. Victims
    "victim_name",
    "victim_age",
    "victim_gender",
    "victim_origin",
    "victim_residence",
    "other_victims",
    # 4. Consent
    "consent",
    "consent_by",
    "referral_consent",
    # 5. What happened, when, where
    "what_happened",
    "when_happened",
    "where_happened",
    # 6.–9.
    "perpetrators",
    "context",
    "actions_taken",
    "wanted_actions",
)
# What a caseworker reads first in a decrypted request, before the rest in the form's order.
FIRST_READ_FIELDS = ("what_happened", "urgency_reason")
SENDER_ROLES = {
    "self": _l("I am the person at risk"),
    "family": _l("A family member"),
    "lawyer": _l("Their lawyer"),
    "organisation": _l("An organisation"),
    "other": _l("Someone else"),
}
YES_NO_UNSURE = {"yes": _l("Yes"), "no": _l("No"), "unsure": _l("I am not sure")}
CONSENT_CHOICES = {
    "yes": _l("Yes, everyone named agreed"),
    "some": _l("Some of them agreed"),
    "no": _l("No, or not yet"),
}
REFERRAL_CONSENT_CHOICES = {
    "yes": _l("Yes, you may share it with organisations or UN mechanisms that can help"),
    "ask": _l("Ask me before sharing it with anyone"),
    "no": _l("No, do not share it outside this organisation"),
}


# (label, description) of each question of the intake form, by field name.
QUESTIONS: dict[str, tuple[Any, ...]] = {
    "sender_name": (
        _l("Your name, or the name you want us to use"),
        _l("You may leave this empty or use a nickname."),
    ),
    "sender_role": (_l("Who are you in this situation?"),),
    "sender_organisation": (_l("Your organisation, if any"),),
    "sender_contact": (
        _l("How can we reach you safely?"),
        _l(
            "For example an e-mail address, a Signal number or another secure way. Leave it "
            "empty to stay anonymous: you can read our replies with your receipt code."
        ),
    ),
    "safe_to_contact": (_l("Is it safe for us to contact you?"),),
    "safe_contact_notes": (
        _l("When and how is it safe to contact you? What should we avoid?"),
        _l("For example: only on Signal, never by phone, not in the evening."),
    ),
    "others_at_risk": (
        _l("Who else could be at risk?"),
        _l("Family members, colleagues or your organisation can be affected too."),
    ),
    "reprisal_concerns": (
        _l("Are you worried about reprisals? Is there anything that must not be shared?"),
        _l(
            "Tell us which details must stay confidential, for example which must never be "
            "shown to the authorities."
        ),
    ),
    "urgency": (_l("How urgent is it?"),),
    "urgency_reason": (
        _l("Why is it urgent? Is there a date or a window in which action could help?"),
    ),
    "victim_name": (_l("Name of the person at risk"),),
    "victim_age": (_l("Age"),),
    "victim_gender": (_l("Gender"),),
    "victim_origin": (_l("Where they come from (origin)"),),
    "victim_residence": (_l("Where they live now"),),
    "other_victims": (
        _l("Other people affected"),
        _l("For each person: name, age, gender, origin and where they live."),
    ),
    "consent": (
        _l("Did the people named agree to this request?"),
        # Someone writing about themselves alone found no answer that fitted (a review).
        _l("Writing only about yourself? Answer “Yes”."),
    ),
    "consent_by": (
        _l("Who gave consent?"),
        _l("The person themselves, a family member or their lawyer."),
    ),
    "referral_consent": (_l("May we share your request to get help?"),),
    "what_happened": (
        _l("What happened?"),
        _l("Describe the events in order, as precisely as you can."),
    ),
    "when_happened": (_l("When did it happen?"),),
    "where_happened": (_l("Where did it happen?"),),
    "perpetrators": (
        _l("Who is responsible?"),
        _l("If you can: names, titles or positions, and possible motives."),
    ),
    "context": (
        _l("What is the background?"),
        _l("For example the laws used, or the wider situation others should understand."),
    ),
    "actions_taken": (
        _l("What has been done already?"),
        _l("Complaints, court cases, other organisations or UN bodies contacted."),
    ),
    "wanted_actions": (
        _l("What would you like to happen?"),
        _l("For example: a referral to a UN expert, legal help, or keeping it confidential."),
    ),
    "threats": (_l("What kind of threat is it?"),),
    "profiles": (_l("Which of these describe the person at risk?"),),
    "country": (_l("Country where it happens"),),
    "languages": (_l("Languages you can use with us"),),
    "languages_other": (_l("Another language"),),
    "attachments": (_l("Evidence (photos, documents)"),),
    "website": (_l("Leave this field empty"),),
}


def answer_labels() -> dict[str, Any]:
    """How the intake form asked each sealed answer, in the reader's language and the form's
    order, with the wording of radio choices: staff pages label decrypted answers with it, and
    show the ``first`` ones (when answered) before the rest. Only question wording: nothing
    here comes from a case."""
    choices = {
        "sender_role": SENDER_ROLES,
        "safe_to_contact": YES_NO_UNSURE,
        "consent": CONSENT_CHOICES,
        "referral_consent": REFERRAL_CONSENT_CHOICES,
    }
    return {
        "order": list(SEALED_FIELDS),
        "first": list(FIRST_READ_FIELDS),
        "labels": {name: str(QUESTIONS[name][0]) for name in SEALED_FIELDS},
        "choices": {
            name: {value: str(label) for value, label in table.items()}
            for name, table in choices.items()
        },
    }


# --- consent (issue 12) ---------------------------------------------------------------------

CONSENT_PURPOSE_LABELS = {
    ConsentPurpose.SHARE_WITH_ORGANISATION: _l("Share with an organisation"),
    ConsentPurpose.UN_SUBMISSION: _l("Submit to a UN mechanism"),
    ConsentPurpose.REPRISALS_REPORT: _l("Include in the UN reprisals report"),
    ConsentPurpose.PUBLICATION: _l("Publish"),
}
CONSENT_GIVER_LABELS = {
    ConsentGiver.PERSON: _l("The person"),
    ConsentGiver.FAMILY: _l("Family"),
    ConsentGiver.LAWYER: _l("Lawyer"),
    ConsentGiver.SUBMITTER: _l("Whoever filled in the request"),
}
CONSENT_CHANNEL_LABELS = {
    ConsentChannel.INTAKE_FORM: _l("Request form"),
    ConsentChannel.FOLLOW_UP_MESSAGE: _l("Follow-up message"),
    ConsentChannel.CALL_NOTE: _l("Call (caseworker's note)"),
    ConsentChannel.STATUS_PAGE: _l("Status page (receipt code)"),
}
