"""What the landing page says the server holds must be true with JavaScript off too."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.builders import make_org_key


@pytest.mark.parametrize("locale", ["en", "es", "fr", "ru", "ar", "zh_Hant", "zh_Hans"])
def test_the_landing_page_does_not_say_the_server_sees_only_the_routing_facts(
    client: FlaskClient, locale: str
) -> None:
    """Without JavaScript the server receives the answers and seals them (the note says so):
    "only … is visible to our server" was then untrue (a new-organisation review). What the
    server keeps readable is the routing facts, whichever way the answers were sealed."""
    make_org_key()
    page = client.get(f"/?lang={locale}").get_data(as_text=True)
    claims = {
        "en": ("is visible to our server", "kept readable on our server"),
        "es": ("Nuestro servidor solo ve", "solo guarda legible"),
        "fr": ("Notre serveur ne voit que", "ne garde lisible que"),
        "ru": ("Наш сервер видит только", "хранит в читаемом виде"),
        "ar": ("لا يرى خادمنا", "لا يحفظ خادمنا بشكل مقروء"),
        "zh_Hant": ("只看得到尋求協助", "只以可讀形式保存"),
        "zh_Hans": ("只看得到寻求协助", "只以可读形式保存"),
    }
    untrue, said = claims[locale]
    assert untrue not in page
    assert said in page
