"""Words of the shipped directory that a defender reads in their own language.

The directory (intake/directory/data/directory.json) has English and Chinese names. The UN
mechanisms have official names in every UN language, which are the public pages' languages,
and "Embassies" is a description rather than a name: a Spanish or Arabic page showed them in
English in "If you are in danger now", and so did the places and link labels of their contacts
("Dublin", "contact form"). These few are translated in the catalogues (keyed by the
directory's English text); every other name is an organisation's own and stays as it is.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# The English text in the directory → the same text for translation (the extractor reads the
# literal in _l; the key is what the directory stores).
TRANSLATED: dict[str, LazyString] = {
    "UN Special Rapporteur on the situation of human rights defenders": _l(
        "UN Special Rapporteur on the situation of human rights defenders"
    ),
    "Office of the UN High Commissioner for Human Rights (OHCHR)": _l(
        "Office of the UN High Commissioner for Human Rights (OHCHR)"
    ),
    "Embassies (first 24 hours)": _l("Embassies (first 24 hours)"),
    # FIDH and OMCT's joint programme, which names itself in French and Spanish too.
    "Observatory for the Protection of Human Rights Defenders": _l(
        "Observatory for the Protection of Human Rights Defenders"
    ),
    "UN Working Group on Arbitrary Detention (WGAD)": _l(
        "UN Working Group on Arbitrary Detention (WGAD)"
    ),
    "UN Working Group on Enforced or Involuntary Disappearances (WGEID)": _l(
        "UN Working Group on Enforced or Involuntary Disappearances (WGEID)"
    ),
    "list of embassies worldwide": _l("list of embassies worldwide"),
    # Where a contact answers, and what a link is: "(Dublin)" stayed English on a Spanish page.
    "Dublin": _l("Dublin"),
    "Brussels": _l("Brussels"),
    "London": _l("London"),
    "New York": _l("New York"),
    "Hong Kong": _l("Hong Kong"),
    "Geneva": _l("Geneva"),
    "Geneva, Switzerland": _l("Geneva, Switzerland"),
    "Africa": _l("Africa"),
    "Latin America": _l("Latin America"),
    "Asia-Pacific": _l("Asia-Pacific"),
    "Global": _l("Global"),
    "contact form": _l("contact form"),
    "instructions": _l("instructions"),
    "Tor Browser only": _l("Tor Browser only"),
    "Guide to submitting complaints": _l("Guide to submitting complaints"),
    "UN Declaration on Human Rights Defenders": _l("UN Declaration on Human Rights Defenders"),
    "Universal Declaration of Human Rights": _l("Universal Declaration of Human Rights"),
    "International human rights law": _l("International human rights law"),
    "Inter-American Commission": _l("Inter-American Commission"),
    "Inter-American Court": _l("Inter-American Court"),
}


def in_reader_language(text: str) -> str:
    """``text`` translated where it is one of :data:`TRANSLATED`, else as it is."""
    translated = TRANSLATED.get(text)
    return str(translated) if translated is not None else text
