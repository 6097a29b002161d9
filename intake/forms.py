"""Forms every area uses, and the language of WTForms' own messages."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form
from wtforms.i18n import get_translations as wtforms_translations

from intake.i18n import DIRECTION_CONTROLS

# WTForms names its catalogues by language: "zh" is Simplified, "zh_TW" Traditional. Looked up
# by our locale, zh_Hant found "zh" and staff pages in Traditional script said "该字段是必填字段".
_WTFORMS_LOCALES = {"zh_Hans": "zh", "zh_Hant": "zh_TW"}


@cache
def wtforms_messages(locale: str) -> Any:
    """The translations WTForms ships, for one of our locales (English where it has none)."""
    return wtforms_translations([_WTFORMS_LOCALES.get(locale, locale), "en"])


def page_wtforms_messages() -> Any:
    """:func:`wtforms_messages` in this page's language."""
    return wtforms_messages(str(get_locale() or "en"))


class StaffForm(FlaskForm):
    """A staff form (Flask-WTF: CSRF in the form) whose WTForms messages ("This field is
    required.", a choice not offered) are in the page's language and script; text typed into
    it may not hold ``i18n.DIRECTION_CONTROLS`` (said beside the field)."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Form) -> Any:
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return page_wtforms_messages()

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and DIRECTION_CONTROLS.search(field.data):
                field.errors = [
                    *field.errors,
                    _l(
                        "This holds an invisible character that reverses the text after it."
                        " Type it again without it."
                    ),
                ]
                valid = False
        return valid


class EmptyForm(StaffForm):
    """A button that changes something: only the CSRF token."""
