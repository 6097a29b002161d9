"""Directory pages: list with search and filters, entry detail, admin create/edit/retire."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake import collation, vocab
from intake.auth.access import ADMINS, STAFF, role_required
from intake.directory import bp
from intake.directory.forms import ConfirmForm, EntryForm
from intake.extensions import db
from intake.labels import KIND_LABELS
from intake.models import AWAITING, DirectoryEntry, Referral, Role
from intake.services import directory as directory_service

PER_PAGE = 20
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass
class Filters:
    q: str
    region: str
    threat: str
    language: str
    urgent: bool
    retired: bool
    page: int

    @classmethod
    def from_args(cls, args: Any, is_admin: bool) -> Filters:
        def pick(name: str, allowed: Any) -> str:
            value = args.get(name, "", type=str)[:64]
            return value if value in allowed else ""

        try:
            page = max(1, min(int(args.get("page", "1")), 100000))
        except ValueError:
            page = 1
        return cls(
            q=args.get("q", "", type=str).strip()[:100],
            region=pick("region", vocab.REGIONS),
            threat=pick("threat", vocab.THREATS),
            language=pick("language", vocab.language_codes()),
            urgent=args.get("urgent") == "1",
            retired=is_admin and args.get("retired") == "1",
            page=page,
        )

    def query_args(self, **override: Any) -> dict[str, Any]:
        values = {
            "q": self.q,
            "region": self.region,
            "threat": self.threat,
            "language": self.language,
            "urgent": "1" if self.urgent else "",
            "retired": "1" if self.retired else "",
            "page": self.page,
        }
        values.update(override)
        return {
            k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)
        }


def _matches(entry: DirectoryEntry, filters: Filters, locale: str) -> bool:
    if filters.q:
        # Full-width forms (ＯＨＣＨＲ, as a Chinese input method types them) read as ASCII.
        needle = unicodedata.normalize("NFKC", filters.q).casefold()
        # What the list shows in the reader's language, the stored (Traditional) text and its
        # Simplified forms: a query in either script finds an entry on a page in any language
        # (律师 found nothing on a 繁體中文 page).
        haystack = " ".join(
            [
                entry.id,
                entry.name,
                entry.name_zh or "",
                entry.description_en or "",
                entry.description_zh or "",
                vocab.entry_name(entry, locale),
                vocab.entry_description(entry, locale),
                vocab.entry_name(entry, "zh_Hans"),
                vocab.entry_description(entry, "zh_Hans"),
            ]
        ).casefold()
        if needle not in haystack:
            return False
    if filters.region:
        members = vocab.REGION_COUNTRIES.get(filters.region, frozenset())
        regions = set(entry.regions or [])
        # Who can act there: global entries, that region, its countries, overlapping regions.
        if not (
            "global" in regions
            or filters.region in regions
            or members & set(entry.countries or [])
            or any(members & vocab.REGION_COUNTRIES.get(r, frozenset()) for r in regions)
        ):
            return False
    if filters.threat and filters.threat not in (entry.threats or []):
        return False
    if filters.language and filters.language not in (entry.languages or []):
        return False
    return not (filters.urgent and not entry.accepts_urgent_appeals)


def _locale() -> str:
    return str(get_locale() or "en")


@bp.get("/")
@role_required(*STAFF)
def index() -> str:
    is_admin = current_user.role == Role.ADMIN
    filters = Filters.from_args(request.args, is_admin)
    query = sa.select(DirectoryEntry).order_by(DirectoryEntry.name, DirectoryEntry.id)
    if not filters.retired:
        query = query.where(DirectoryEntry.retired_at.is_(None))
    everything = list(db.session.scalars(query))
    locale = _locale()
    # By the name the reader sees (its Chinese name in Chinese), not the English one SQL orders.
    matching = collation.by_name(
        (entry for entry in everything if _matches(entry, filters, locale)),
        lambda entry: vocab.entry_name(entry, locale),
        locale,
    )
    pages = max(1, -(-len(matching) // PER_PAGE))
    page = min(filters.page, pages)
    shown = matching[(page - 1) * PER_PAGE : page * PER_PAGE]
    languages = collation.by_name(
        {code for entry in everything for code in entry.languages or []},
        lambda code: vocab.language_name(code, locale),
        locale,
    )
    return render_template(
        "directory/index.html",
        entries=shown,
        total=len(matching),
        directory_empty=not everything,
        page=page,
        pages=pages,
        filters=filters,
        is_admin=is_admin,
        languages=[(code, vocab.language_name(code, locale)) for code in languages],
        vocab=vocab,
        locale=locale,
    )


def _entry_or_404(entry_id: str) -> DirectoryEntry:
    if not _ID.match(entry_id):
        abort(404)
    entry = db.session.get(DirectoryEntry, entry_id)
    if entry is None:
        abort(404)
    return entry


@bp.get("/<entry_id>")
@role_required(*STAFF)
def detail(entry_id: str) -> str:
    entry = _entry_or_404(entry_id)
    return render_template(
        "directory/detail.html",
        entry=entry,
        is_admin=current_user.role == Role.ADMIN,
        confirm=ConfirmForm(),
        vocab=vocab,
        kind_labels=KIND_LABELS,
        locale=_locale(),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(*ADMINS)
def create() -> str | Response | tuple[str, int]:
    form = EntryForm()
    if form.validate_on_submit():
        try:
            entry = directory_service.create_entry(form.to_record(), actor=current_user)
        except directory_service.DirectoryImportError as error:
            form.form_errors.extend(error.problems)
        else:
            flash(_("Entry created."), "success")
            return redirect(url_for("directory.detail", entry_id=entry.id))
    status = 400 if request.method == "POST" else 200
    return render_template("directory/edit.html", form=form, entry=None), status


@bp.route("/<entry_id>/edit", methods=["GET", "POST"])
@role_required(*ADMINS)
def edit(entry_id: str) -> str | Response | tuple[str, int]:
    entry = _entry_or_404(entry_id)
    form = EntryForm()
    form.id.data = entry.id  # the id never changes: referrals point at it
    if request.method == "GET":
        form.fill_from(entry)
    elif form.validate_on_submit():
        try:
            directory_service.update_entry(entry.id, form.to_record(entry), actor=current_user)
        except directory_service.DirectoryImportError as error:
            form.form_errors.extend(error.problems)
        else:
            flash(_("Entry saved."), "success")
            return redirect(url_for("directory.detail", entry_id=entry.id))
    status = 400 if request.method == "POST" else 200
    return render_template("directory/edit.html", form=form, entry=entry), status


RETIRE_CONFIRMED = "yes"


@bp.post("/<entry_id>/retire")
@role_required(*ADMINS)
def retire(entry_id: str) -> Response | tuple[str, int]:
    """Retire an entry, once the admin has seen what it changes: triage stops suggesting it,
    and the referrals to it that still await a reply keep running (one tap retired an
    organisation with eight of them, and said nothing of them)."""
    entry = _entry_or_404(entry_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if request.form.get("confirmed") != RETIRE_CONFIRMED:
        running = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Referral)
            .where(Referral.entry_id == entry.id, Referral.state.in_(AWAITING))
        )
        return render_template(
            "directory/retire_confirm.html",
            entry=entry,
            running=int(running or 0),
            confirm=ConfirmForm(),
            confirmed=RETIRE_CONFIRMED,
        ), 200
    return _set_retired(entry_id, True)


@bp.post("/<entry_id>/restore")
@role_required(*ADMINS)
def restore(entry_id: str) -> Response:
    return _set_retired(entry_id, False)


def _set_retired(entry_id: str, retired: bool) -> Response:
    entry = _entry_or_404(entry_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    directory_service.set_retired(entry.id, retired, actor=current_user)
    flash(
        _("Entry retired: triage no longer suggests it.") if retired else _("Entry restored."),
        "success",
    )
    return redirect(url_for("directory.detail", entry_id=entry.id))
