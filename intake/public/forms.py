"""The intake form: the nine questions of a UN Special Procedures submission, safety questions,
and the routing fields (DESIGN §4).

``SEALED_FIELDS`` lists the answers that are sealed (in the browser, or by the server when
JavaScript is off); staff pages can use it to label the answers they decrypt. The routing
fields are the only ones the server reads in the clear, and the form says so.

CSRF is checked in the view (not by WTForms) so that an expired token can re-show the form with
everything the person wrote (DESIGN §8).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    Form,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from intake.public import vocab

SHORT_MAX = 300
LONG_MAX = 8000

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
ROUTING_FIELDS = ("urgency", "threats", "profiles", "country", "languages", "languages_other")
HONEYPOT_FIELD = "website"

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


def _short(label: Any, description: Any = "") -> StringField:
    return StringField(label, [Optional(), Length(max=SHORT_MAX)], description=description)


def _long(label: Any, description: Any = "", required: bool = False) -> TextAreaField:
    first = DataRequired(message=_l("Please answer this question.")) if required else Optional()
    return TextAreaField(label, [first, Length(max=LONG_MAX)], description=description)


def _radio(label: Any, choices: dict[str, Any], required: bool = False) -> RadioField:
    first = InputRequired(message=_l("Please choose an answer.")) if required else Optional()
    return RadioField(label, [first], choices=_as_choices(choices.items()), validate_choice=True)


def _as_choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (plain tuples are deprecated from WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class IntakeForm(Form):
    # 1. Who is sending
    sender_name = _short(
        _l("Your name, or the name you want us to use"),
        _l("You may leave this empty or use a nickname."),
    )
    sender_role = _radio(_l("Who are you in this situation?"), SENDER_ROLES)
    sender_organisation = _short(_l("Your organisation, if any"))
    sender_contact = _long(
        _l("How can we reach you safely?"),
        _l(
            "For example an e-mail address, a Signal number or another secure way. Leave it "
            "empty to stay anonymous: you can read our replies with your receipt code."
        ),
    )
    # Safety
    safe_to_contact = _radio(_l("Is it safe for us to contact you?"), YES_NO_UNSURE)
    safe_contact_notes = _long(
        _l("When and how is it safe to contact you? What should we avoid?"),
        _l("For example: only on Signal, never by phone, not in the evening."),
    )
    others_at_risk = _long(
        _l("Who else could be at risk?"),
        _l("Family members, colleagues or your organisation can be affected too."),
    )
    reprisal_concerns = _long(
        _l("Are you worried about reprisals? Is there anything that must not be shared?"),
        _l(
            "Tell us which details must stay confidential, for example which must never be "
            "shown to the authorities."
        ),
    )
    # 2. Urgency (routing) and why
    urgency = RadioField(
        _l("How urgent is it?"),
        [InputRequired(message=_l("Please choose how urgent it is."))],
        choices=_as_choices(vocab.URGENCY.items()),
        validate_choice=True,
    )
    urgency_reason = _long(
        _l("Why is it urgent? Is there a date or a window in which action could help?"),
    )
    # 3. Victims
    victim_name = _short(_l("Name of the person at risk"))
    victim_age = _short(_l("Age"))
    victim_gender = _short(_l("Gender"))
    victim_origin = _short(_l("Where they come from (origin)"))
    victim_residence = _short(_l("Where they live now"))
    other_victims = _long(
        _l("Other people affected"),
        _l("For each person: name, age, gender, origin and where they live."),
    )
    # 4. Consent
    consent = _radio(
        _l("Did the people named agree to this request?"), CONSENT_CHOICES, required=True
    )
    consent_by = _short(
        _l("Who gave consent?"),
        _l("The person themselves, a family member or their lawyer."),
    )
    referral_consent = _radio(
        _l("May we share your request to get help?"), REFERRAL_CONSENT_CHOICES, required=True
    )
    # 5. What happened, when, where
    what_happened = _long(
        _l("What happened?"),
        _l("Describe the events in order, as precisely as you can."),
        required=True,
    )
    when_happened = _short(_l("When did it happen?"))
    where_happened = _short(_l("Where did it happen?"))
    # 6.–9.
    perpetrators = _long(
        _l("Who is responsible?"),
        _l("If you can: names, titles or positions, and possible motives."),
    )
    context = _long(
        _l("What is the background?"),
        _l("For example the laws used, or the wider situation others should understand."),
    )
    actions_taken = _long(
        _l("What has been done already?"),
        _l("Complaints, court cases, other organisations or UN bodies contacted."),
    )
    wanted_actions = _long(
        _l("What would you like to happen?"),
        _l("For example: a referral to a UN expert, legal help, or keeping it confidential."),
    )
    # Routing fields, visible to the organisation's server
    threats = SelectMultipleField(
        _l("What kind of threat is it?"), choices=_as_choices(vocab.THREATS.items())
    )
    profiles = SelectMultipleField(
        _l("Which of these describe the person at risk?"),
        choices=_as_choices(vocab.PROFILES.items()),
    )
    country = SelectField(_l("Country where it happens"), validate_choice=False)
    languages = SelectMultipleField(_l("Languages you can use with us"), validate_choice=False)
    languages_other = SelectField(_l("Another language"), validate_choice=False)
    attachments = MultipleFileField(_l("Evidence (photos, documents)"))
    website = StringField(_l("Leave this field empty"))

    def __init__(self, formdata: MultiDict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(formdata, **kwargs)
        self.country.choices = _as_choices(
            [("", _l("Choose a country (optional)")), *vocab.country_choices()]
        )
        self.languages.choices = _as_choices(vocab.common_language_choices())
        self.languages_other.choices = _as_choices(
            [("", _l("None")), *vocab.other_language_choices()]
        )

    def validate_country(self, field: SelectField) -> None:
        if field.data and field.data not in vocab.COUNTRY_CODES:
            raise ValidationError(_l("Choose a country from the list."))

    def validate_languages(self, field: SelectMultipleField) -> None:
        if any(code not in vocab.ISO_639_1 for code in field.data or []):
            raise ValidationError(_l("Choose languages from the list."))

    def validate_languages_other(self, field: SelectField) -> None:
        if field.data and field.data not in vocab.ISO_639_1:
            raise ValidationError(_l("Choose a language from the list."))

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(_l("Leave this field empty."))

    def answers(self) -> dict[str, str]:
        """The sealed answers, the same keys and shape as intake.js sends."""
        return {name: str(self[name].data or "") for name in SEALED_FIELDS}

    def chosen_languages(self) -> list[str]:
        chosen = list(dict.fromkeys(self.languages.data or []))
        if self.languages_other.data and self.languages_other.data not in chosen:
            chosen.append(self.languages_other.data)
        return chosen

    def uploaded_files(self) -> list[FileStorage]:
        return [f for f in self.attachments.data or [] if isinstance(f, FileStorage) and f.filename]


class StatusForm(Form):
    code = StringField(
        _l("Your receipt code"),
        [DataRequired(message=_l("Enter your receipt code."))],
        description=_l("For example ABCD-EFGH-JKMN-PQRS-TVWX. Spaces and dashes do not matter."),
    )


class FollowUpForm(Form):
    code = StringField(_l("Your receipt code"), [DataRequired()])
    body = TextAreaField(
        _l("Your message"),
        [DataRequired(message=_l("Write a message.")), Length(max=LONG_MAX)],
        description=_l("It is encrypted for the organisation before it is stored."),
    )
    attachments = MultipleFileField(_l("Add files (optional)"))

    def uploaded_files(self) -> list[FileStorage]:
        return [f for f in self.attachments.data or [] if isinstance(f, FileStorage) and f.filename]
