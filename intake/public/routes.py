"""Public pages: the landing page, the intake form, the receipt and /status follow-up.

Two ways in, one result (DESIGN §1.1):

- **JavaScript on** (``static/js/intake.js``): the browser seals the answers and each file to
  the organisation key and posts only ciphertext, the routing fields and the key id. The
  server checks the ciphertext's format and size, never its content (it cannot read it).
- **JavaScript off**: the same form posts plaintext; the view validates it, re-shows it with
  errors if needed, and seals it (``services.submissions.create_case_from_plaintext``) before
  anything is stored, logged or queued. Uploads are kept in memory, never spooled to disk.

Receipt and reply key: the server generates the receipt code (``crypto.new_receipt_code``) and
shows it once, on the receipt. It stores only ``receipt_lookup`` (an HMAC of the code under the
server secret) and the reply public key, which it derives from the code itself with
``crypto.reply_keypair`` exactly as ``static/js/submitter.js`` does in the submitter's browser. The
server sees the code once anyway (it made it), so deriving the key here is no new exposure and
spares a second request that could fail or be forged; the reply secret key is discarded at once
and re-derived only in the browser at /status to open caseworkers' replies.

CSRF for these views is checked here rather than by the global ``CSRFProtect``: an expired
token must re-show the form with what the person wrote, not an error page (DESIGN §8).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Collection
from functools import cache
from http import HTTPStatus
from io import BytesIO
from typing import Any

from flask import (
    Response,
    current_app,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import generate_csrf, validate_csrf
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from nacl.exceptions import CryptoError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CombinedMultiDict, FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests
from wtforms.validators import ValidationError

from config.settings import base64_length
from intake import crypto, vocab
from intake.addresses import hashed_address
from intake.extensions import csrf, db, limiter
from intake.hardening import database_unavailable_message, log_outage
from intake.i18n import is_staff_page, sentences
from intake.models import Case, CaseMessage, MessageKind, OrgKey, Urgency
from intake.public import bp
from intake.public.forms import (
    HONEYPOT_FIELD,
    LONG_MAX,
    SEALED_FIELDS,
    FollowUpForm,
    IntakeForm,
    StatusForm,
    answer_limit,
    answer_limit_then,
    required_message,
)
from intake.services import follow_ups, key_pins, keys, proof_of_work, submissions, urgent_help
from intake.services import settings as org_settings
from intake.services.submissions import AttachmentRefused, PlainFile, SubmissionRefused
from intake.services.triage import Routing
from intake.web import error_response, message_for

log = logging.getLogger(__name__)

ViewResult = Response | str | tuple[Response | str, int]

# The intake form's submission token (both paths): the same request sent again is filed once.
SUBMISSION_TOKEN = "submission_token"  # noqa: S105 — a field name, not a secret
# Fields the browser path may send. Anything else (plaintext answers included) is refused.
BROWSER_FIELDS = frozenset(
    {"csrf_token", "sealed_answers", "org_key_id", "urgency", "threats", "profiles",
     "country", "languages", "consent_given", HONEYPOT_FIELD, "pow_challenge", "pow_nonce",
     SUBMISSION_TOKEN}
)  # fmt: skip
# A follow-up carries a token too, one per written message (status.js; the no-JS form's field).
BROWSER_FOLLOW_UP_FIELDS = frozenset(
    {"csrf_token", "code", "sealed_body", "sealed_for_submitter", "org_key_id", SUBMISSION_TOKEN}
)
# ... and browser_opens, the form's own flag, which a page whose status.js stood aside (its
# libsodium did not load) posted from before status-code.js left it out there.
NO_JS_FOLLOW_UP_FIELDS = frozenset(
    {"csrf_token", "code", "body", "browser_opens", SUBMISSION_TOKEN}
)
# Set on the request when a follow-up's token was used already: nothing stored, nothing counted.
FOLLOW_UP_REPEATED = "refuge.follow_up_repeated"
RECEIPT_ONCE = "receipt_once"  # session key: the no-JS receipt code, for exactly one GET
# Session key: the no-JS follow-up form's token, kept until a message is stored. A page drawn
# again after a lost answer (Back re-posts /status) carries the same token, where a token
# drawn fresh on each page made the retry a second message.
FOLLOW_UP_TOKEN = "follow_up_token"  # noqa: S105 — a session key, not a secret
# session key: the token of the request this browser sent last without JavaScript, and a
# digest of what it said, until it starts a new one (?new=1): the form shown again (Back)
# carries the token, and the same answers sent again are filed once (_server_sealed_token).
SENT_REQUEST = "request_sent"
# ... for so long after it was sent. Back, then Send again, comes within minutes; whoever
# uses the computer after that, and finds the answers put back by the browser's Back, would
# get the first request's receipt code (its replies, its consent) for a day (a review).
SENT_REQUEST_KEPT_SECONDS = 30 * 60
# Session key: the token of the no-JS form this browser was shown and has not been told it sent,
# and when the form was last shown. The form shown again within SENT_REQUEST_KEPT_SECONDS
# carries it: a Send whose answer (and the cookie saying it was sent) was lost, then Back and
# Send, is the same request, where a token drawn anew filed it twice under two codes (a
# slow-link review). The server tells the same request by the token and the answers together
# (_server_sealed_token), so other answers with it are a request of their own.
PENDING_REQUEST = "request_pending"
RECEIPT_URGENT = "receipt_urgent"  # with it: the routing facts of an "Immediate" request
# ... whether the request gave consent to share (the receipt says the code can withdraw it
# only then: with none, /status has none to withdraw), and whether it was filed before (the
# same answers sent again: the receipt says nothing was filed twice).
RECEIPT_CONSENT = "receipt_consent"
RECEIPT_AGAIN = "receipt_again"
# Session key: a keyed digest of the receipt code this browser was given last (either path),
# and when: /status shows that code again to this browser for SENT_REQUEST_KEPT_SECONDS, for
# a defender who went there from the receipt and lost it. Never the code itself.
SENT_RECEIPT = "receipt_sent"
MAX_CHOICES = 20  # no routing list is longer than its vocabulary
ATTACHMENTS = "attachments"  # the file field, on both paths and on the follow-up
# The file name of each sealed file's part from a page loaded before files went as raw bytes:
# it holds the ciphertext in base64 (config.settings.OLDER_PAGES_POST_BASE64_FILES). Read while
# such a page may still be open in someone's tab; submitter.js names its raw parts "sealed".
BASE64_FILE_PART = "sealed.bin"

# _fields.html marks required fields with the server's message, for the browser's checks.
bp.add_app_template_global(required_message)
# ... and each free-text field with its most characters, for the browser's counter.
bp.add_app_template_global(answer_limit)
# ... and what it says after "please shorten" (where the rest can go), as the server says it.
bp.add_app_template_global(answer_limit_then)


# ---------------------------------------------------------------------------------------------
# Request plumbing


@bp.before_request
def _keep_uploads_in_memory() -> None:
    """Werkzeug spools uploads over 500 KB to a temporary file; on the no-JS path those are
    plaintext evidence. Keep them in memory (MAX_CONTENT_LENGTH bounds it) until sealed."""

    def memory_stream(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> BytesIO:
        return BytesIO()

    setattr(request, "_get_file_stream", memory_stream)  # noqa: B010 — shadows the method


def _client_key() -> str:
    """Rate-limit key: a keyed hash of the address, never the address (DESIGN §1.7)."""
    return hashed_address("pub")


def _request_limit() -> str:
    return str(current_app.config["REQUEST_RATE_LIMIT"])


# Flask-Limiter's scope for a limit declared on this view: the counters stay the same ones.
REQUEST_LIMIT_SCOPE = "public.request_form"


@cache
def _parsed_limits(text: str) -> tuple[RateLimitItem, ...]:
    """The limits of a REQUEST_RATE_LIMIT text, shortest window first (as Flask-Limiter
    checks them), parsed once per process rather than on every request."""
    return tuple(sorted(parse_many(text)))


def _limit_submissions() -> None:
    """REQUEST_RATE_LIMIT per address (keyed hash) on every POST of the form, before anything
    else, unless a proof of work admitted the browser (within the global ceiling); the
    shortest window first, and the next one is not counted once one is spent.

    What ``@limiter.limit`` did, without its per-request resolution of the route's limits,
    exemptions and request context: that cost a browser submission more CPU than the Redis
    hit itself (~0.3 ms of ~2.4). The strategy and the storage are Flask-Limiter's
    (``limiter.limiter``), with its in-memory fallback while Redis is unreachable: its
    before-request check notices Redis recover, as for any route."""
    if not limiter.enabled or _admitted_by_proof():
        return
    key = _client_key()
    items = _parsed_limits(_request_limit())
    spent = _hit_all_in_redis(items, key)
    if spent is _NOT_IN_REDIS:
        spent = next((item for item in items if not _hit(item, key)), None)
    if spent is not None:
        log.info("rate limit %s exceeded on the public form", spent)
        raise TooManyRequests


# Every window of a limit in one Redis round trip, each exactly as Flask-Limiter's fixed window
# counts it (limits' incr_expire.lua: INCRBY, and EXPIRE when the counter is new), shortest
# window first; a window over its limit ends the count there and its number (from 1) comes
# back, else 0. KEYS: the windows' counters; ARGV: each window's seconds and limit, in turn.
_HIT_ALL_SCRIPT = b"""
for index, key in ipairs(KEYS) do
    local current = redis.call("incrby", key, 1)
    if current == 1 then
        redis.call("expire", key, ARGV[2 * index - 1])
    end
    if current > tonumber(ARGV[2 * index]) then
        return index
    end
end
return 0
"""
_NOT_IN_REDIS = object()  # _hit_all_in_redis: not Redis (or not now): count one by one


def _hit_all_in_redis(items: tuple[RateLimitItem, ...], key: str) -> Any:
    """Count the request in every window of ``items`` in one round trip to Redis, where
    ``_hit`` per window takes one each: the window that is spent (None if none is), the same
    counters and the same answer as ``_hit`` window by window. ``_NOT_IN_REDIS`` when the
    storage is not Redis, or Redis failed (now or before, Flask-Limiter then limits in memory
    until it recovers): the caller counts the windows one by one, as Flask-Limiter would."""
    storage = limiter.storage
    if (
        limiter._storage_dead  # noqa: SLF001 — the flag Flask-Limiter itself keeps
        or type(storage) is not RedisStorage  # a cluster keeps the windows apart, say
        or not isinstance(limiter.limiter, FixedWindowRateLimiter)
    ):
        return _NOT_IN_REDIS
    keys = [storage.prefixed_key(item.key_for(key, REQUEST_LIMIT_SCOPE)) for item in items]
    arguments = [value for item in items for value in (item.get_expiry(), item.amount)]
    try:
        spent = int(_hit_all_script(storage)(keys, arguments))
    except storage.base_exceptions:
        return _NOT_IN_REDIS  # _hit meets the failure again and falls back as it does
    return items[spent - 1] if spent else None


def _hit_all_script(storage: RedisStorage) -> Any:
    """The script registered with this storage's connection (once per storage, as limits does
    its own): redis-py sends it by its hash, and loads it again if Redis lost it."""
    script = getattr(storage, "_refuge_hit_all", None)
    if script is None:
        script = storage.get_connection().register_script(_HIT_ALL_SCRIPT)
        storage._refuge_hit_all = script  # type: ignore[attr-defined]  # noqa: SLF001
    return script


def _hit(item: RateLimitItem, key: str) -> bool:
    try:
        return limiter.limiter.hit(item, key, REQUEST_LIMIT_SCOPE)
    except limiter.storage.base_exceptions:
        # As Flask-Limiter does (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED): a defender's request
        # is not lost to a cache outage; this process limits in memory meanwhile.
        if not current_app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"):
            raise
        if limiter._storage_dead:  # noqa: SLF001 — the fallback failed: nothing else to use
            raise
        log.warning("Rate limit storage unreachable - falling back to in-memory storage")
        limiter._storage_dead = True  # noqa: SLF001 — the flag Flask-Limiter itself keeps
        return limiter.limiter.hit(item, key, REQUEST_LIMIT_SCOPE)


def _status_limit() -> str:
    return str(current_app.config["STATUS_RATE_LIMIT"])


def _follow_up_limit() -> str:
    return str(current_app.config["FOLLOW_UP_RATE_LIMIT"])


def _follow_up_counted(response: Response) -> bool:
    """A follow-up sent again after its answer was lost (its token used already) stored
    nothing: it does not spend the limit a second time. Everything else counts, refusals too."""
    return not request.environ.get(FOLLOW_UP_REPEATED)


def _failed(response: Response) -> bool:
    """Only look-ups that found nothing count against the /status limit: guessing is what we
    throttle. A code refused before any look-up (too short, a character no code has, an
    expired form) spent the attempts of a person mending what they typed, then locked them
    out with the right code."""
    return response.status_code == HTTPStatus.NOT_FOUND


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _locale() -> str:
    return str(get_locale() or "en")


def _csrf_ok() -> bool:
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken", "")
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def _refuse(
    message: str, status: int = 400, field: str | None = None
) -> tuple[Response | str, int]:
    return error_response(status, message, field)


def _refused(refused: SubmissionRefused) -> tuple[Response | str, int]:
    """A refusal as the browser shows it: beside its field when it is about one (the files)."""
    return _refuse(str(refused), refused.status, refused.field)


def _too_large_message(follow_up: bool = False) -> str:
    """Why a request over MAX_CONTENT_LENGTH was refused, and what to change. The limit is
    derived from the files the form promises (config.settings.request_max_bytes), so only more
    than that meets it: said with what was sent when the files went as they are (without
    JavaScript; the browser's sealed files are padded, and it checks their count and sizes
    before sending). The limit holds the promise in base64 too, as pages loaded before sealed
    files went as raw bytes send them, so such a page is never told to leave files out that
    the form promised. Back only without JavaScript: with it, the answers are still on the
    page (and the browser says this beside the file field: the JSON names it)."""
    sent = request.content_length
    megabytes = submissions.attachment_max_bytes() / (1024 * 1024)
    with_js = _wants_json()
    return sentences(
        ""
        if with_js or not sent
        else _("What you sent comes to about %(sent)d MB.", sent=math.ceil(sent / (1024 * 1024))),
        _(
            "At most %(count)d files of %(size)s MB each can be sent at once. Nothing was saved.",
            count=submissions.attachment_max_count(),
            size=f"{megabytes:g}",
        ),
        _("Leave out a file or two and send again: you can send more in another message.")
        if follow_up
        else _(
            "Leave out a file or two and send again: you can send more later from the status "
            "page, with your receipt code."
        ),
        ""
        if with_js
        else _("Go back with your browser's Back button: what you wrote is usually still there."),
    )


# Set on a request whose form could not be parsed (too large): see _read_form.
FORM_TOO_LARGE = "refuge.form_too_large"


def _read_form() -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]] | None:
    """The parsed form, or None when the body is too large to parse (MAX_CONTENT_LENGTH, or
    a field over MAX_FORM_MEMORY_SIZE). Werkzeug parses a body once: after a refused parse the
    stream is partly read, and looking again gives a partial form without an error (a story
    that came back empty, under "we kept what you wrote"). So the refusal is kept."""
    if request.environ.get(FORM_TOO_LARGE):
        return None
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        request.environ[FORM_TOO_LARGE] = True
        return None
    # Each text field is held to MAX_FORM_MEMORY_SIZE, and all of them together to twice that:
    # a form is shown again with what was typed, and many fields each at the limit made every
    # language change echo tens of megabytes.
    field_max = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    typed = sum(len(value) for _, value in form.items(multi=True))
    if field_max is not None and typed > 2 * int(field_max):
        request.environ[FORM_TOO_LARGE] = True
        return None
    return form, files


def _key_unverified() -> tuple[Response | str, int]:
    """The organisation key in the database is not the one pinned: seal nothing to it."""
    return _refuse(
        _(
            "The organisation key could not be verified, so this form cannot encrypt or send "
            "anything now. Nothing was saved. Please try again later or contact the "
            "organisation another way."
        ),
        503,
    )


def _org_key_json(key: OrgKey) -> dict[str, Any]:
    return {"org_key_id": key.id, "public_key": key.public_key, "fingerprint": key.fingerprint}


# ---------------------------------------------------------------------------------------------
# The organisation's public profile (admin settings) on every page


def _profile() -> org_settings.OrgProfile:
    """Read once per request (kept on the request, not ``g``: see _proof_of_work); a database
    outage shows the pages without it, not an error."""
    cached = request.environ.get(PROFILE_ENVIRON_KEY) if has_request_context() else None
    if cached is None:
        try:
            # Public pages in the reader's language where the admin wrote it; staff pages
            # read the profile with the session (settings.remember_snapshot).
            cached = org_settings.org_profile(None if is_staff_page() else _locale())
        except SQLAlchemyError as error:
            log_outage("reading the organisation profile", error)
            db.session.rollback()
            cached = org_settings.OrgProfile()
        if has_request_context():
            request.environ[PROFILE_ENVIRON_KEY] = cached
    return cached


@bp.app_context_processor
def _inject_profile() -> dict[str, Any]:
    return {"org": _profile}


@bp.after_request
def _onion_location(response: Response) -> Response:
    """Tor Browser offers the onion service when this header names it (public pages only)."""
    # Not on redirects: nothing is shown there, and the page they lead to carries it.
    if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
        onion = _profile().onion
        if onion:
            response.headers["Onion-Location"] = onion + request.full_path.rstrip("?")
    return response


# ---------------------------------------------------------------------------------------------
# Landing page


@bp.get("/")
def landing() -> str:
    org_key, verified = keys.sealing_key()
    return render_template(
        "public/landing.html",
        org_key=org_key,
        org_key_verified=verified,
        danger_now=_danger_now(),
    )


# ---------------------------------------------------------------------------------------------
# The intake form


def _routing_from_browser(form: MultiDict[str, str]) -> Routing:
    """The routing fields the browser sent in the clear, checked against the vocabularies."""

    def choices(name: str, allowed: Collection[str], message: LazyString) -> tuple[str, ...]:
        values = form.getlist(name)
        if len(values) > MAX_CHOICES or any(value not in allowed for value in values):
            raise SubmissionRefused(str(message))
        return tuple(dict.fromkeys(values))

    try:
        urgency = Urgency(form.get("urgency", ""))
    except ValueError as exc:
        raise SubmissionRefused(_("Urgency is missing or not one of the listed choices.")) from exc
    country = form.get("country", "") or None
    if country is not None and country not in vocab.ISO_COUNTRIES:
        raise SubmissionRefused(_("The country is not an ISO 3166-1 country code."))
    consent = form.get("consent_given", "")
    if consent not in {"0", "1"}:
        raise SubmissionRefused(_("Whether consent was given must be 0 or 1."))
    return Routing(
        urgency=urgency,
        # The messages are translated only when shown: a valid request looks none of them up.
        threats=choices("threats", vocab.THREATS, _l("Unknown threat type.")),
        profiles=choices("profiles", vocab.PROFILES, _l("Unknown profile.")),
        country=country,
        languages=choices("languages", vocab.language_codes(), _l("Unknown language code.")),
        consent_given=consent == "1",
    )


def _submission_token(form: MultiDict[str, str]) -> bytes | None:
    """The request's submission token (None if the form sent none, as older pages do)."""
    values = form.getlist(SUBMISSION_TOKEN)
    if not values:
        return None
    raw = crypto.submission_token_bytes(values[0]) if len(values) == 1 else None
    if raw is None:
        raise SubmissionRefused(_("The form's submission token is not valid. Nothing was saved."))
    return raw


def _files_as_text(form: MultiDict[str, str]) -> None:
    """The browser path's files come as file parts: the file field as a text field is refused
    beside it, before anything else is read (not as one more "unexpected field")."""
    if ATTACHMENTS in form:
        raise AttachmentRefused(
            _("The files arrived as text, not as files. Nothing was saved. Please send again.")
        )


def _sealed_uploads(files: MultiDict[str, FileStorage]) -> list[bytes]:
    """Sealed files from the browser, one file part each (named ``sealed``, never the file's
    own name): the raw ciphertext, or (a part named BASE64_FILE_PART, from a page loaded
    before) that ciphertext in base64, decoded first. Then every one is checked the same way
    (submissions.check_sealed_file) and stored as it is. Every part counts: none is skipped.

    An empty file cannot be told here (sealed and padded, it is as long as a small one): only
    submitter.js's checkFiles, before sealing, refuses it (_plain_files does without JS)."""
    if set(files) - {ATTACHMENTS}:
        raise SubmissionRefused(_("The request contained unexpected files."))
    parts = files.getlist(ATTACHMENTS)
    submissions.check_file_count(len(parts))
    sealed: list[bytes] = []
    for index, part in enumerate(parts, start=1):
        in_base64 = part.filename == BASE64_FILE_PART
        limit = submissions.sealed_file_max_bytes()
        if in_base64:
            limit = base64_length(limit) + 16  # and a line end or two
        content = part.read(limit + 1)
        part.close()  # the parser's copy (MAX_CONTENT_LENGTH at most in all) goes now
        if len(content) > limit:
            raise AttachmentRefused(_("Sealed file %(number)d is too large.", number=index))
        if in_base64:
            try:
                text = content.decode("ascii")
            except UnicodeDecodeError as exc:
                raise AttachmentRefused(
                    _("Sealed file %(number)d is not base64 text.", number=index)
                ) from exc
            content = submissions.sealed_file_from_base64(text, index)
        sealed.append(submissions.check_sealed_file(content, index))
    return sealed


# Sealed answers or a sealed message over SEALED_ANSWERS_MAX_BYTES. The counters count
# characters and the seal takes bytes (an emoji four): the limit holds every form the counters
# let through (config.settings), so this is said only where the setting was lowered, or to a
# page that counted otherwise. Said beside a field, not as "not valid: too large".
ANSWERS_TOO_LONG_TO_SEAL = _l(
    "Your answers together are too long to be encrypted and sent: emoji and some alphabets "
    "take more room than others. Nothing was saved. Please shorten this answer or others; you "
    "can send the rest from the status page after you send your request."
)
MESSAGE_TOO_LONG_TO_SEAL = _l(
    "Your message is too long to be encrypted and sent: emoji and some alphabets take more "
    "room than others. Nothing was saved. Please shorten it; you can send the rest in another "
    "message."
)


def _fits_sealed(text: str | None, message: LazyString, field: str) -> None:
    """Refuse sealed text over SEALED_ANSWERS_MAX_BYTES with ``message``, beside ``field``
    (the browser says "answers" beside the answer that takes most room), before
    submissions.check_sealed_answers says only that it is not valid."""
    if isinstance(text, str) and len(text) > base64_length(submissions.answers_max_bytes()):
        refused = SubmissionRefused(str(message), 413)
        refused.field = field
        raise refused


def _submit_from_browser(
    form: MultiDict[str, str],
    files: MultiDict[str, FileStorage],
    current: OrgKey | submissions.TrustedKey,
) -> tuple[Response, int]:
    _files_as_text(form)
    unexpected = sorted(set(form) - BROWSER_FIELDS)
    if unexpected:
        raise SubmissionRefused(
            _("Unexpected fields: %(names)s. Nothing was saved.", names=", ".join(unexpected[:5]))
        )
    if form.get(HONEYPOT_FIELD):
        raise SubmissionRefused(_("This request could not be accepted. Nothing was saved."))
    routing = _routing_from_browser(form)
    # Usually the current key, read and verified with this request (or remembered, and then
    # checked by the insert); another one is read from the database and checked here.
    org_key = submissions.usable_org_key(form.get("org_key_id"), current=current)
    if org_key is not current and not (
        isinstance(org_key, OrgKey) and key_pins.is_verified(org_key)
    ):
        raise SubmissionRefused(_("The organisation key could not be verified. Nothing was saved."))
    _fits_sealed(form.get("sealed_answers"), ANSWERS_TOO_LONG_TO_SEAL, "answers")
    sealed_answers = submissions.check_sealed_answers(form.get("sealed_answers"))
    sealed_files = _sealed_uploads(files)
    submission = submissions.create_case(
        routing,
        org_key=org_key,
        sealed_answers=sealed_answers,
        sealed_files=sealed_files,
        sealed_by=submissions.SealedBy.BROWSER,
        locale=_locale(),
        submission_token=_submission_token(form),
        ends_transaction=True,  # this view commits nothing else
    )
    _remember_sent_receipt(submission.receipt_code)
    # A retry whose token was used already gets exactly the first attempt's answer.
    return jsonify(
        {"receipt_code": submission.receipt_code, "status_url": url_for("public.status")}
    ), 201


def _plain_files(form: IntakeForm | FollowUpForm) -> tuple[list[PlainFile], list[str]]:
    """Uploaded files read into memory, with an error per file that is too large or empty.

    Only files posted in the clear (without JavaScript) can be seen to be empty: a sealed file
    from the browser is ciphertext padded to a bucket (_sealed_uploads), the same size whether
    it held 0 bytes or some, so there submitter.js's checkFiles refuses an empty one."""
    limit = submissions.attachment_max_bytes()
    errors: list[str] = []
    files: list[PlainFile] = []
    uploads = form.uploaded_files()
    if len(uploads) > submissions.attachment_max_count():
        errors.append(
            _("Attach at most %(count)d files.", count=submissions.attachment_max_count())
        )
    for upload in uploads:
        data = upload.stream.read(limit + 1)
        upload.close()  # the parser's copy goes now: one copy of the plaintext, not two
        if len(data) > limit:
            errors.append(
                _(
                    "“%(name)s” is larger than %(size)s MB.",
                    name=upload.filename or "",
                    size=f"{limit / (1024 * 1024):g}",
                )
            )
            continue
        if not data:
            # A 0-byte file (a broken copy, a download that never finished) would "arrive" as
            # nothing: a defender must not believe they sent evidence they did not.
            errors.append(
                _(
                    "“%(name)s” is empty (0 bytes): nothing of it would arrive. Choose the file "
                    "again, or leave it out.",
                    name=upload.filename or "",
                )
            )
            continue
        files.append(
            PlainFile(
                name=(upload.filename or "file")[:255],
                content_type=(upload.mimetype or "application/octet-stream")[:127],
                data=data,
            )
        )
    return files, errors


def _had_files(files: MultiDict[str, FileStorage]) -> bool:
    """Whether any file was chosen: a file field left empty is posted too (a part without a
    file name), and asking to attach "again" what was never attached only confuses."""
    return any(upload.filename for upload in files.getlist(ATTACHMENTS))


DATABASE_NOTICE = _l(
    "We could not save your request because of a problem on our side. We kept what you "
    "wrote: please try again in a minute."
)


def _database_down(error: SQLAlchemyError) -> None:
    log_outage("looking up the organisation key", error)
    db.session.rollback()


def _form_again_while_down(
    form_data: MultiDict[str, str], files: MultiDict[str, FileStorage], error: SQLAlchemyError
) -> tuple[str, int]:
    """The database is down: the form again with what they wrote, and why (a 503)."""
    _database_down(error)
    return _render_form(
        IntakeForm(form_data),
        None,
        status=503,
        notice=str(DATABASE_NOTICE),
        database_down=True,
        had_files=_had_files(files),
    )


def _render_form(
    form: IntakeForm,
    org_key: OrgKey | submissions.TrustedKey | None,
    status: int = 200,
    notice: str | None = None,
    database_down: bool = False,
    sent_before: bool = False,
    had_files: bool = False,
) -> tuple[str, int]:
    if had_files:
        # A form shown again cannot hand files back. Asked beside the file field (so linked
        # from the summary, its step unfolded): said only atop the page, it was missed, and
        # the request went without its evidence.
        form.attachments.errors = [*form.attachments.errors, _("Please attach your files again.")]
    if database_down:
        # The channels come from the directory, which is down too: the advice still shows.
        urgent = {"immediate": form.urgency.data == Urgency.IMMEDIATE.value, "channels": []}
    else:
        urgent = _page_guidance(form)
    return render_template(
        "public/request.html",
        urgent=urgent,
        danger_now=None if database_down else _danger_now(),
        form=form,
        org_key=org_key,
        database_down=database_down,
        notice=notice,
        sent_before=sent_before,
        sealed_fields=SEALED_FIELDS,
        max_files=submissions.attachment_max_count(),
        max_megabytes=f"{submissions.attachment_max_bytes() / (1024 * 1024):g}",
        max_bytes=submissions.attachment_max_bytes(),
    ), status


@cache
def _no_js_field_names() -> frozenset[str]:
    """What the no-JavaScript form may post: its fields (read from one form, once per process,
    not built anew on every submission only to list them) and the CSRF token."""
    return frozenset(IntakeForm().data) | {"csrf_token"}


def _answers_digest(form_data: MultiDict[str, str]) -> str:
    """A digest of what a no-JS form said (every field but its tokens), keyed by its
    submission token: kept in this browser's session beside that token, and part of what the
    server finds the request again by (:func:`_server_sealed_token`, itself kept only as a
    keyed hash), it tells the same request sent again from other answers."""
    said = sorted(
        (name, value)
        for name in form_data
        if name not in ("csrf_token", SUBMISSION_TOKEN)
        for value in form_data.getlist(name)
    )
    key = form_data.get(SUBMISSION_TOKEN, "").encode()
    return hmac.new(key, json.dumps(said).encode(), hashlib.sha256).hexdigest()


def _kept_token(key: str) -> str | None:
    """The no-JS form's token kept in the session under ``key`` (SENT_REQUEST or
    PENDING_REQUEST), within SENT_REQUEST_KEPT_SECONDS of its time (forgotten after)."""
    kept = session.get(key)
    if not isinstance(kept, dict):
        return None
    token, at = kept.get("token"), kept.get("at")
    if not isinstance(at, int) or not 0 <= time.time() - at <= SENT_REQUEST_KEPT_SECONDS:
        session.pop(key, None)
        return None
    if isinstance(token, str) and crypto.submission_token_bytes(token) is not None:
        return token
    return None


def _sent_token() -> str | None:
    """The token of the request this browser sent last without JavaScript, if any, within
    SENT_REQUEST_KEPT_SECONDS of sending it."""
    return _kept_token(SENT_REQUEST)


def _pending_token() -> str | None:
    """The token of the no-JS form last shown in this browser and not known to be sent,
    within SENT_REQUEST_KEPT_SECONDS of showing it; each showing starts that time again."""
    token = _kept_token(PENDING_REQUEST)
    if token is not None:
        session[PENDING_REQUEST] = {"token": token, "at": int(time.time())}
    return token


def _server_sealed_token(raw_token: bytes, form_data: MultiDict[str, str]) -> bytes:
    """What finds a no-JS request again: its token and a digest of its answers. The same
    answers sent again with the token are the request sent (Back and Send, an answer lost on
    the way, even when this browser was never told it was sent); other answers with it (the
    person's next request, someone else at the same computer) are a request of their own,
    with their own code, never the first one's receipt."""
    return raw_token + bytes.fromhex(_answers_digest(form_data))


def _is_the_sent_request(form_data: MultiDict[str, str]) -> bool:
    """Whether a post is the request this browser sent last without JavaScript: its token and
    the same answers, which is what is answered with that request's receipt (nothing filed)."""
    token = _sent_token()
    if token is None or form_data.get(SUBMISSION_TOKEN) != token:
        return False
    sent = session.get(SENT_REQUEST)
    return isinstance(sent, dict) and sent.get("answers") == _answers_digest(form_data)


def _the_sent_request_again() -> bool:
    """Back, then Send again, unchanged, from the browser that sent it without JavaScript: its
    receipt is shown again and nothing is filed, so it spends nothing of the limit. The page of
    a reloaded receipt tells the person to do just this; on a shared network (a Tor exit) the
    limit was spent by then, and they were told their request was "not sent yet". Only a
    browser that sent a request has its token in the session: any other post is counted
    before its body is read."""
    if _sent_token() is None:
        return False
    parsed = _read_form()
    return parsed is not None and _is_the_sent_request(parsed[0])


def _submit_without_js(
    form_data: MultiDict[str, str],
    files: MultiDict[str, FileStorage],
    org_key: OrgKey | submissions.TrustedKey,
) -> ViewResult:
    unexpected = sorted(set(form_data) - _no_js_field_names())
    if unexpected:
        return _refuse(
            _("Unexpected fields: %(names)s. Nothing was saved.", names=", ".join(unexpected[:5]))
        )
    try:
        submission_token = _submission_token(form_data)
    except SubmissionRefused as refused:
        return _refused(refused)
    # Without files, the form alone: every field looks itself up in one dict, not two.
    form = IntakeForm(CombinedMultiDict([files, form_data]) if files else form_data)
    valid = form.validate()
    plain_files, file_errors = _plain_files(form)
    if file_errors:
        form.attachments.errors = [*form.attachments.errors, *file_errors]
        valid = False
    if not valid:
        # Refused, it keeps its token: Back from a reloaded receipt, past a first Send that
        # was refused, posts that refused form again; answered as before, it is the request
        # sent, and shows its receipt. A new token here filed it twice, under a second code.
        # "You would see the same receipt" only for the answers that were sent: other answers
        # with that token (someone else at a shared computer) are filed as a new request.
        return _render_form(
            form,
            org_key,
            status=422,
            had_files=bool(form.uploaded_files()),
            sent_before=_is_the_sent_request(form_data),
        )
    # Consent in the clear is what referrals check: everyone named agreed, and the submitter
    # allows sharing. The nuance (some agreed, "ask me first") stays in the sealed answers.
    routing = Routing(
        urgency=Urgency(form.urgency.data),
        threats=tuple(dict.fromkeys(form.threats.data or [])),
        profiles=tuple(dict.fromkeys(form.profiles.data or [])),
        country=form.country.data or None,
        languages=tuple(form.chosen_languages()),
        consent_given=form.consent.data == "yes" and form.referral_consent.data == "yes",
    )
    try:
        submission = submissions.create_case_from_plaintext(
            routing,
            org_key=org_key,
            answers=form.answers(),
            files=plain_files,
            locale=_locale(),
            submission_token=(
                _server_sealed_token(submission_token, form_data)
                if submission_token is not None
                else None
            ),
            ends_transaction=True,  # this view commits nothing else
        )
    except SQLAlchemyError as error:
        # A server error must not throw the text away either: show the form again, filled in.
        log_outage("storing a request", error)
        return _render_form(
            form, org_key, status=503, notice=str(DATABASE_NOTICE), had_files=bool(plain_files)
        )
    # Post/Redirect/Get: a reload of the receipt must not file the request again. The code is
    # held for one GET in the signed session cookie and popped when shown. That cookie is in
    # this browser only, which is shown the code anyway; the server keeps nothing. A form
    # posted again (Back, or an answer lost on the way) carries the same submission token and
    # comes here with the first attempt's code: the same receipt, nothing filed again.
    session[RECEIPT_ONCE] = submission.receipt_code
    session[RECEIPT_CONSENT] = routing.consent_given
    session[RECEIPT_AGAIN] = submission.repeated
    _remember_sent_receipt(submission.receipt_code)
    session.pop(PENDING_REQUEST, None)
    if submission_token is not None:
        session[SENT_REQUEST] = {
            "token": form.submission_token.data,
            "answers": _answers_digest(form_data),
            "at": int(time.time()),
        }
    if routing.urgency is Urgency.IMMEDIATE:
        # Routing facts only (in the clear anyway), for the receipt's "what to do now".
        session[RECEIPT_URGENT] = {"threats": list(routing.threats), "country": routing.country}
    return make_response(redirect(url_for("public.receipt", lang=request.args.get("lang")), 303))


# What the receipt page's language buttons post back (base.html ``language_form``): the code the
# page already shows, whether the request gave consent ("1" or "0"; a page from before it was
# said: none) and, for an "Immediate" request, its routing facts (in the clear anyway).
RECEIPT_LANGUAGE_FIELDS = frozenset(
    {"csrf_token", "code", "consent", "urgent_threats", "urgent_country"}
)


def _sent_receipt_digest(normalised: str) -> str:
    """What the session keeps of a receipt code (SENT_RECEIPT): an HMAC under the server's
    secret, apart from the database's look-up (crypto.receipt_lookup) so that the cookie names
    no row."""
    return _server_digest("sent-receipt", normalised)


def _server_digest(purpose: str, value: str) -> str:
    """A keyed hash of ``value`` under a key for ``purpose`` derived from the server's secret
    (crypto.at_rest_key): what the session or a page may carry in place of ``value``."""
    key = crypto.at_rest_key(str(current_app.config["SECRET_KEY"]), f"refuge-{purpose}")
    return crypto.keyed_digest(value, key)


def _remember_sent_receipt(code: str) -> None:
    normalised = crypto.normalise_receipt_code(code)
    if normalised is not None:  # (the server's own codes always are)
        digest = _sent_receipt_digest(normalised)
        session[SENT_RECEIPT] = {"digest": digest, "at": int(time.time())}


def _sent_from_here(code: str) -> str | None:
    """``code`` as a receipt writes it, when it is the receipt this browser was given last,
    within SENT_REQUEST_KEPT_SECONDS (forgotten after, as the sent request's token is); else
    None."""
    sent = session.get(SENT_RECEIPT)
    if not isinstance(sent, dict):
        return None
    at, digest = sent.get("at"), sent.get("digest")
    if not isinstance(at, int) or not 0 <= time.time() - at <= SENT_REQUEST_KEPT_SECONDS:
        session.pop(SENT_RECEIPT, None)
        return None
    normalised = crypto.normalise_receipt_code(code)
    if normalised is None or not isinstance(digest, str) or not digest.isascii():
        return None
    if not hmac.compare_digest(digest, _sent_receipt_digest(normalised)):
        return None
    return crypto.in_groups(normalised)


@bp.route("/request/receipt", methods=["GET", "POST"])
@csrf.exempt
def receipt() -> ViewResult:
    """The receipt after a no-JavaScript request, shown once (see _submit_without_js).

    Its language buttons post the code back (POST), and the receipt is shown again in the
    language chosen: the code is checked for its format only and never looked up, so this
    is no oracle for guessing codes and counts against no limit. The CSRF token keeps
    another site from showing someone a receipt with a code of its choosing."""
    if request.method == "POST":
        return _receipt_in_language()
    code = session.pop(RECEIPT_ONCE, None)
    facts = session.pop(RECEIPT_URGENT, None)
    consented = session.pop(RECEIPT_CONSENT, None) is True
    again = session.pop(RECEIPT_AGAIN, None) is True
    urgent_facts = None
    if isinstance(code, str) and isinstance(facts, dict):
        threats = facts.get("threats")
        country = facts.get("country")
        urgent_facts = (
            [str(t) for t in threats] if isinstance(threats, list) else [],
            country if isinstance(country, str) else None,
        )
    return _render_receipt(
        code if isinstance(code, str) else None, urgent_facts, consented, sent_again=again
    )


def _render_receipt(
    code: str | None,
    urgent_facts: tuple[list[str], str | None] | None,
    consented: bool,
    sent_again: bool = False,
) -> Response:
    urgent = None
    if code is not None and urgent_facts is not None:
        urgent = urgent_guidance(Urgency.IMMEDIATE.value, *urgent_facts)
    page = render_template(
        "public/receipt.html",
        receipt_code=code,
        urgent=urgent,
        urgent_facts=urgent_facts if urgent is not None else None,
        consented=consented,
        sent_again=sent_again,
        kept_minutes=SENT_REQUEST_KEPT_SECONDS // 60,
    )
    response = make_response(page, 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _receipt_in_language() -> ViewResult:
    form = request.form
    if set(form) - RECEIPT_LANGUAGE_FIELDS or any(
        len(form.getlist(name)) != 1 for name in form if name != "urgent_threats"
    ):
        return _refuse(_("The request could not be understood. Nothing was saved."))
    normalised = crypto.normalise_receipt_code(form.get("code", ""))
    if normalised is None:
        return _refuse(_("This is not a receipt code. Nothing was saved."))
    if not _csrf_ok():
        return _refuse(
            _(
                "This page had expired, so it could not be shown in another language. Go back "
                "with your browser's Back button: your receipt code is still on that page."
            )
        )
    consent = form.get("consent", "0")
    if consent not in {"0", "1"}:
        return _refuse(_("The request could not be understood. Nothing was saved."))
    code = crypto.in_groups(normalised)
    urgent_facts = None
    if "urgent_country" in form:  # an "Immediate" request (its country may be empty)
        # Only known vocabulary is shown again or reaches the guidance.
        threats = [t for t in form.getlist("urgent_threats") if t in vocab.THREATS]
        country = form.get("urgent_country", "")
        urgent_facts = (
            list(dict.fromkeys(threats))[:MAX_CHOICES],
            country if country in vocab.ISO_COUNTRIES else None,
        )
    return _render_receipt(code, urgent_facts, consent == "1")


@bp.get("/request/key")
def request_key() -> ViewResult:
    """What the browser needs right before sealing: a fresh CSRF token (a defender may take
    hours to write) and the current organisation key (it may have been rotated meanwhile)."""
    key, verified = keys.sealing_key()
    if key is None:
        return _refuse(_("This organisation is not accepting requests yet."), 503)
    if not verified:
        return _key_unverified()
    return jsonify(
        {"csrf_token": generate_csrf(), **_org_key_json(key), "pow": proof_of_work.issue()}
    )


URGENT_HELP_PARAMS = frozenset({"urgency", "threats", "country", "lang"})


def _urgent_help_limit() -> str:
    return str(current_app.config["URGENT_HELP_RATE_LIMIT"])


def _page_guidance(form: IntakeForm) -> dict[str, Any]:
    """The "Immediate" guidance on a re-shown form: during a database outage the form comes
    back with what the person typed, without the guidance, rather than not at all."""
    try:
        return urgent_guidance(
            form.urgency.data, list(form.threats.data or []), form.country.data or None
        )
    except SQLAlchemyError as error:
        log_outage("reading the urgent channels", error)
        db.session.rollback()
        return {"immediate": False, "channels": []}


def _danger_now() -> dict[str, Any] | None:
    """ "If you are in danger now" for anyone, before anything is chosen: the channels for an
    emergency anywhere, in the page itself. Without JavaScript nothing is asked while the
    person writes, and a link away from the form would lose what they wrote. None when the
    directory has none or cannot be read (the page is shown without it)."""
    try:
        channels = urgent_help.general_channels(_locale())
    except SQLAlchemyError as error:
        log_outage("reading the urgent channels", error)
        db.session.rollback()
        return None
    if not channels:
        return None
    return {
        "immediate": True,
        "channels": [channel.as_dict() for channel in channels],
        "shown_first": urgent_help.SHOWN_FIRST,
    }


def urgent_guidance(urgency: str | None, threats: list[str], country: str | None) -> dict[str, Any]:
    """The "Immediate" guidance for the page and the JSON endpoint alike."""
    if urgency != Urgency.IMMEDIATE.value:
        return {"immediate": False, "channels": []}
    # A re-shown form may hold anything; only known vocabulary reaches triage.
    known = [threat for threat in threats if threat in vocab.THREATS][:MAX_CHOICES]
    channels = urgent_help.urgent_channels(
        known, country if country in vocab.ISO_COUNTRIES else None
    )
    return {
        "immediate": True,
        "channels": [channel.as_dict() for channel in channels],
        "shown_first": urgent_help.SHOWN_FIRST,
    }


@bp.get("/request/urgent-help")
@limiter.limit(_urgent_help_limit, key_func=_client_key)
def urgent_help_channels() -> ViewResult:
    """Channels that act now, from routing facts only: no free text is accepted, so nothing a
    person wrote can reach this endpoint or its logs."""
    args = request.args
    if set(args) - URGENT_HELP_PARAMS or any(len(v) > 32 for v in args.values()):
        return jsonify({"error": _("Only urgency, threats and country are accepted.")}), 400
    if len(args.getlist("urgency")) > 1 or len(args.getlist("country")) > 1:
        return jsonify({"error": _("Only urgency, threats and country are accepted.")}), 400
    urgency = args.get("urgency", "")
    if urgency not in {u.value for u in Urgency}:
        return jsonify({"error": _("Urgency is missing or not one of the listed choices.")}), 400
    raw_threats = args.getlist("threats")
    threats = list(dict.fromkeys(raw_threats))
    if len(raw_threats) > MAX_CHOICES or any(t not in vocab.THREATS for t in threats):
        return jsonify({"error": _("Unknown threat type.")}), 400
    country = args.get("country", "") or None
    if country is not None and country not in vocab.ISO_COUNTRIES:
        return jsonify({"error": _("The country is not an ISO 3166-1 country code.")}), 400
    response = jsonify(urgent_guidance(urgency, threats, country))
    response.headers["Cache-Control"] = "no-store"
    return response


POW_FIELDS = ("pow_challenge", "pow_nonce")
POW_ENVIRON_KEY = "refuge.proof_of_work"
PROFILE_ENVIRON_KEY = "refuge.org_profile"


def _proof_of_work() -> proof_of_work.Outcome | None:
    """The proof of work a browser sent with this request, redeemed once (None if none).

    Kept on the request (not ``g``, which outlives a request when an app context is already
    pushed) because the limiter asks once per limit and the view asks again."""
    if POW_ENVIRON_KEY in request.environ:
        cached: proof_of_work.Outcome | None = request.environ[POW_ENVIRON_KEY]
        return cached
    outcome = None
    if request.method == "POST":
        parsed = _read_form()
        form = parsed[0] if parsed is not None else MultiDict()
        if any(name in form for name in POW_FIELDS) and "sealed_answers" in form:
            outcome = proof_of_work.redeem(form.get("pow_challenge"), form.get("pow_nonce"))
    request.environ[POW_ENVIRON_KEY] = outcome
    return outcome


def _admitted_by_proof() -> bool:
    """Flask-Limiter's exemption: a valid proof of work lets a browser past the per-address
    budget (shared addresses), within the global ceiling."""
    return _proof_of_work() is proof_of_work.Outcome.ADMITTED


def _proof_refused(outcome: proof_of_work.Outcome) -> tuple[Response | str, int]:
    if outcome is proof_of_work.Outcome.CEILING:
        return _refuse(
            _(
                "Too many requests are arriving right now. Nothing was saved. Please try again "
                "in an hour, or contact the organisation another way."
            ),
            429,
        )
    return _refuse(
        _("The anti-flood check could not be verified. Nothing was saved. Please send again."),
        400,
    )


# The language links of the request form post it here (``?lang=…&change_language=1``) so that
# without JavaScript a change of language keeps what was typed; with JavaScript, steps.js turns
# them back into links (the tab keeps the answers itself, and no plaintext is posted).
CHANGE_LANGUAGE = "change_language"


def _typed_form_again(
    notice: str | None = None,
    status: int = 200,
    sealed: Exception | None = None,
    checked: bool = False,
) -> ViewResult:
    """The request form again with what was typed, nothing stored, and ``notice`` (files cannot
    be handed back: the file field asks for them when some were chosen). ``checked``: what is
    missing or wrong is said beside its field too. A browser's sealed post holds nothing to
    show again: ``sealed`` is raised for it, else the form comes back empty."""
    parsed = _read_form()
    if parsed is None:
        return _refuse(_too_large_message(), 413, ATTACHMENTS)
    form_data, files = parsed
    if "sealed_answers" in form_data:
        if sealed is not None:
            raise sealed
        form_data = MultiDict()
    try:
        current, verified = keys.sealing_key()
    except SQLAlchemyError as error:
        return _form_again_while_down(form_data, files, error)
    if current is not None and not verified:
        return _key_unverified()
    form = IntakeForm(form_data)
    if checked:
        form.validate()
    return _render_form(form, current, status=status, notice=notice, had_files=_had_files(files))


def _over_the_limit() -> ViewResult:
    """Too many posts from this address (REQUEST_RATE_LIMIT): nothing is stored. Without
    JavaScript the form comes back with what was typed and why, as after any other refusal
    of a filled form; a page saying only "429" lost a defender everything they wrote (the
    limit counts every post, refused ones too, and Tor Browser's exits are shared). A
    browser's sealed post gets the 429 its script explains, and keeps the answers itself."""
    if request.form.get("urgency") == Urgency.IMMEDIATE.value:
        # The form below shows the channels that act within hours, under the urgency: a
        # person in danger is sent there, not to "the organisation" (which may list no way).
        notice = _(
            "Too many requests have come from your network recently, so this one was not "
            "sent yet. We kept what you wrote. If it cannot wait, contact now one of the "
            "channels under “If you are in danger now” below: they take urgent requests. "
            "You can press Send again in an hour."
        )
    else:
        notice = _(
            "Too many requests have come from your network recently, so this one was not "
            "sent yet. We kept what you wrote: please press Send again in an hour, or "
            "contact the organisation another way if it cannot wait."
        )
    # The script's path is not limited so (the browser does a little work instead): without
    # JavaScript, "in an hour" was all a person in danger was told.
    notice = sentences(
        notice,
        _(
            "With JavaScript on (in Tor Browser, the “Safer” level), this form can send it "
            "now instead. Copy what you wrote first: changing the level reloads the page."
        ),
    )
    # What is still unanswered is said now, not an hour later at the next refusal (a review).
    return _typed_form_again(notice, 429, sealed=TooManyRequests(), checked=True)


def _show_in_language() -> ViewResult:
    """The form again, in the language chosen (``lang``), with what was typed: nothing is
    checked, stored or counted against the submission limit."""
    return _typed_form_again()


@bp.route("/request", methods=["GET", "POST"])
@csrf.exempt
def request_form() -> ViewResult:
    if request.method == "GET":
        current, verified = keys.sealing_key()
        if current is not None and not verified:
            return _key_unverified()
        if request.args.get("new"):
            session.pop(SENT_REQUEST, None)
            session.pop(PENDING_REQUEST, None)
        form = IntakeForm()
        # Back from the receipt, or from a Send whose answer was lost: Chrome fetches this page
        # again (no-store) and puts the answers back, and a new token filed them a second
        # time, with a second code.
        token = _sent_token() or _pending_token()
        if token is not None:
            form.submission_token.data = token
        else:
            session[PENDING_REQUEST] = {
                "token": form.submission_token.data,
                "at": int(time.time()),
            }
        # Without "you sent this before": a GET cannot tell Back from a new visit, and a new
        # visit was told it. Sent again, the same answers get their receipt, which says so
        # (RECEIPT_AGAIN); other answers are a request of their own (_server_sealed_token).
        return _render_form(form, current)

    if request.args.get(CHANGE_LANGUAGE):
        return _show_in_language()
    if not _the_sent_request_again():
        try:
            _limit_submissions()
        except TooManyRequests:
            return _over_the_limit()
    parsed = _read_form()
    if parsed is None:
        return _refuse(_too_large_message(), 413, ATTACHMENTS)
    form_data, files = parsed
    from_browser = "sealed_answers" in form_data
    submitted = _submit_to_trusted_key(form_data, files, from_browser)
    if submitted is not None:
        return submitted
    try:
        org_key, verified = keys.sealing_key()
    except SQLAlchemyError as error:
        if from_browser:  # (JavaScript keeps what they wrote itself)
            _database_down(error)
            return _refuse(database_unavailable_message(), 503)
        return _form_again_while_down(form_data, files, error)
    if org_key is None:
        closed = _("This organisation is not accepting requests yet. Nothing was saved.")
        return _refuse(closed, 503)
    if not verified:
        return _key_unverified()
    if submissions.trusted_sealing_key() is None:
        submissions.trust(org_key)

    if not _csrf_ok():
        if from_browser:
            return _refuse(_("Your session expired. Please send again."), 400)
        # Re-show everything they wrote with a fresh token: nothing is lost (DESIGN §8).
        form = IntakeForm(form_data)
        notice = _(
            "Your form had expired, so it was not sent yet. We kept what you wrote: check it "
            "and press Send again."
        )
        return _render_form(form, org_key, status=400, notice=notice, had_files=_had_files(files))

    outcome = _proof_of_work()
    if outcome is not None and outcome is not proof_of_work.Outcome.ADMITTED:
        return _proof_refused(outcome)
    try:
        if from_browser:
            return _submit_from_browser(form_data, files, org_key)
        return _submit_without_js(form_data, files, org_key)
    except SubmissionRefused as refused:
        return _refused(refused)


SUBMITTED = frozenset({201, 303})  # the browser path's receipt, the no-JS path's redirect


def _status_of(result: ViewResult) -> int:
    if isinstance(result, tuple):
        return result[1]
    return result.status_code if isinstance(result, Response) else 200


def _submit_to_trusted_key(
    form_data: MultiDict[str, str], files: MultiDict[str, FileStorage], from_browser: bool
) -> ViewResult | None:
    """A submission sealed to the key this process verified last (``TrustedKey``), stored
    without reading the key, its pin and the directory version first: the insert checks them
    (one round trip less). Only a stored submission is answered here. Anything else (an
    expired form, errors to show, a refusal, another key, a key or directory that moved on)
    returns None, having stored nothing, and the request goes the usual way, which reads the
    key and answers exactly as before. So do files (their streams can be read only once)."""
    trusted = submissions.trusted_sealing_key()
    if trusted is None or files or not _csrf_ok():
        return None
    outcome = _proof_of_work()
    if outcome is not None and outcome is not proof_of_work.Outcome.ADMITTED:
        return None
    result: ViewResult
    try:
        if from_browser:
            if form_data.get("org_key_id") != str(trusted.id):
                return None
            result = _submit_from_browser(form_data, files, trusted)
        else:
            result = _submit_without_js(form_data, files, trusted)
    except submissions.StaleSealingKey:
        submissions.distrust()
        return None
    except SubmissionRefused:
        return None
    return result if _status_of(result) in SUBMITTED else None


# ---------------------------------------------------------------------------------------------
# Receipt follow-up: /status


def _files_note(count: int) -> str:
    """What the thread says of the files sent with a message ("with 2 files"), or nothing: it
    said only "You wrote" and the text, and a defender could not tell that the evidence went."""
    return ngettext("with %(num)d file", "with %(num)d files", count) if count else ""


def _render_status(
    case: Case,
    code: str,
    follow_up: FollowUpForm | None = None,
    status: int = 200,
    sent: bool = False,
) -> tuple[str, int]:
    org_key = keys.current_org_key()
    thread = submissions.submitter_thread(case)
    browser_opens = request.form.get("browser_opens") == "1"
    return render_template(
        "public/status_detail.html",
        case=case,
        code=code,
        thread=thread,
        files_sent=submissions.files_sent_with(thread),
        files_note=_files_note,
        # The server opens the thread only for a browser that cannot (JavaScript off).
        opened={} if browser_opens else _open_thread(thread, code),
        browser_opens=browser_opens,
        replies=submissions.staff_replies(case),
        # The code again, to the browser that was given it a moment ago (it posted it here).
        sent_code=_sent_from_here(code),
        follow_up=follow_up
        or FollowUpForm(MultiDict({"code": code, SUBMISSION_TOKEN: _follow_up_token()})),
        org_key=org_key,
        draft_tag=_draft_tag(case),
        sent=sent,
        max_files=submissions.attachment_max_count(),
        max_megabytes=f"{submissions.attachment_max_bytes() / (1024 * 1024):g}",
        max_bytes=submissions.attachment_max_bytes(),
    ), status


def _draft_tag(case: Case) -> str:
    """What status.js names a message kept in the tab by (a language change, a withdrawal, a
    send not yet confirmed): a keyed hash of the case, so that another case's page never takes
    it up. Known at once, where a hash made in the browser waited for libsodium, which arrives
    last on a slow link."""
    return _server_digest("status-draft", str(case.id))[:32]


def _follow_up_token() -> str:
    """The no-JS follow-up form's token: this session's until a message is stored."""
    token = session.get(FOLLOW_UP_TOKEN)
    if not isinstance(token, str) or crypto.submission_token_bytes(token) is None:
        token = session[FOLLOW_UP_TOKEN] = crypto.new_submission_token()
    return token


def _open_thread(thread: list[CaseMessage], code: str) -> dict[int, str]:
    """The thread opened with the receipt code the person just posted, for this one response.

    Without JavaScript there is no other way to read it. The server holds the code for this
    request anyway (it looked the case up with it), exactly as on the no-JS intake; the derived
    secret key and the opened text live only while this page is rendered, and nothing is kept.
    The page says so. With JavaScript on, status.js opens the same messages in the browser and
    the form says so (``browser_opens``): the server then opens nothing."""
    normalised = crypto.normalise_receipt_code(code)
    if normalised is None:
        return {}
    _public, secret = crypto.reply_keypair(normalised)
    opened: dict[int, str] = {}
    for message in thread:
        sealed = (
            message.sealed_body
            if message.kind is MessageKind.STAFF_REPLY
            else message.sealed_for_submitter
        )
        if not sealed:
            continue
        try:
            body = crypto.open_answers(sealed, secret).get("body")
        except (CryptoError, ValueError, TypeError):
            continue
        if isinstance(body, str):
            opened[message.id] = body
    return opened


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(_status_limit, methods=["POST"], key_func=_client_key, deduct_when=_failed)
@csrf.exempt
def status() -> ViewResult:
    if request.method == "GET":
        return render_template("public/status.html", form=StatusForm()), 200
    form = StatusForm(request.form)
    if not _csrf_ok():
        form.code.errors = [_("Your form had expired. Please press Show status again.")]
        return render_template("public/status.html", form=form), 400
    if not form.validate():
        return render_template("public/status.html", form=form), 400
    case = submissions.find_case_by_receipt(form.code.data or "")
    if case is None:
        form.code.errors = [_("No request has this receipt code. Check the code and try again.")]
        return render_template("public/status.html", form=form), 404
    submissions.record_status_view(case)
    code = form.code.data or ""
    if request.args.get(CHANGE_LANGUAGE):
        # A language button of the status page without JavaScript posts the follow-up being
        # written (status_detail.html): shown again in the new language, filled in; not sent,
        # not stored. (With JavaScript, status.js keeps it in the tab and posts only the code.)
        # The box has no maxlength and nothing typed is cut (as on the request form): a
        # message over LONG_MAX comes back whole, with the length error beside it, as Send
        # would say. (The request's form size limit bounds what can come back.)
        written = MultiDict({"code": code, "body": request.form.get("body", "")})
        token = request.form.get(SUBMISSION_TOKEN, "")
        if crypto.submission_token_bytes(token) is not None:  # the same message: its token
            written[SUBMISSION_TOKEN] = token
        follow_up = FollowUpForm(written)  # (its filter reads each line break as one)
        if len(follow_up.body.data or "") > LONG_MAX:
            follow_up.body.validate(follow_up)
        return _render_status(case, code, follow_up)
    return _render_status(case, code)


@bp.errorhandler(RateLimitExceeded)
def _over_a_limit(error: RateLimitExceeded) -> ViewResult:
    """Too many wrong codes at /status (STATUS_RATE_LIMIT): the code form again, saying beside
    the field how long to wait (a page headed "429" that said "wait a little" and led to the
    start page left a person locked out not knowing for how long, nor where to come back to).
    The other limits of this blueprint answer as everywhere else."""
    if request.endpoint != "public.status":
        return error_response(429, message_for(error))
    reset_at = limiter.current_limit.reset_at if limiter.current_limit else time.time() + 60
    seconds = max(1, math.ceil(reset_at - time.time()))
    minutes = max(1, math.ceil((seconds - 1) / 60))  # reset_at is rounded up a second
    form = StatusForm(request.form)
    form.code.errors = [
        ngettext(
            "Too many attempts with a wrong code. Wait %(num)d minute, then try again.",
            "Too many attempts with a wrong code. Wait %(num)d minutes, then try again.",
            minutes,
        )
    ]
    response = make_response(render_template("public/status.html", form=form), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _what_is_sent(body: str, files: list[submissions.PlainFile]) -> bytes:
    """A digest of a follow-up sent without JavaScript: its text, and each file's name and
    bytes (two photos sent alone from two tabs are two messages)."""
    digest = hashlib.sha256(body.encode())
    for plain in files:
        for part in (plain.name.encode(), plain.data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.digest()


@bp.post("/status/follow-up")
@limiter.limit(_follow_up_limit, key_func=_client_key, deduct_when=_follow_up_counted)
@csrf.exempt
def follow_up() -> ViewResult:
    """A follow-up from the submitter. It carries a submission token, one per written message:
    sent again after its answer was lost, it is stored once and answered as the first time."""
    parsed = _read_form()
    if parsed is None:
        return _refuse(_too_large_message(follow_up=True), 413, ATTACHMENTS)
    form_data, files = parsed
    from_browser = "sealed_body" in form_data
    if from_browser:
        try:
            _files_as_text(form_data)
        except SubmissionRefused as refused:
            return _refused(refused)
    allowed = BROWSER_FOLLOW_UP_FIELDS if from_browser else NO_JS_FOLLOW_UP_FIELDS
    unexpected = sorted(set(form_data) - allowed)
    if unexpected:
        return _refuse(
            _("Unexpected fields: %(names)s. Nothing was saved.", names=", ".join(unexpected[:5]))
        )
    try:
        submission_token = _submission_token(form_data)
    except SubmissionRefused as refused:
        return _refused(refused)
    case = submissions.find_case_by_receipt(form_data.get("code", ""))
    if case is None:
        return _refuse(_("No request has this receipt code. Nothing was saved."), 404)
    code = form_data.get("code", "")
    org_key, verified = keys.sealing_key()
    if org_key is None:  # pragma: no cover — a case exists, so a key was in use
        return _refuse(_("This organisation is not accepting messages. Nothing was saved."), 503)
    if not verified:
        return _key_unverified()
    try:
        if from_browser:
            if not _csrf_ok():
                return _refuse(_("Your session expired. Please send again."), 400)
            key = submissions.usable_org_key(form_data.get("org_key_id"), current=org_key)
            own_copy = form_data.get("sealed_for_submitter")
            for sealed_text in (form_data.get("sealed_body"), own_copy):
                _fits_sealed(sealed_text, MESSAGE_TOO_LONG_TO_SEAL, "body")
            sealed_body = submissions.check_sealed_answers(form_data.get("sealed_body"))
            sealed_files = _sealed_uploads(files)
            stored = submissions.add_follow_up(
                case,
                org_key=key,
                sealed_body=sealed_body,
                sealed_files=sealed_files,
                sealed_for_submitter=(
                    submissions.check_sealed_answers(own_copy) if own_copy else None
                ),
                submission_token=submission_token,
            )
            request.environ[FOLLOW_UP_REPEATED] = stored is None
            follow_ups.enqueue(stored)  # after the commit (DESIGN §8)
            # What the thread says of the files with it, as below: status.js adds the message.
            return jsonify({"sent": True, "files_note": _files_note(len(sealed_files))}), 201
        form = FollowUpForm(CombinedMultiDict([files, form_data]))
        if not _csrf_ok():
            form.body.errors = [
                _(
                    "Your form had expired, so it was not sent yet. We kept your message: press "
                    "Send again."
                )
            ]
            return _render_status(case, code, form, status=400)
        valid = form.validate()
        plain_files, file_errors = _plain_files(form)
        if file_errors:
            form.attachments.errors = [*form.attachments.errors, *file_errors]
            valid = False
        if not valid:
            return _render_status(case, code, form, status=422)
        body = form.body.data or ""
        if not body.strip():
            body = ""  # files alone: the thread says so, not an empty message
        stored = submissions.add_follow_up_from_plaintext(
            case,
            org_key=org_key,
            body=body,
            files=plain_files,
            # The session's token is the same on two tabs: bound to the text and the files as
            # well, two different messages are never taken for one (the same sent again is).
            submission_token=(
                submission_token + _what_is_sent(body, plain_files)
                if submission_token is not None
                else None
            ),
        )
        request.environ[FOLLOW_UP_REPEATED] = stored is None
        follow_ups.enqueue(stored)  # after the commit (DESIGN §8)
        session.pop(FOLLOW_UP_TOKEN, None)  # stored (now or before): the next message, a new one
    except SubmissionRefused as refused:
        return _refused(refused)
    return _render_status(case, code, sent=True)
