import re

import pytest
from flask.testing import FlaskClient


def test_landing_page_is_served_with_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_language_links_keep_the_pages_query(client: FlaskClient) -> None:
    html = client.get("/request?lang=en&draft=1").get_data(as_text=True)
    assert 'href="/request?draft=1&amp;lang=zh_Hant"' in html
    assert "lang=en&amp;lang" not in html


@pytest.mark.parametrize(
    "query", ["endpoint=1", "_method=PUT", "_anchor=x", "_external=1&_scheme=http", "lang=xx"]
)
@pytest.mark.parametrize("path", ["/", "/request", "/status", "/login"])
def test_query_names_that_url_for_knows_cannot_break_a_page(
    client: FlaskClient, path: str, query: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "http://" not in html.split("<main", 1)[0]  # language links stay relative
    assert "#x" not in html


def test_language_links_keep_repeated_parameters(client: FlaskClient) -> None:
    html = client.get("/request?tag=a&tag=b").get_data(as_text=True)
    assert "tag=a&amp;tag=b&amp;lang=zh_Hant" in html


def test_every_page_names_its_icon_and_the_icon_is_served(client: FlaskClient) -> None:
    """Without one, browsers asked for /favicon.ico on every page: a 404 in each console."""
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon\.ico\?v=[0-9a-f]{12}">', page)
    icon = client.get("/static/favicon.ico")
    assert icon.status_code == 200
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
