"""The few directory names a defender reads in their own language (intake/directory_words.py):
the UN's official names, and the FIDH–OMCT Observatory, which stayed English on the Spanish,
French, Russian and Arabic pages of "If you are in danger now"."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import refresh

from intake import vocab
from intake.extensions import db
from intake.models import DirectoryEntry
from intake.services.directory import import_shipped


@pytest.mark.parametrize(
    ("locale", "name"),
    [
        ("es", "Observatorio para la Protección de los Defensores de Derechos Humanos"),
        ("fr", "Observatoire pour la protection des défenseurs des droits humains"),
        ("ru", "Обсерватория по защите правозащитников"),
        ("ar", "المرصد لحماية المدافعين عن حقوق الإنسان"),
        ("zh_Hant", "保護人權維護者觀察站"),
        ("en", "Observatory for the Protection of Human Rights Defenders"),
    ],
)
def test_the_observatory_is_named_in_the_readers_language(
    app: Flask, locale: str, name: str
) -> None:
    import_shipped()
    entry = db.session.get_one(DirectoryEntry, "omct-observatory")
    with app.test_request_context(f"/request?lang={locale}"):
        refresh()
        assert vocab.entry_name(entry) == name
