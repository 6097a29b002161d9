"""Settings per environment (``INTAKE_ENV``), read from the environment variables of DESIGN §7."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """Raised when the environment cannot give a safe configuration."""


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _bool(name: str, default: bool) -> bool:
    """A yes-or-no setting; anything else is refused, since ``MAIL_USE_TLS=ture`` read as false
    would send mail in the clear without a word."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false (or 1/0, yes/no, on/off), got {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _rate_limit(name: str, default: str) -> str:
    """A Flask-Limiter limit string such as ``10 per hour;30 per day``, checked at start-up so
    that a typo fails loudly instead of silently lifting the limit."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a rate limit like '10 per hour', got {raw!r}") from exc
    return raw


# A hundred years: the way to keep closed cases for good (a date further off overflows).
RETENTION_DAYS_MAX = 36500


def _retention_days() -> int:
    """RETENTION_DAYS: 0 or less would delete every closed case at the next nightly purge,
    which an operator meaning "keep for ever" might well type."""
    days = _int("RETENTION_DAYS", 365)
    if not 1 <= days <= RETENTION_DAYS_MAX:
        raise ConfigError(
            f"RETENTION_DAYS is how many days closed cases are kept before the nightly purge "
            f"deletes them; it must be from 1 to {RETENTION_DAYS_MAX}, got {days} (0 or less "
            f"would delete every closed case). To keep closed cases longer, set a larger "
            f"number: {RETENTION_DAYS_MAX} keeps them a hundred years"
        )
    return days


MAIL_BACKENDS = ("smtp", "file")


def _mail_backend(mail_server: str) -> str:
    """``smtp`` through MAIL_SERVER, or ``file`` (e-mails written to ``instance/outbox/``, not
    sent): MAIL_BACKEND when set, else whether MAIL_SERVER is."""
    raw = (os.environ.get("MAIL_BACKEND") or "").strip().lower()
    if not raw:
        return "smtp" if mail_server else "file"
    if raw not in MAIL_BACKENDS:
        raise ConfigError(f"MAIL_BACKEND must be smtp or file, got {raw!r}")
    if raw == "smtp" and not mail_server:
        raise ConfigError("MAIL_BACKEND=smtp needs MAIL_SERVER (the SMTP relay's host name)")
    return raw


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgres://`` and ``postgresql://`` URLs (Heroku-style names too)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def private_instance_folder(instance_path: Path) -> None:
    """Make ``instance/`` readable by its owner only: with SQLite it holds the database (the
    routing facts in the clear, the sealed cases), the broker, the reminder e-mails written to
    files and the secret key, and the files SQLite creates (the database, its journal) are
    world-readable under the usual umask. A new folder is the owner's alone; an existing one
    that any user could open is closed to them at start (its group, an operator's choice,
    keeps what it has)."""
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = instance_path.stat()
    if status.st_mode & 0o007 and status.st_uid == os.getuid():
        instance_path.chmod(status.st_mode & 0o770)


def instance_secret_key(instance_path: Path) -> str:
    """Read, or create once, a random secret key in ``instance/``.

    Created with O_EXCL so that several processes starting together agree on one key.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def _from_environment() -> dict[str, Any]:
    """Settings read when the app is built, so a changed environment is always seen."""
    scan_minutes = _int("DEADLINE_SCAN_MINUTES", 5)
    return {
        "INSTANCE_PATH": Path(os.environ.get("INTAKE_INSTANCE_PATH", DEFAULT_INSTANCE)),
        "ORG_TIMEZONE": os.environ.get("ORG_TIMEZONE", "UTC"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "refuge@localhost"),
        # A dead mail server must not stall a worker (DESIGN §8).
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "DEADLINE_SCAN_MINUTES": scan_minutes,
        "DAILY_DIGEST": _bool("DAILY_DIGEST", True),
        # A row claimed for sending longer ago than this belongs to a dead worker: send again.
        "REMINDER_CLAIM_TIMEOUT_SECONDS": _int("REMINDER_CLAIM_TIMEOUT_SECONDS", 120),
        # An unsent row queued longer ago than this is queued again (the broker lost it?). Just
        # under one scan interval, so the next scan or the one after re-queues a lost send.
        "REMINDER_REQUEUE_SECONDS": _int(
            "REMINDER_REQUEUE_SECONDS", max(60, scan_minutes * 60 - 30)
        ),
        # How long a refused or unreachable mail server is retried before the row fails.
        "REMINDER_RETRY_HOURS": _int("REMINDER_RETRY_HOURS", 24),
        # E-mails per send task at most: they share one claim and read, and the SMTP session;
        # a scan's last tasks are smaller (reminders.task_sizes), so that the workers finish
        # together. What was sent is marked every 50 (reminders.MARK_SENT_EVERY) whatever
        # this is.
        "REMINDER_SEND_BATCH": _int("REMINDER_SEND_BATCH", 200),
        # Worker and beat record they are alive this often; /healthz calls one stale after
        # HEARTBEAT_STALE_SECONDS without a sign of life.
        "HEARTBEAT_SECONDS": _int("HEARTBEAT_SECONDS", 60),
        "HEARTBEAT_STALE_SECONDS": _int("HEARTBEAT_STALE_SECONDS", 300),
        "RETENTION_DAYS": _retention_days(),
        # E-mail links; unset, they follow the served address (intake.links.base_url).
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or None,
        "TRUST_PROXY": _bool("TRUST_PROXY", False),
        # What the public form promises ("up to 5 files, at most 10 MB each"); the largest
        # request accepted (MAX_CONTENT_LENGTH) is derived from these (request_max_bytes).
        "ATTACHMENT_MAX_BYTES": _int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
        "ATTACHMENT_MAX_COUNT": _int("ATTACHMENT_MAX_COUNT", 5),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # The public form (DESIGN §1: floods of the form) and staff sign-in, per client.
        "REQUEST_RATE_LIMIT": _rate_limit("REQUEST_RATE_LIMIT", "10 per hour;30 per day"),
        "STATUS_RATE_LIMIT": _rate_limit("STATUS_RATE_LIMIT", "5 per minute;30 per hour"),
        "FOLLOW_UP_RATE_LIMIT": _rate_limit("FOLLOW_UP_RATE_LIMIT", "10 per hour"),
        "LOGIN_RATE_LIMIT": _rate_limit("LOGIN_RATE_LIMIT", "10 per minute;60 per hour"),
        # "Immediate" guidance on the form: routing facts in, directory channels out.
        "URGENT_HELP_RATE_LIMIT": _rate_limit("URGENT_HELP_RATE_LIMIT", "30 per minute"),
        # Shared addresses (a Tor exit, an office behind one NAT): a browser whose per-address
        # budget is spent may still send after a proof of work (README "Shared addresses").
        # Leading zero bits of BLAKE2b-256(challenge:nonce); 18 bits ≈ 262,000 hashes on
        # average, a few seconds on a mid-range phone (bench/bench_pow.py).
        "POW_DIFFICULTY_BITS": _int("POW_DIFFICULTY_BITS", 18),
        "POW_TTL_SECONDS": _int("POW_TTL_SECONDS", 3600),
        # What proofs of work may let through in all, whoever sends them.
        "POW_GLOBAL_LIMIT": _rate_limit("POW_GLOBAL_LIMIT", "200 per hour"),
    }


# Room in a request besides its files: the routing fields, tokens and each part's multipart
# headers (a few hundred bytes each). The answers are counted apart (request_max_bytes).
FORM_OVERHEAD_BYTES = 64 * 1024
# The settings derived from the attachment limits when create_app's overrides do not set them.
REQUEST_LIMIT_SETTINGS = ("MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE")
# Pages loaded before sealed files went as raw bytes post each one in base64 (a part named
# "sealed.bin", intake.public.routes): a form open in a defender's tab during a deploy must
# still send, so the request limit keeps room for them. When that reading goes, so does this.
OLDER_PAGES_POST_BASE64_FILES = True


def base64_length(size: int) -> int:
    """Characters of standard base64, with padding, for ``size`` bytes."""
    return -(-size // 3) * 4


def request_max_bytes(
    attachment_max_count: int,
    attachment_max_bytes: int,
    answers_max_bytes: int,
    *,
    base64_files: bool = OLDER_PAGES_POST_BASE64_FILES,
) -> int:
    """The largest request the public form must accept (MAX_CONTENT_LENGTH): the form's promise,
    ``attachment_max_count`` files of ``attachment_max_bytes`` each, with the longest answers.

    The browser path is the larger: it posts each file sealed (its envelope padded to the bucket
    of the largest file the server takes, submissions.sealed_file_max_bytes), as a binary part,
    so a 10 MiB file travels as 11 MiB of ciphertext plus the part's headers; and its answers
    sealed, at most ``answers_max_bytes``, in base64. Without JavaScript the same files travel as
    they are, and the answers as typed (91,000 characters at most, under 364 KB in UTF-8).

    ``base64_files``: the files may come in base64 instead, as pages loaded before the binary
    parts post them (a third more, 14.7 MiB for that file): the limit holds those."""
    # The padding rule and the seal are intake.crypto's; imported here, when the app is built,
    # since the intake package imports this module.
    from intake.crypto import SEAL_OVERHEAD, file_bucket
    from intake.services.submissions import FILE_HEADER_MAX

    sealed_file = file_bucket(attachment_max_bytes + FILE_HEADER_MAX + 1) + SEAL_OVERHEAD
    on_the_wire = base64_length(sealed_file) if base64_files else sealed_file
    return (
        attachment_max_count * on_the_wire + base64_length(answers_max_bytes) + FORM_OVERHEAD_BYTES
    )


# The largest text field the public pages read (MAX_FORM_MEMORY_SIZE): far over any answer's
# limit, so that a paste of a whole document comes back to be shortened rather than lost, and
# over the browser's sealed answers. Files are parts of their own and never count here. It was
# the whole request's limit (77 MB): one field that size was parsed, and a language change
# echoed it back escaped, 175 MB and 4 s of CPU per post (a security review).
TYPED_FIELD_MAX_BYTES = 2 * 1024 * 1024


def field_max_bytes(answers_max_bytes: int) -> int:
    """MAX_FORM_MEMORY_SIZE: a typed answer's room, or the sealed answers' in base64."""
    return max(TYPED_FIELD_MAX_BYTES, base64_length(answers_max_bytes) + FORM_OVERHEAD_BYTES)


def with_request_limits(values: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with MAX_CONTENT_LENGTH (request_max_bytes) and MAX_FORM_MEMORY_SIZE
    (field_max_bytes) derived from the attachment and answer limits they hold, each unless
    ``overrides`` sets it itself: a limit follows the files whether they were set in the
    environment or by create_app."""
    derived = {
        "MAX_CONTENT_LENGTH": request_max_bytes(
            values["ATTACHMENT_MAX_COUNT"],
            values["ATTACHMENT_MAX_BYTES"],
            values["SEALED_ANSWERS_MAX_BYTES"],
        ),
        "MAX_FORM_MEMORY_SIZE": field_max_bytes(values["SEALED_ANSWERS_MAX_BYTES"]),
    }
    for name in REQUEST_LIMIT_SETTINGS:
        if name not in overrides:
            values[name] = derived[name]
    return values


class BaseSettings:
    # No pool_pre_ping (a round trip per request): intake.hardening.watch_connections checks
    # each pooled PostgreSQL connection from its socket instead.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SQLALCHEMY_RECORD_QUERIES = False

    # Sessions: short, strict, rotated at login (DESIGN §1.5).
    SESSION_COOKIE_NAME = "refuge_session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Strict"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    SESSION_IDLE_MINUTES = 30
    REMEMBER_COOKIE_DURATION = timedelta(0)

    WTF_CSRF_TIME_LIMIT = 3600
    # Flask-WTF's HTTPS Referer check refuses every POST when no Referer is sent, and our
    # Referrer-Policy is no-referrer (DESIGN §1.7). The token plus SameSite=Strict cookies stay.
    WTF_CSRF_SSL_STRICT = False
    # ATTACHMENT_MAX_COUNT files of ATTACHMENT_MAX_BYTES each (read from the environment,
    # _from_environment) or given to create_app; MAX_CONTENT_LENGTH follows from them
    # (request_max_bytes, in settings_for, after any overrides).
    # A text field may be as large as the body (Werkzeug's default is 500 KB): a story pasted
    # whole without JavaScript then comes back beside its length error, not refused unread.

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    # Public pages reach defenders in the languages of the organisations they are referred to
    # (Front Line Defenders' five, plus both Chinese scripts); staff pages are kept complete in
    # the three the desk works in (DESIGN §7). LANGUAGES is every locale the app can show.
    PUBLIC_LANGUAGES = ("en", "zh_Hant", "zh_Hans", "es", "fr", "ru", "ar")
    STAFF_LANGUAGES = ("en", "zh_Hant", "zh_Hans")
    LANGUAGES = PUBLIC_LANGUAGES

    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_STRATEGY = "fixed-window"
    # If Redis is unreachable, limit per process in memory rather than fail the request: a
    # defender's submission must not be lost to a cache outage (Redis may lose everything).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    REMINDER_OFFSETS_DAYS = (14, 7, 3, 1, 0)
    REMINDER_QUEUE_BATCH = 5000
    FOLLOW_UP_DAYS = 14
    # A submission to a UN mandate that has not led to a communication: check after this many days.
    UN_FOLLOW_UP_DAYS = _int("UN_FOLLOW_UP_DAYS", 30)

    # Sign-in and key custody (DESIGN §1.5, §3); LOGIN_RATE_LIMIT is read with the other
    # rate limits above (from the environment).
    # Failures slow an account down (doubling waits) instead of locking its owner out; a
    # trusted device (signed cookie from an earlier full sign-in) is not slowed down.
    LOGIN_FREE_FAILURES = 3
    LOGIN_DELAY_BASE_SECONDS = 30
    LOGIN_DELAY_MAX_SECONDS = 3600
    TOTP_DAILY_CAP = 20
    TRUSTED_DEVICE_DAYS = 90
    KEY_WRAP_OPS_LIMIT = 3  # crypto_pwhash in the staff browser
    KEY_WRAP_MEM_LIMIT = 64 * 1024 * 1024
    KEYRING_IDLE_MINUTES = 15
    ENROL_TOKEN_DAYS = 7
    TOTP_ISSUER = "Refuge"
    # /auth/salt, asked before each sign-in (how this e-mail's password is derived), per client.
    SALT_RATE_LIMIT = "30 per minute;300 per hour"
    # create_app checks the schema and the keys against the database (intake.start_checks).
    CHECK_KEYS_AT_START = True

    # The public form's rate limits are read from the environment (_from_environment).
    # Every answer of the request form at its limit (what its counters let through), each
    # character as JSON writes the largest (six bytes, a control character's \u escape; an
    # emoji takes four), padded and sealed: 535 KiB. At 320 KiB a form of emoji within every
    # counter was refused (tests/public/test_sealed_size.py holds the two together).
    SEALED_ANSWERS_MAX_BYTES = 540 * 1024

    ARGON2_TIME_COST = 2
    ARGON2_MEMORY_KIB = 19456
    ARGON2_PARALLELISM = 1

    @classmethod
    def as_dict(cls) -> dict[str, Any]:
        values = {name: getattr(cls, name) for name in dir(cls) if name.isupper()}
        values.update(_from_environment())
        instance_path: Path = values["INSTANCE_PATH"]
        database_url = os.environ.get("DATABASE_URL", "")
        values["SQLALCHEMY_DATABASE_URI"] = (
            normalise_database_url(database_url)
            if database_url
            else f"sqlite:///{instance_path / 'refuge.sqlite'}"
        )
        values["SECRET_KEY"] = os.environ.get("SECRET_KEY") or None
        # Keys the audit chain's HMAC; set it apart from SECRET_KEY to rotate that freely.
        values["AUDIT_KEY"] = os.environ.get("AUDIT_KEY") or None
        # Encrypts TOTP secrets and keys recovery-code hashes; not in the database.
        values["TOTP_KEY"] = os.environ.get("TOTP_KEY") or None
        values["CELERY_BROKER_URL"] = (
            values["REDIS_URL"] or f"sqla+sqlite:///{instance_path / 'broker.sqlite'}"
        )
        values["RATELIMIT_STORAGE_URI"] = values["REDIS_URL"] or "memory://"
        values["MAIL_BACKEND"] = _mail_backend(values["MAIL_SERVER"])
        if values["MAIL_USE_TLS"] and values["MAIL_USE_SSL"]:
            raise ConfigError(
                "set MAIL_USE_TLS (STARTTLS, usually port 587) or MAIL_USE_SSL (TLS from the "
                "start, usually port 465), not both"
            )
        values["MAIL_FILE_PATH"] = str(instance_path / "outbox")
        return values


class DevelopmentSettings(BaseSettings):
    ENV_NAME = "development"
    # http://127.0.0.1 is a secure context for browsers, so Secure cookies still work locally.


class TestingSettings(BaseSettings):
    ENV_NAME = "testing"
    TESTING = True
    PREFERRED_URL_SCHEME = "https"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 64
    KEY_WRAP_OPS_LIMIT = 1  # the browser's crypto_pwhash at its minimum: tests only
    KEY_WRAP_MEM_LIMIT = 8192
    RATELIMIT_ENABLED = True
    # Tests build their schema after the app, and turn the start checks on where they test them.
    CHECK_KEYS_AT_START = False


SECRET_KEY_MIN_LENGTH = 32
GENERATE_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ProductionSettings(BaseSettings):
    ENV_NAME = "production"
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def as_dict(cls) -> dict[str, Any]:
        values = super().as_dict()
        if not os.environ.get("SECRET_KEY"):
            raise ConfigError("production needs SECRET_KEY set explicitly")
        if len(os.environ["SECRET_KEY"]) < SECRET_KEY_MIN_LENGTH:
            # Flask signs session cookies with it: a short one is guessed offline from any
            # cookie the public form hands out, and then a staff session can be forged.
            raise ConfigError(
                f"production needs a SECRET_KEY of at least {SECRET_KEY_MIN_LENGTH} characters: "
                f"generate one with {GENERATE_KEY_COMMAND}. On an instance already in use, read "
                f'README "Keys" before changing it'
            )
        if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
            raise ConfigError("production needs DATABASE_URL pointing at PostgreSQL")
        if not os.environ.get("REDIS_URL"):
            raise ConfigError("production needs REDIS_URL (broker and rate-limit storage)")
        if not os.environ.get("MAIL_SERVER") and (
            (os.environ.get("MAIL_BACKEND") or "").strip().lower() != "file"
        ):
            raise ConfigError(
                "production needs MAIL_SERVER (the SMTP relay that sends reminders and security "
                "notices); to write e-mails to files in instance/outbox/ instead, set "
                "MAIL_BACKEND=file"
            )
        return values


SETTINGS: dict[str, type[BaseSettings]] = {
    "development": DevelopmentSettings,
    "testing": TestingSettings,
    "production": ProductionSettings,
}


def settings_for(
    env_name: str | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings of ``env_name`` (else INTAKE_ENV), with ``overrides`` (create_app's) on top;
    the request limits are derived last, from what the overrides left (with_request_limits)."""
    name = (env_name or os.environ.get("INTAKE_ENV") or "development").strip().lower()
    try:
        settings = SETTINGS[name]
    except KeyError as exc:
        choices = ", ".join(sorted(SETTINGS))
        raise ConfigError(f"INTAKE_ENV={name!r} is not one of {choices}") from exc
    values = settings.as_dict()
    values.update(overrides or {})
    return with_request_limits(values, overrides or {})


def start_warnings(values: Mapping[str, Any]) -> list[str]:
    """What is allowed but probably wrong, for the log when a process starts."""
    warnings = []
    if values.get("ENV_NAME") == "production" and values.get("MAIL_BACKEND") == "file":
        warnings.append(
            "MAIL_BACKEND=file: e-mails are written to files in instance/outbox/, not sent"
        )
    if values.get("ENV_NAME") == "production" and values.get("MAIL_BACKEND") == "smtp":
        sender = str(values.get("MAIL_DEFAULT_SENDER") or "")
        domain = parseaddr(sender)[1].rpartition("@")[2].lower()
        if domain == "localhost" or "." not in domain:
            warnings.append(
                f"MAIL_DEFAULT_SENDER is {sender!r}: mail relays refuse senders without a real "
                f"domain; set it to an address of your organisation"
            )
    return warnings
