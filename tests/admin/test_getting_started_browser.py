"""The admin's first steps and key warnings in real Chromium: the "Getting started" list on a
390 px phone and at 1280 px, in English and Chinese, nothing off the side and no axe
violations; a step's link opens where it is done; hiding the list works without a reload
trick. The way back to the key and the kit warning read as well on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake.db import utcnow
from intake.extensions import db
from intake.models import KeyGrant, Role, User
from tests.admin.test_key_custody_pages import make_kit
from tests.builders import OrgKeyPair, make_org_key, make_staff_with_keys, signed_in_context
from tests.public.test_accessibility import assert_accessible, no_horizontal_scroll

pytestmark = pytest.mark.browser


@pytest.fixture
def org(app: Flask) -> OrgKeyPair:
    return make_org_key()


@pytest.fixture
def open_as(browser: Any, app: Flask, live_server: Any) -> Iterator[Any]:
    """open_as(user, width): a page signed in as ``user``."""
    contexts: list[Any] = []

    def open_page(user: User, width: int) -> Any:
        context = signed_in_context(
            browser,
            app,
            live_server.url,
            user,
            viewport={"width": width, "height": 900},
            bypass_csp=True,  # for axe only
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_getting_started_list_fits_and_its_links_lead_where_each_step_is_done(
    live_server: Any, open_as: Any, org: OrgKeyPair, locale: str, width: int
) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="first@example.org")
    page = open_as(admin, width)
    page.goto(f"{live_server.url}/admin/?lang={locale}")
    steps = page.locator("[data-getting-started] [data-step]")
    assert steps.count() == 5
    assert no_horizontal_scroll(page)
    for step in steps.all():
        box = step.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width, box
        assert step.locator("a").is_visible()
    assert_accessible(page, f"/admin/ with its first steps at {width} px ({locale})")
    # Before anything else on the page: the first thing a new admin reads.
    first = page.locator("main h2").first
    assert first.get_attribute("id") == "getting-started-heading"

    page.locator("[data-step='timezone'] a").click()
    page.wait_for_url("**/admin/settings#timezone-form")
    assert page.locator("#timezone-form").is_visible()

    page.goto(f"{live_server.url}/cases/")
    pointer = page.locator("[data-getting-started-pointer]")
    assert pointer.is_visible()
    pointer.locator("a").click()
    page.wait_for_url("**/admin/#getting-started-heading")

    page.locator("[data-hide-getting-started]").click()
    page.wait_for_selector("[data-show-getting-started]")
    assert page.locator("[data-getting-started]").count() == 0


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_the_way_back_to_the_key_and_the_kit_warning_fit_a_phone(
    live_server: Any, open_as: Any, org: OrgKeyPair, locale: str
) -> None:
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="first@example.org")
    other, _ = make_staff_with_keys(Role.ADMIN, org, email="second@example.org")
    make_kit(other, org, confirm=False)  # waiting for its confirmation: no confirmed kit
    page = open_as(admin, 390)
    page.goto(f"{live_server.url}/admin/?lang={locale}")
    warning = page.locator("[data-kit-warning]")
    assert warning.is_visible()
    assert page.locator("[data-kit-waiting]").is_visible()
    assert no_horizontal_scroll(page)
    assert_accessible(page, f"the kit warning at 390 px ({locale})")

    make_kit(other, org)
    db.session.execute(
        sa.update(KeyGrant).where(KeyGrant.user_id == admin.id).values(revoked_at=utcnow())
    )
    db.session.commit()
    page.goto(f"{live_server.url}/admin/keys")
    way_back = page.locator("[data-key-way-back='kit']")
    assert way_back.is_visible()
    link = way_back.locator("[data-recover-link]")
    box = link.bounding_box()
    assert box is not None
    assert box["y"] < 900  # on the first screen of a phone
    assert no_horizontal_scroll(page)
    assert_accessible(page, f"/admin/keys without the key at 390 px ({locale})")
    link.click()
    page.wait_for_url("**/recover")
    assert page.locator("[data-recover]").is_visible()

    page.goto(f"{live_server.url}/cases/")
    assert page.locator("p.no-key [data-recover-link]").is_visible()
    assert no_horizontal_scroll(page)
