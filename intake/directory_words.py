"""Words of the shipped directory that a defender reads in their own language.

The directory (intake/directory/data/directory.json) has English and Chinese names. The UN
mechanisms have official names in every UN language, which are the public pages' languages,
and "Embassies" is a description rather than a name: a Spanish or Arabic page showed them in
English in "If you are in danger now", and so did the places and link labels of their contacts
("Dublin", "contact form"). These few are translated in the catalogues (keyed by the
directory's English text); every other name is an organisation's own and stays as it is.
"""

from __future__ import annotations

from flask_babel import gettext
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


def N_(text: str) -> str:  # noqa: N802  (gettext's name for "mark, translate later")
    return text


# The shipped entries' conditions, shown to caseworkers on the case page (triage's caveats)
# and on the entry's page: Chinese staff read them in English (a review). Translated when
# shown; an admin's own condition text is shown as written.
CONDITION_TEXTS = frozenset(
    {
        N_("Freelance journalists and their families only."),
        N_("Health information only; does not take individual cases."),
        N_("Journalists and media workers only."),
        N_(
            "Aid organisations and their staff; a forum for security risk management, not an "
            "emergency service."
        ),
        N_("Grants to local human rights groups; not an emergency service for individuals."),
        N_("Training and advice on UN and regional mechanisms; does not take urgent appeals."),
        N_("Women, trans and non-binary defenders."),
        N_("Brokers pro bono lawyers for organisations, not for individual emergencies."),
        N_("Long-term legal assistance projects with organisations and governments."),
        N_(
            "Pro bono legal help for social enterprises and civil-society organisations, through "
            "member law firms."
        ),
        N_("Builds public-interest law practice; may connect lawyers, not an emergency service."),
        N_(
            "Submissions in English, French or Spanish; the government has 60 days to reply to a "
            "communication (48 hours for draft legislation)."
        ),
        N_(
            "Individuals and organisations may apply only after all domestic remedies have been "
            "exhausted."
        ),
        N_(
            "Applications against Council of Europe member states; can order urgent interim "
            "measures (Rule 39)."
        ),
        N_(
            "Only states parties, the UN Security Council or the Prosecutor can bring a situation; "
            "it tries individuals accused of genocide, crimes against humanity and war crimes. "
            "Never a referral for an individual at risk."
        ),
        N_("Advised when life or liberty is at risk now."),
        N_("Only for people deprived of their liberty."),
        N_(
            "Submissions from the person concerned, their family or representatives (lawyers, "
            "NGOs); in English, French or Spanish. Meets in March/April, August/September and "
            "November."
        ),
        N_("Only for enforced or involuntary disappearances."),
        N_(
            "Submissions from family members or representatives (lawyers, NGOs); in English, French"
            " or Spanish. Meets in February, May and September."
        ),
        N_("Only for intimidation or reprisals for cooperating with the UN."),
        N_(
            "For the annual report, send by 15 April information on events between 1 May and 30 "
            "April; other secure channels on request."
        ),
    }
)


def in_reader_language(text: str) -> str:
    """``text`` translated where it is one of :data:`TRANSLATED` or :data:`CONDITION_TEXTS`,
    else as it is."""
    if text in CONDITION_TEXTS:
        return gettext(text)
    translated = TRANSLATED.get(text)
    return str(translated) if translated is not None else text
