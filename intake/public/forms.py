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
from functools import cache
from typing import Any

from babel.lists import format_list
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    Field,
    Form,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Optional,
    StopValidation,
    ValidationError,
)

from intake import crypto, vocab
from intake.forms import page_wtforms_messages
from intake.i18n import sentences
from intake.labels import (
    CONSENT_CHOICES,
    QUESTIONS,
    REFERRAL_CONSENT_CHOICES,
    SEALED_FIELDS,
    SENDER_ROLES,
    YES_NO_UNSURE,
)

SHORT_MAX = 300
LONG_MAX = 8000

ROUTING_FIELDS = ("urgency", "threats", "profiles", "country", "languages", "languages_other")
HONEYPOT_FIELD = "website"


def _asked(name: str) -> tuple[Any, Any]:
    """(label, description) of the question ``name``, worded in intake.labels."""
    label, *description = QUESTIONS[name]
    return label, description[0] if description else ""


def one_line_break(text: str | None) -> str | None:
    """``text`` with each line break as one LF. Browsers post a textarea's line breaks as CRLF
    but count them (``maxlength``, ``value.length``) and seal them as one character: read as
    posted, a story that fits would be refused for characters the person cannot see."""
    if text is None:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


class AnswerLength:
    """At most ``max`` characters (Unicode code points, a line break one, as intake.js counts
    them), with Refuge's own message in the page's language: how long it may be and how long
    it is, so that the person knows how much to cut. Never cuts anything itself.

    It goes first in a field's chain and stops it: ``Optional`` would otherwise let an answer
    of nothing but spaces through at any length (and clear this error)."""

    def __init__(  # noqa: A002 — max, as Length
        self, max: int, message: Any = None, then: Any = None
    ) -> None:
        self.max = max
        # Said of what the field is (a message is no answer), with %(max)s and %(count)s.
        self.message = message or TOO_LONG
        # A sentence after it, if any: where the rest can go (REST_LATER).
        self.then = then

    def __call__(self, form: Form, field: Field) -> None:
        count = len(field.data or "")
        if count > self.max:
            said = str(self.message) % {"max": self.max, "count": count}
            raise StopValidation(sentences(said, self.then or ""))


TOO_LONG = _l("Please shorten this answer to %(max)s characters or fewer (it has %(count)s).")
# After TOO_LONG for an account (a long answer): cut with no word on where the rest can go, a
# defender leaves out what matters. /status takes follow-up messages and files.
REST_LATER = _l(
    "You can send the rest after you send your request: from the status page, with your "
    "receipt code, as a message or a file."
)
MESSAGE_TOO_LONG = _l(
    "Please shorten your message to %(max)s characters or fewer (it has %(count)s)."
)


def answer_limit(field: Field) -> int | None:
    """The most characters ``field`` takes (its AnswerLength), for the page's counter."""
    for validator in field.validators:
        if isinstance(validator, AnswerLength):
            return validator.max
    return None


def answer_limit_then(field: Field) -> str:
    """What ``field`` says after its too-long message (where the rest can go), or "", so that
    answer-length.js says what the server says."""
    for validator in field.validators:
        if isinstance(validator, AnswerLength):
            return str(validator.then or "")
    return ""


def _short(name: str) -> StringField:
    label, description = _asked(name)
    return StringField(
        label,
        [AnswerLength(SHORT_MAX), Optional()],
        filters=[one_line_break],
        description=description,
    )


def _long(name: str, required: bool = False) -> TextAreaField:
    label, description = _asked(name)
    first = DataRequired(message=_l("Please answer this question.")) if required else Optional()
    return TextAreaField(
        label,
        [AnswerLength(LONG_MAX, then=REST_LATER), first],
        filters=[one_line_break],
        description=description,
    )


def _radio(name: str, choices: dict[str, Any], required: bool = False) -> RadioField:
    label, description = _asked(name)
    first = InputRequired(message=_l("Please choose an answer.")) if required else Optional()
    return RadioField(
        label,
        [first],
        choices=_as_choices(choices.items()),
        validate_choice=True,
        description=description,
    )


def _as_choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (plain tuples are deprecated from WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


def required_message(field: Field) -> str:
    """What the server answers when ``field`` is left empty, for a field its validators make
    required: the form's markup carries it (``data-required``) so that the browser checks each
    step by the same rule and says the same thing, in the page's language."""
    for validator in field.validators:
        if isinstance(validator, DataRequired | InputRequired) and validator.message:
            return str(validator.message)
    return str(field.gettext("This field is required."))


class PublicForm(Form):
    """A public form whose WTForms' own messages (a choice not offered, a required field) are
    in the page's language, from the translations WTForms ships.

    These forms are plain ``wtforms.Form`` (CSRF is checked in the view), so Flask-WTF's
    ``WTF_I18N_ENABLED`` does not reach them: the locale is bound here, per request."""

    class Meta:
        def get_translations(self, form: Form) -> Any:
            return page_wtforms_messages()


@cache
def _country_and_language_choices(
    locale: str,
) -> tuple[list[SelectChoice], list[SelectChoice], list[SelectChoice]]:
    """The form's country, common-language and other-language choices in the reader's
    language (``locale``, which the vocab lists read too), made once per language and process:
    ~430 choices built again for every form were a tenth of a no-JavaScript submission. The
    lists are shared by every form of that language; nothing changes them."""
    return (
        _as_choices([("", _l("Choose a country (optional)")), *vocab.country_choices()]),
        _as_choices(vocab.common_language_choices()),
        _as_choices([("", _l("None")), *vocab.other_language_choices()]),
    )


class IntakeForm(PublicForm):
    # In the order the page asks them (the steps of templates/public/request.html), which is
    # the order its error summary lists them in; labels.SEALED_FIELDS keeps the questionnaire's.
    # 1. What happened (with how urgent, and who is sending and how to reach them safely)
    what_happened = _long(
        "what_happened",
        required=True,
    )
    urgency = RadioField(
        _asked("urgency")[0],
        [InputRequired(message=_l("Please choose how urgent it is."))],
        choices=_as_choices(vocab.URGENCIES.items()),
        validate_choice=True,
    )
    urgency_reason = _long("urgency_reason")
    sender_contact = _long("sender_contact")
    safe_to_contact = _radio("safe_to_contact", YES_NO_UNSURE)
    safe_contact_notes = _long("safe_contact_notes")
    sender_name = _short("sender_name")
    sender_role = _radio("sender_role", SENDER_ROLES)
    sender_organisation = _short("sender_organisation")
    # 2. Who is at risk, and consent
    consent = _radio("consent", CONSENT_CHOICES, required=True)
    consent_by = _short("consent_by")
    referral_consent = _radio("referral_consent", REFERRAL_CONSENT_CHOICES, required=True)
    victim_name = _short("victim_name")
    victim_age = _short("victim_age")
    victim_gender = _short("victim_gender")
    victim_origin = _short("victim_origin")
    victim_residence = _short("victim_residence")
    other_victims = _long("other_victims")
    others_at_risk = _long("others_at_risk")
    reprisal_concerns = _long("reprisal_concerns")
    # 3. Details for a UN submission
    when_happened = _short("when_happened")
    where_happened = _short("where_happened")
    perpetrators = _long("perpetrators")
    context = _long("context")
    actions_taken = _long("actions_taken")
    wanted_actions = _long("wanted_actions")
    # 4. Evidence, and the routing fields (visible to the organisation's server)
    attachments = MultipleFileField(
        _asked("attachments")[0],
    )
    threats = SelectMultipleField(_asked("threats")[0], choices=_as_choices(vocab.THREATS.items()))
    profiles = SelectMultipleField(
        _asked("profiles")[0],
        choices=_as_choices(vocab.PROFILES.items()),
    )
    country = SelectField(_asked("country")[0], validate_choice=False)
    languages = SelectMultipleField(_asked("languages")[0], validate_choice=False)
    languages_other = SelectField(_asked("languages_other")[0], validate_choice=False)
    # The honeypot (hidden from people)
    website = StringField(
        _asked("website")[0],
    )
    # One per filled form: the same request sent again is filed once (services.submissions).
    submission_token = HiddenField(default=crypto.new_submission_token)

    def __init__(self, formdata: MultiDict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(formdata, **kwargs)
        countries, common, others = _country_and_language_choices(str(get_locale() or "en"))
        self.country.choices = countries
        self.languages.choices = common
        self.languages_other.choices = others

    def validate_country(self, field: SelectField) -> None:
        if field.data and field.data not in vocab.ISO_COUNTRIES:
            raise ValidationError(_l("Choose a country from the list."))

    def validate_languages(self, field: SelectMultipleField) -> None:
        if any(code not in vocab.language_codes() for code in field.data or []):
            raise ValidationError(_l("Choose languages from the list."))

    def validate_languages_other(self, field: SelectField) -> None:
        if field.data and field.data not in vocab.language_codes():
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


class ReceiptCodeLength:
    """A code with too few or too many characters is said to be so, with how many it has and
    how many a code has: "no request has this code" sent a person who had copied half of it
    to check characters that were right. Counted as crypto.normalise_receipt_code reads a
    code (spaces and dashes do not count). Nothing is looked up, so the attempt does not count
    against the /status limit: a mistyped code is not a guess."""

    def __call__(self, form: Form, field: Field) -> None:
        count = len(crypto.receipt_code_characters(field.data or ""))
        length = crypto.RECEIPT_GROUPS * crypto.RECEIPT_GROUP_LENGTH
        if count != length:
            raise ValidationError(
                ngettext(
                    "You entered %(num)d character. Receipt codes have %(length)d characters "
                    "in %(groups)d groups of %(size)d (spaces and dashes do not count).",
                    "You entered %(num)d characters. Receipt codes have %(length)d characters "
                    "in %(groups)d groups of %(size)d (spaces and dashes do not count).",
                    count,
                    length=length,
                    groups=crypto.RECEIPT_GROUPS,
                    size=crypto.RECEIPT_GROUP_LENGTH,
                )
            )


class ReceiptCodeCharacters:
    """A code with a character no code has is said to be so, naming it: "no request has this
    code" left a person checking characters that were right (a U typed for a V, a letter of
    another alphabet that does not look like any of a code's)."""

    def __call__(self, form: Form, field: Field) -> None:
        strangers = crypto.receipt_code_strangers(field.data or "")
        if strangers:
            # Each quoted as the language quotes, isolated (an Arabic page scrambled “Ж” ”U”
            # joined by a bare space), and listed with the language's "or".
            locale = str(get_locale() or "en")
            opening, closing = _QUOTES.get(locale, _QUOTES["en"])
            quoted = [f"{opening}\u2068{ch}\u2069{closing}" for ch in strangers]
            raise ValidationError(
                gettext(
                    "A receipt code never has %(characters)s. Check those characters against "
                    "your receipt.",
                    characters=format_list(quoted, style="or", locale=locale),
                )
            )


# Quotation marks around a character named in a message, as each public language sets them.
_QUOTES = {
    "en": ("“", "”"),
    "es": ("«", "»"),
    "fr": ("«\u202f", "\u202f»"),
    "ru": ("«", "»"),
    "ar": ("«", "»"),
    "zh_Hant": ("「", "」"),
    "zh_Hans": ("“", "”"),
}


class StatusForm(PublicForm):
    # Set by status-code.js: this browser opens the messages itself (see _render_status).
    browser_opens = HiddenField()
    code = StringField(
        _l("Your receipt code"),
        [
            DataRequired(message=_l("Enter your receipt code.")),
            ReceiptCodeLength(),
            ReceiptCodeCharacters(),
        ],
        description=_l("For example ABCD-EFGH-JKMN-PQRS-TVWX. Spaces and dashes do not matter."),
    )


NOTHING_TO_SEND = _l("Write a message or add a file.")


class FollowUpForm(PublicForm):
    browser_opens = HiddenField()
    code = StringField(_l("Your receipt code"), [DataRequired()])
    # A message, files, or both: a photo of a summons may say all there is to say.
    body = TextAreaField(
        _l("Your message"),
        [AnswerLength(LONG_MAX, MESSAGE_TOO_LONG)],
        filters=[one_line_break],
        description=_l("It is encrypted for the organisation before it is stored."),
    )
    attachments = MultipleFileField(_l("Add files (optional)"))
    # One per written message: the same follow-up sent again is stored once (a form shown
    # again keeps it; the form after a message was sent has a new one).
    submission_token = HiddenField(default=crypto.new_submission_token)

    def uploaded_files(self) -> list[FileStorage]:
        return [f for f in self.attachments.data or [] if isinstance(f, FileStorage) and f.filename]

    def validate_body(self, field: TextAreaField) -> None:
        if not (field.data or "").strip() and not self.uploaded_files():
            raise ValidationError(NOTHING_TO_SEND)
