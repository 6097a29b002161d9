"""A field's label leading its error message, punctuated as the page's language writes it:
"Country: …", French "Pays : …" (a narrow no-break space before the colon), Chinese "国家：…"
(a full-width colon, no space); a label ending in its own question mark takes no colon."""

from __future__ import annotations

import pytest
from flask import Flask

from intake.web import as_lead


@pytest.mark.parametrize(
    ("locale", "label", "lead"),
    [
        ("en", "Country", "Country: "),
        ("en", "What happened?", "What happened? "),
        ("es", "País", "País: "),
        ("fr", "Votre code de reçu", "Votre code de reçu\u202f: "),
        ("fr", "Que s'est-il passé ?", "Que s'est-il passé ? "),
        ("zh_Hans", "您的收据代码", "您的收据代码："),
        ("zh_Hant", "發生了什麼事？", "發生了什麼事？"),
        ("ar", "ماذا حدث؟", "ماذا حدث؟ "),
        ("ru", "Страна", "Страна: "),
    ],
)
def test_a_label_leads_its_message_as_its_language_punctuates(
    app: Flask, locale: str, label: str, lead: str
) -> None:
    with app.test_request_context(f"/request?lang={locale}"):
        assert as_lead(label) == lead
        assert as_lead(label + "  ") == lead  # trailing space in a label is not doubled
