"""The queue's country filter as ``<option>`` HTML, built once per language.

About 250 countries: through the template, every page view escaped and compared each one
(a fifth of the queue's rendering). The names are CLDR's, fixed while the process runs; they
are escaped here as the template would, once.
"""

from __future__ import annotations

from functools import cache

from flask_babel import get_locale
from markupsafe import Markup

from intake import vocab

_OPTION = Markup('<option value="{}">{}</option>')


@cache
def _country_options(locale: str) -> Markup:
    # Called with the request's own locale, the one vocab.country_choices() reads.
    return Markup("\n").join(_OPTION.format(code, name) for code, name in vocab.country_choices())


def country_options(selected: str | None) -> Markup:
    """Every country as an option, by name in the reader's language; ``selected`` (a code
    from the vocabulary, checked by parse_filters) marked so."""
    options = _country_options(str(get_locale() or "en"))
    if not selected:
        return options
    plain = Markup('<option value="{}">').format(selected)
    return options.replace(plain, Markup('<option value="{}" selected>').format(selected), 1)
