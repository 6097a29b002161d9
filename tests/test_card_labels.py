"""On a phone a table row becomes a card whose cells say what they are: each cell's
``data-label`` is drawn before its text by CSS ("Assigned to: ", "負責人："). Whitespace the
template leaves at the start of such a cell is drawn too: after the full-width colon it showed
as a gap ("負責人：  admin"; a review in Chromium)."""

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from intake.models import ReferralKind, Role
from tests.builders import make_case, make_entry, make_org_key, make_staff_with_keys, sign_in

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# A labelled cell whose text begins on the next line with a tag that keeps the line's spaces.
SPACED = re.compile(r'<td [^>]*data-label="[^"]*">\n\s*(?!\{%-|\{#|</td>|<)(\S+)')


def test_no_labelled_cell_starts_with_a_space() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(1)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in SPACED.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_no_rendered_card_cell_starts_with_a_space(app: Flask, client: FlaskClient) -> None:
    """The template check above cannot see a cell filled by a macro: /referrals' due date (a
    macro) still began with a line break, drawn as "到期： 2026年8月18日" (a review)."""
    from intake.services import referrals

    org = make_org_key()
    admin, _ = make_staff_with_keys(Role.ADMIN, org, email="admin@example.org")
    make_entry("test-ngo")
    case = make_case(org)
    referrals.transition(
        referrals.create(case.id, "test-ngo", ReferralKind.NGO_REFERRAL, admin).id, "send", admin
    )
    referrals.create(make_case(org).id, "test-ngo", ReferralKind.FOLLOW_UP, admin)  # no clock
    sign_in(client, admin)
    for path in ("/referrals/?view=all", "/cases/?view=all", "/admin/users", "/admin/reminders"):
        page = client.get(f"{path}{'&' if '?' in path else '?'}lang=zh_Hans").get_data(as_text=True)
        assert 'data-label="' in page or path == "/admin/reminders", path
        spaced = re.findall(r'data-label="[^"]*">(\s+\S{0,20})', page)
        assert spaced == [], (path, spaced)
