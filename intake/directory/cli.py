"""`flask directory import|export` and `flask triage` (DESIGN §7)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from intake.services import directory as directory_service
from intake.services.directory import DirectoryImportError, ImportSummary
from intake.services.triage import Routing, RoutingError, TriageEntry, rank

directory_cli = AppGroup("directory", help="Import and export the emergency-resource directory.")

MAX_STDIN_BYTES = 64 * 1024


def _print_summary(summary: ImportSummary) -> None:
    click.echo(
        f"Imported {summary.total} entries from {summary.source}: "
        f"{len(summary.created)} created, {len(summary.updated)} updated, "
        f"{len(summary.unchanged)} unchanged, {len(summary.kept)} kept (newer in database)."
    )
    for warning in summary.warnings:
        click.echo(f"  {warning}")
    if summary.warnings:
        click.echo(
            f"{len(summary.warnings)} warning(s): the text above could not be mapped to "
            "the controlled vocabularies; edit those entries on /directory."
        )


@directory_cli.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--shipped",
    is_flag=True,
    help="Load the directory shipped with Refuge (the default without PATH).",
)
@click.option(
    "--force",
    is_flag=True,
    help="JSON only: overwrite entries even if the database copy was verified later.",
)
def import_command(path: Path | None, shipped: bool, force: bool) -> None:
    """Import Umbrella Markdown or Refuge JSON from PATH; without PATH, the shipped data."""
    if path is not None and shipped:
        raise click.UsageError("give either PATH or --shipped, not both")
    try:
        if path is None:
            summary = directory_service.import_shipped(force=force)
        else:
            summary = directory_service.import_path(path, force=force)
    except DirectoryImportError as error:
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(
            "nothing was imported: the input has the problems above"
        ) from error
    _print_summary(summary)


@directory_cli.command("export")
def export_command() -> None:
    """Print every directory entry (retired ones too) as JSON."""
    click.echo(json.dumps(directory_service.export_all(), ensure_ascii=False, indent=2))


@click.command("triage")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=None, help="At most this many suggestions."
)
def triage_command(limit: int | None) -> None:
    """Rank directory entries for routing JSON read on stdin.

    Input: {"threats": [...], "profiles": [...], "country": "MX", "languages": ["es"],
    "urgency": "immediate"}. Output: [{"id", "name", "score", "reasons", "caveats"}, ...].
    """
    raw = sys.stdin.read(MAX_STDIN_BYTES + 1)
    if len(raw) > MAX_STDIN_BYTES:
        raise click.ClickException("routing input is too large")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"routing input is not valid JSON: {error.msg}") from error
    try:
        request = Routing.from_mapping(data)
    except RoutingError as error:
        raise click.ClickException(str(error)) from error
    entries = [TriageEntry.of(entry) for entry in directory_service.active_entries()]
    suggestions = rank(request, entries, limit=limit)
    click.echo(json.dumps([s.as_dict() for s in suggestions], ensure_ascii=False, indent=2))
