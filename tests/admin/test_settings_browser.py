"""Organisation settings in real Chromium: two forms, each with its own Save. A review typed
the public details, pressed the time zone's Save, and the details came back empty without a
word (and the other way round). What is typed in one is now kept while the other is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from intake.extensions import db
from intake.models import Role, User
from intake.services import settings as org_settings
from tests.builders import make_org_key, make_staff_with_keys, signed_in_context

pytestmark = pytest.mark.browser


@pytest.fixture
def admin(app: Flask) -> User:
    user, _ = make_staff_with_keys(Role.ADMIN, make_org_key(), email="admin@example.org")
    db.session.commit()
    return user


@pytest.fixture
def page(browser: Any, app: Flask, live_server: Any, admin: User) -> Iterator[Any]:
    context = signed_in_context(
        browser, app, live_server.url, admin, viewport={"width": 390, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/settings")
    yield page
    context.close()


def test_saving_the_time_zone_keeps_the_public_details_typed_and_says_they_are_unsaved(
    app: Flask, page: Any
) -> None:
    page.fill("#org_name", "Taipei Defenders Desk")
    page.fill("#org_description", "We answer within a day.")
    page.select_option("#timezone", "Asia/Taipei")
    page.get_by_role("button", name="Save the time zone").click()
    page.wait_for_selector(".flash-success")
    db.session.expire_all()
    assert org_settings.timezone_name() == "Asia/Taipei"
    assert org_settings.org_profile().name != "Taipei Defenders Desk"  # not saved by that
    assert page.input_value("#org_name") == "Taipei Defenders Desk"
    assert page.input_value("#org_description") == "We answer within a day."
    notice = page.locator("#profile-form [data-unsaved-notice]")
    assert "not saved yet" in notice.inner_text()
    assert page.locator("#timezone-form [data-unsaved-notice]").count() == 0
    page.get_by_role("button", name="Save the public details").click()
    page.wait_for_selector(".flash-success")
    db.session.expire_all()
    assert org_settings.org_profile().name == "Taipei Defenders Desk"
    assert org_settings.timezone_name() == "Asia/Taipei"
    assert page.locator("[data-unsaved-notice]").count() == 0  # kept once, then forgotten
    page.reload()
    assert page.locator("[data-unsaved-notice]").count() == 0


def test_saving_the_public_details_keeps_a_time_zone_chosen_but_not_saved(
    app: Flask, page: Any
) -> None:
    page.select_option("#timezone", "Europe/Paris")
    page.fill("#org_name", "Refuge Paris")
    page.get_by_role("button", name="Save the public details").click()
    page.wait_for_selector(".flash-success")
    db.session.expire_all()
    assert org_settings.org_profile().name == "Refuge Paris"
    assert org_settings.timezone_name() != "Europe/Paris"
    assert page.input_value("#timezone") == "Europe/Paris"
    assert page.locator("#timezone-form [data-unsaved-notice]").is_visible()
    assert page.input_value("#org_name") == "Refuge Paris"  # as saved


def test_a_refused_save_keeps_the_other_part_and_its_own_typing_and_sign_out_forgets(
    app: Flask, page: Any
) -> None:
    """A review of the first version: the refusal answers at /admin/settings/profile, where
    drafts kept by address were not found, and an old draft came back later over a saved
    choice; drafts also outlived signing out."""
    page.select_option("#timezone", "Asia/Taipei")
    page.fill("#org_name", "Taipei Desk")
    page.fill("#org_onion", "javascript:alert(1)")  # refused
    page.get_by_role("button", name="Save the public details").click()
    page.wait_for_selector("#org_onion-error")
    assert page.url.endswith("/admin/settings/profile")
    assert page.input_value("#timezone") == "Asia/Taipei"  # kept across the refusal
    assert page.locator("#timezone-form [data-unsaved-notice]").is_visible()
    # Saving the time zone from there keeps what was typed (and refused) in the other part.
    page.get_by_role("button", name="Save the time zone").click()
    page.wait_for_selector(".flash-success")
    db.session.expire_all()
    assert org_settings.timezone_name() == "Asia/Taipei"
    assert page.input_value("#timezone") == "Asia/Taipei"
    assert page.locator("#timezone-form [data-unsaved-notice]").count() == 0
    assert page.input_value("#org_name") == "Taipei Desk"
    assert page.input_value("#org_onion") == "javascript:alert(1)"
    assert page.locator("#profile-form [data-unsaved-notice]").is_visible()
    # Typed again and left by another form (signing out): nothing is kept for the next person.
    page.fill("#org_name", "Someone else's draft")
    page.select_option("#timezone", "Europe/Paris")
    page.locator("form[action$='/logout'] button").first.click()
    page.wait_for_load_state()
    kept = page.evaluate(
        "Object.keys(window.sessionStorage).filter(k => k.startsWith('refuge.unsaved:'))"
    )
    assert kept == []
