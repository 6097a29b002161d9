"""scripts/extract_translations.py on a small copy of the layout: each string lands in the
catalogue of the area that writes it, and no translation that is still shown is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "extract_translations.py"
ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def catalogue(root: Path, folder: str, locale: str) -> Catalog:
    path = root / folder / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def po(entries: dict[str, str]) -> str:
    body = "".join(f'msgid "{msgid}"\nmsgstr "{msgstr}"\n\n' for msgid, msgstr in entries.items())
    return 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n' + body


def test_each_string_lands_in_its_areas_catalogue_and_no_shown_translation_is_lost(
    tmp_path: Path,
) -> None:
    write(tmp_path / "babel.cfg", (ROOT / "babel.cfg").read_text(encoding="utf-8"))
    write(
        tmp_path / "intake" / "cases" / "routes.py",
        "from flask_babel import gettext as _\n\n\n"
        "def view() -> str:\n"
        '    return _("Kept as it was") + _("A brand new string")\n',
    )
    write(tmp_path / "templates" / "cases" / "detail.html", '<p>{{ _("Said on the page") }}</p>\n')
    write(
        tmp_path / "intake" / "services" / "rules.py",
        "from flask_babel import lazy_gettext as _l\n\n"
        'SHARED = _l("Written once for every page")\n'
        'ALSO_IN_CASES = _l("Kept as it was")\n',
    )
    write(tmp_path / "intake" / "public" / "forms.py", "")
    write(
        tmp_path / "intake" / "cases" / "translations" / "zh_Hant" / "LC_MESSAGES" / "messages.po",
        po({"Kept as it was": "保持原樣", "No code says this any more": "已無程式使用"}),
    )
    # Today only the public catalogue translates the shared string, and only public has
    # Simplified Chinese: a page of the cases area shows its zh_Hans translation from there.
    write(
        tmp_path / "intake" / "public" / "translations" / "zh_Hant" / "LC_MESSAGES" / "messages.po",
        po({"Written once for every page": "每頁共用"}),
    )
    write(
        tmp_path / "intake" / "public" / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po",
        po({"Said on the page": "页面上的话"}),
    )

    subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )

    cases = catalogue(tmp_path, "intake/cases", "zh_Hant")
    new = cases.get("A brand new string")
    assert new is not None
    assert new.string == ""
    assert new.locations == [("intake/cases/routes.py", 5)]
    page = cases.get("Said on the page")
    assert page is not None
    assert page.locations == [("templates/cases/detail.html", 1)]
    kept = cases.get("Kept as it was")
    assert kept is not None
    assert kept.string == "保持原樣"
    assert cases.get("No code says this any more") is None
    assert not cases.obsolete

    shared = catalogue(tmp_path, "intake", "zh_Hant")
    moved = shared.get("Written once for every page")
    assert moved is not None
    assert moved.string == "每頁共用"  # carried over from the public catalogue
    assert moved.locations == [("intake/services/rules.py", 3)]
    also = shared.get("Kept as it was")
    assert also is not None
    assert also.string == "保持原樣"
    public = catalogue(tmp_path, "intake/public", "zh_Hant")
    assert public.get("Written once for every page") is None  # no public code writes it

    # cases has no zh_Hans catalogue: the translation stays where the merged lookup finds it.
    simplified = catalogue(tmp_path, "intake/public", "zh_Hans").get("Said on the page")
    assert simplified is not None
    assert simplified.string == "页面上的话"
