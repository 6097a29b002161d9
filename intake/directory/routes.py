"""Directory pages: list with search and filters, entry detail, admin create/edit/retire."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
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


# A letter or digit of a script that writes words apart: a query's term in it must start a
# word ("UN" found "Fund", "Council" and "runs": a review). Chinese runs on without spaces,
# so a term with a Chinese character is found anywhere.
_WORD_CHARACTER = re.compile(r"[^\W_]", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SEARCH_LOCALES = ("en", "zh_Hant", "zh_Hans")


def _terms(query: str) -> list[str]:
    # Full-width forms (ＯＨＣＨＲ, as a Chinese input method types them) read as ASCII.
    return unicodedata.normalize("NFKC", query).casefold().split()


def _found(term: str, text: str) -> bool:
    if _HAN.search(term):
        return term in text
    start = text.find(term)
    while start >= 0:
        if start == 0 or not _WORD_CHARACTER.match(text[start - 1]):
            return True
        start = text.find(term, start + 1)
    return False


def _names(entry: DirectoryEntry, locale: str) -> str:
    """What the list shows as its name in the reader's language, the stored names and their
    Simplified forms: a query in either script finds an entry on a page in any language (律师
    found nothing on a 繁體中文 page)."""
    return " ".join(
        [
            entry.id,
            entry.name,
            entry.name_zh or "",
            vocab.entry_name(entry, locale),
            vocab.entry_name(entry, "zh_Hans"),
        ]
    ).casefold()


def _rest(entry: DirectoryEntry, locale: str) -> str:
    """Its descriptions, where it works (a country's or region's name in the reader's language
    or a staff one, or its code: "Mexico", "墨西哥" and "MX" found nothing) and for whom."""
    places = [*(entry.countries or [])]
    for language in {locale, *_SEARCH_LOCALES}:
        places += [vocab.country_name(code, language) for code in entry.countries or []]
    # And what it acts on, as the filters name it ("detention" found one entry of ten).
    labels = _labels(locale)
    for key in (*(entry.regions or []), *(entry.threats or []), *(entry.profiles or [])):
        places.append(labels.get(key, key))
    return " ".join(
        [
            entry.description_en or "",
            entry.description_zh or "",
            vocab.entry_description(entry, locale),
            vocab.entry_description(entry, "zh_Hans"),
            *places,
        ]
    ).casefold()


@functools.cache
def _labels(locale: str) -> dict[str, str]:
    """Each region's, threat's and profile's name in ``locale`` and in English (a Chinese
    page's search for "detention" found nothing): what a query is matched against."""
    labels: dict[str, list[str]] = {}
    for language in {locale, "en"}:
        with force_locale(language):
            for table in (vocab.REGIONS, vocab.THREATS, vocab.PROFILES):
                for key, label in table.items():
                    labels.setdefault(key, []).append(str(label))
    return {key: " ".join(names) for key, names in labels.items()}


def _search_rank(entry: DirectoryEntry, terms: list[str], locale: str) -> int | None:
    """0 when every term is in its names, 1 when each is in its names or the rest, None when
    one is in neither: the entries a query names come before those that only mention it."""
    names = _names(entry, locale)
    if all(_found(term, names) for term in terms):
        return 0
    rest = _rest(entry, locale)
    if all(_found(term, names) or _found(term, rest) for term in terms):
        return 1
    return None


def _matches(entry: DirectoryEntry, filters: Filters, locale: str) -> bool:
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
    # By the name the reader sees (its Chinese name in Chinese), not the English one SQL orders;
    # a search puts the entries it names first.
    matching = collation.by_name(
        (entry for entry in everything if _matches(entry, filters, locale)),
        lambda entry: vocab.entry_name(entry, locale),
        locale,
    )
    terms = _terms(filters.q)
    if terms:
        ranked = [(_search_rank(entry, terms, locale), entry) for entry in matching]
        matching = [
            entry
            for rank, entry in sorted(
                ((rank, entry) for rank, entry in ranked if rank is not None),
                key=lambda pair: pair[0],
            )
        ]
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
        # Carried to each entry, for its "Back to the directory" (Referrer-Policy sends none).
        back_query=urlencode(filters.query_args()),
    )


def _back_url(is_admin: bool) -> str:
    """The list an entry was opened from, its search, filters and page kept ("Back to the
    directory" lost them: a review); only the filters the list knows, so it leads nowhere
    else."""
    back = request.args.get("back", "", type=str)[:600]
    filters = Filters.from_args(MultiDict(parse_qsl(back)), is_admin)
    return url_for("directory.index", **filters.query_args())


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
    is_admin = current_user.role == Role.ADMIN
    return render_template(
        "directory/detail.html",
        entry=entry,
        back_url=_back_url(is_admin),
        is_admin=is_admin,
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
