"""Extract every user-facing string and update each area's gettext catalogue.

Each blueprint area keeps its own catalogue (intake/<area>/translations/<locale>/LC_MESSAGES/
messages.po) and Flask-Babel merges them at run time (intake.i18n.translation_directories).

Which catalogue a string belongs to follows the file it is written in:

- ``intake/<area>/**`` and ``templates/<area>/**`` belong to <area>, when that area has a
  ``translations`` folder;
- everything else (intake/services, intake/models, intake/web.py, templates/base.html,
  templates/errors, worker/ …) is shared by every page, so it goes to the shared catalogue
  ``intake/translations``. translation_directories() sorts it last, so for a message written in
  several places the shared translation is the one a page shows, whichever area it belongs to.

A message used in several areas is in each of their catalogues. An update never loses a
translation that is still needed: a message that is new to a catalogue takes the translation
the running app shows today (the catalogues merged in run-time order), and a translated message
that no longer occurs in its catalogue's area is dropped only when another catalogue of the same
language now carries it or no code uses it any more.

Usage: ``python scripts/extract_translations.py [--root DIR]`` (``make translations-extract``).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("intake", "templates", "worker")  # where user-facing strings are written
SHARED = "shared"  # the area of intake/translations
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
PROJECT = "Refuge"

MessageKey = tuple[str, str | None]


def key_of(message: Message) -> MessageKey:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return msgid, message.context


def is_translated(message: Message) -> bool:
    if not message.id or message.fuzzy or not message.string:
        return False
    return isinstance(message.string, str) or all(message.string)


def translations_dir(root: Path, area: str) -> Path:
    package = root / "intake"
    return package / "translations" if area == SHARED else package / area / "translations"


def catalogue_areas(root: Path) -> list[str]:
    """The areas with a catalogue of their own: intake/<area>/translations exists."""
    package = root / "intake"
    return sorted(path.parent.name for path in package.glob("*/translations") if path.is_dir())


def area_of(path: str, areas: Iterable[str]) -> str:
    parts = Path(path).parts
    if len(parts) > 2 and parts[0] in {"intake", "templates"} and parts[1] in areas:
        return parts[1]
    return SHARED


def extract(root: Path, areas: list[str]) -> dict[str, Catalog]:
    """One template catalogue per area (the shared one included), with source locations."""
    with (root / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    templates = {area: Catalog(project=PROJECT) for area in [*areas, SHARED]}
    for source in SOURCES:
        directory = root / source
        if not directory.is_dir():
            continue
        found = extract_from_dir(
            str(directory),
            method_map,
            options_map,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            path = f"{source}/{Path(filename).as_posix()}"
            templates[area_of(path, areas)].add(
                message, None, [(path, lineno)], auto_comments=comments, context=context
            )
    return templates


def locales_of(root: Path, area: str) -> list[str]:
    directory = translations_dir(root, area)
    return sorted(path.parent.name for path in directory.glob("*/LC_MESSAGES") if path.is_dir())


def read_catalogue(path: Path, locale: str) -> Catalog:
    if path.exists():
        with path.open("rb") as handle:
            return read_po(handle, locale=locale)
    # Areas have their catalogues already (that makes them areas): this is the shared one.
    return Catalog(
        locale=locale,
        project=PROJECT,
        header_comment=f"# {locale}: the strings every page shares (intake/services, "
        "intake/models, templates/base.html …).\n# Updated by scripts/extract_translations.py.",
        fuzzy=False,
    )


def runtime_order(root: Path, areas: list[str]) -> Iterator[str]:
    """Areas in the order Flask-Babel merges them (later ones win): intake.i18n sorts the
    translations folders by path."""
    yield from sorted([*areas, SHARED], key=lambda area: translations_dir(root, area).parts)


def update(root: Path = ROOT) -> dict[Path, Catalog]:
    """Update every catalogue under ``root``; returns them by path, written."""
    areas = catalogue_areas(root)
    templates = extract(root, areas)
    used = {key_of(message) for template in templates.values() for message in template}
    every_locale = sorted({locale for area in areas for locale in locales_of(root, area)})
    locales = {area: locales_of(root, area) for area in areas}
    locales[SHARED] = sorted(set(locales_of(root, SHARED)) | set(every_locale))

    paths: dict[tuple[str, str], Path] = {
        (area, locale): translations_dir(root, area) / locale / "LC_MESSAGES" / "messages.po"
        for area, area_locales in locales.items()
        for locale in area_locales
    }
    catalogues = {place: read_catalogue(path, place[1]) for place, path in paths.items()}

    # What each message shows today, per language: the catalogues merged in run-time order.
    shown: dict[str, dict[MessageKey, Message]] = {}
    for area in runtime_order(root, areas):
        for locale in locales.get(area, []):
            for message in catalogues[area, locale]:
                if is_translated(message):
                    shown.setdefault(locale, {})[key_of(message)] = message.clone()

    for (area, locale), catalogue in catalogues.items():
        # update() adds the template's own Message objects: each catalogue needs its copy.
        catalogue.update(copy.deepcopy(templates[area]), no_fuzzy_matching=True)
        for message in catalogue:
            today = shown.get(locale, {}).get(key_of(message))
            if today is not None and not is_translated(message):
                message.string = today.string

    carried: dict[str, set[MessageKey]] = {}
    for (_area, locale), catalogue in catalogues.items():
        carried.setdefault(locale, set()).update(
            key_of(message) for message in catalogue if is_translated(message)
        )
    for (_area, locale), catalogue in catalogues.items():
        for message in catalogue.obsolete.values():
            key = key_of(message)
            if is_translated(message) and key in used and key not in carried[locale]:
                # Still shown somewhere, but no catalogue of this language has it any more
                # (the area that uses it has no catalogue for this language): keep it here.
                message.locations = []
                catalogue[message.id] = message
                carried[locale].add(key)
        catalogue.obsolete.clear()

    written: dict[Path, Catalog] = {}
    for place, catalogue in catalogues.items():
        if not len(catalogue) and not paths[place].exists():
            continue  # nothing to say in this language yet
        paths[place].parent.mkdir(parents=True, exist_ok=True)
        with paths[place].open("wb") as handle:
            write_po(handle, catalogue, ignore_obsolete=True, include_previous=False)
        written[paths[place]] = catalogue
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder")
    args = parser.parse_args(argv)
    for path, catalogue in update(args.root.resolve()).items():
        missing = sum(1 for message in catalogue if message.id and not is_translated(message))
        where = path.relative_to(args.root.resolve())
        print(f"{where}: {len(catalogue)} messages, {missing} untranslated")  # noqa: T201


if __name__ == "__main__":
    main()
