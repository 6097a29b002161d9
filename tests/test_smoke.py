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
