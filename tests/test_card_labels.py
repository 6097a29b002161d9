"""On a phone a table row becomes a card whose cells say what they are: each cell's
``data-label`` is drawn before its text by CSS ("Assigned to: ", "負責人："). Whitespace the
template leaves at the start of such a cell is drawn too: after the full-width colon it showed
as a gap ("負責人：  admin"; a review in Chromium)."""

import re
from pathlib import Path

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
