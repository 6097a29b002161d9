"""The only PyNaCl user: sealing, validation of browser ciphertext, fingerprints, receipts.

Everything a submitter writes is sealed with ``crypto_box_seal`` (X25519 + XSalsa20-Poly1305)
to the organisation's public key — in the browser by libsodium.js, or here when JavaScript is
off. Only holders of the organisation secret key (unwrapped in a caseworker's browser) can open
it. Base64 on the wire is the *standard* alphabet with padding (libsodium.js
``base64_variants.ORIGINAL``), which is what :func:`b64decode_strict` accepts.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from base64 import b64decode, b64encode, urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from typing import Any

from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.pwhash import argon2id
from nacl.secret import SecretBox
from nacl.utils import random as nacl_random

KEY_BYTES = 32
SEAL_OVERHEAD = 48  # crypto_box_SEALBYTES: ephemeral public key + MAC
PAD_BLOCK = 1024  # answers are padded to a multiple of this before sealing (sodium_pad)
# Evidence files are padded to a size bucket before sealing, so that a stored size says little
# about the file: the next power of two from 4 KiB up to 1 MiB, then whole MiB (static/js/sealed.js
# computes the same buckets; README's security section documents them).
FILE_BUCKET_MIN = 4 * 1024
FILE_BUCKET_STEP = 1024 * 1024
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
if len(RECEIPT_ALPHABET) != 32:  # random_symbols takes five bits per symbol
    raise RuntimeError("the receipt alphabet must have 32 symbols")
RECEIPT_GROUPS = 5
RECEIPT_GROUP_LENGTH = 4  # 20 symbols × 5 bits = 100 bits
REPLY_KEY_CONTEXT = b"refuge-reply-key-v1:"


class InvalidCiphertext(ValueError):
    """Ciphertext from a client that is not what we accept; the message is safe to show."""


def b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def b64decode_strict(text: str, *, what: str = "value") -> bytes:
    """Decode standard base64 with padding, refusing anything else (URL-safe, junk, spaces)."""
    if not isinstance(text, str) or not text:
        raise InvalidCiphertext(f"{what} is missing")
    try:
        return b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidCiphertext(f"{what} is not standard base64") from exc


def public_key_from_b64(text: str) -> PublicKey:
    raw = b64decode_strict(text, what="public key")
    if len(raw) != KEY_BYTES:
        raise InvalidCiphertext("public key has the wrong length")
    return PublicKey(raw)


def fingerprint(public_key_b64: str) -> str:
    """What people compare out of band: SHA-256 of the raw key, 16 groups of 4 hex digits."""
    digest = hashlib.sha256(b64decode_strict(public_key_b64, what="public key")).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4)).upper()


def short_fingerprint(public_key_b64: str) -> str:
    """A staff key's fingerprint to read aloud, the first four groups of :func:`fingerprint`
    (64 bits): the raw key's own letters ("sDN/OpjMLqUI") mixed cases, "/", O and 0."""
    return fingerprint(public_key_b64)[:19]


def generate_keypair() -> tuple[str, bytes]:
    """A new X25519 keypair: (public key base64, raw secret key). For the CLI and tests."""
    secret = PrivateKey.generate()
    return b64(bytes(secret.public_key)), bytes(secret)


def pad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    """ISO/IEC 7816-4 padding, byte-for-byte what libsodium's ``sodium_pad`` produces."""
    padded_length = (len(data) // block + 1) * block
    return data + b"\x80" + b"\x00" * (padded_length - len(data) - 1)


def unpad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    if not data or len(data) % block:
        raise InvalidCiphertext("padding is invalid")
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80") or len(data) - len(stripped) >= block:
        raise InvalidCiphertext("padding is invalid")
    return stripped[:-1]


def file_bucket(length: int) -> int:
    """The padded size of ``length`` bytes of file envelope: room for at least the 0x80 byte."""
    needed = length + 1
    if needed > FILE_BUCKET_STEP:
        return -(-needed // FILE_BUCKET_STEP) * FILE_BUCKET_STEP
    bucket = FILE_BUCKET_MIN
    while bucket < needed:
        bucket *= 2
    return bucket


def is_file_bucket(size: int) -> bool:
    """Whether ``size`` is one of the sizes :func:`file_bucket` produces."""
    if size <= 0:
        return False
    if size >= FILE_BUCKET_STEP:
        return size % FILE_BUCKET_STEP == 0
    return size >= FILE_BUCKET_MIN and size & (size - 1) == 0


def pad_file(envelope: bytes) -> bytes:
    """A file envelope padded to its bucket (ISO/IEC 7816-4, as ``sodium_pad`` with the bucket
    as the block size: ``len(envelope) < bucket``, so exactly one block)."""
    return pad(envelope, file_bucket(len(envelope)))


def seal(plaintext: bytes, public_key_b64: str) -> bytes:
    return bytes(SealedBox(public_key_from_b64(public_key_b64)).encrypt(plaintext))


def seal_answers(answers: dict[str, Any], public_key_b64: str) -> str:
    """Server-side sealing for the no-JavaScript path: the same shape the browser produces."""
    payload = json.dumps(answers, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return b64(seal(pad(payload), public_key_b64))


def unseal(ciphertext: bytes, secret_key: bytes) -> bytes:
    try:
        return bytes(SealedBox(PrivateKey(secret_key)).decrypt(ciphertext))
    except CryptoError as exc:
        raise InvalidCiphertext("cannot be opened with this key") from exc


def open_answers(sealed_b64: str, secret_key: bytes) -> dict[str, Any]:
    """Open sealed answers (tests, benchmarks and the demo; staff decrypt in their browser)."""
    plain = unpad(unseal(b64decode_strict(sealed_b64, what="answers"), secret_key))
    answers: dict[str, Any] = json.loads(plain.decode("utf-8"))
    return answers


def validate_sealed(text: str, *, max_bytes: int, what: str = "ciphertext") -> bytes:
    """Check browser ciphertext's format and size before it is stored; never trusts content.

    A sealed box is at least ``SEAL_OVERHEAD`` + 1 bytes; padded answers make it at least one
    block. We cannot check the MAC without the secret key (which the server never has).
    """
    return validate_sealed_bytes(
        decode_sealed(text, max_bytes=max_bytes, what=what), max_bytes=max_bytes, what=what
    )


def decode_sealed(text: str, *, max_bytes: int, what: str = "ciphertext") -> bytes:
    """Browser ciphertext in base64, decoded (strictly) unless its text is already longer than
    ``max_bytes`` can be: its length is checked by :func:`validate_sealed_bytes`."""
    if len(text) > (max_bytes * 4) // 3 + 8:
        raise InvalidCiphertext(f"{what} is too large")
    return b64decode_strict(text, what=what)


def validate_sealed_bytes(raw: bytes, *, max_bytes: int, what: str = "ciphertext") -> bytes:
    """:func:`validate_sealed` of ciphertext that came as raw bytes (a sealed file's part), or
    once decoded: long enough to be a sealed box, not longer than ``max_bytes``."""
    if len(raw) <= SEAL_OVERHEAD:
        raise InvalidCiphertext(f"{what} is too short to be sealed")
    if len(raw) > max_bytes:
        raise InvalidCiphertext(f"{what} is too large")
    return raw


def validate_padded(text: str, *, max_bytes: int, what: str = "message") -> bytes:
    """:func:`validate_sealed`, and the sealed plaintext is whole ``PAD_BLOCK`` blocks: a
    message, note or reply padded as the browser pads it, whose size says nothing exact."""
    raw = validate_sealed(text, max_bytes=max_bytes, what=what)
    body = len(raw) - SEAL_OVERHEAD
    if body < PAD_BLOCK or body % PAD_BLOCK:
        raise InvalidCiphertext(f"{what} is not padded to whole blocks")
    return raw


def random_symbols(count: int) -> str:
    """``count`` symbols of RECEIPT_ALPHABET, five random bits each, all read from one draw of
    the system's generator (``secrets.choice`` per symbol is a system call per symbol: twenty
    for every receipt code, on every submission)."""
    bits = int.from_bytes(secrets.token_bytes((count * 5 + 7) // 8), "big")
    return "".join(RECEIPT_ALPHABET[(bits >> (5 * i)) & 31] for i in range(count))


def in_groups(symbols: str, size: int = RECEIPT_GROUP_LENGTH) -> str:
    """Symbols in dash-separated groups, as people write a code down: ``ABCD-EFGH-…``."""
    return "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))


def new_receipt_code() -> str:
    """A receipt code of 100 random bits, in groups that are easy to write down."""
    return in_groups(random_symbols(RECEIPT_GROUPS * RECEIPT_GROUP_LENGTH))


# What a receipt code's (or a recovery key's) groups may be separated by: every space of
# Python's and JavaScript's ``\s`` (which differ: U+0085 is only Python's,
# U+FEFF only JavaScript's), the zero-width characters a copy from a chat app carries, a
# phone's "smart" dashes (en and em dash, minus sign) and the hyphens of other scripts'
# keyboards. Full-width forms (a Chinese input method's ＡＢＣＤ－１２３４) are read as their
# ASCII letters first (NFKC). Written out, not ``\s``, so that submitter.js and recovery.js
# carry the very same class (tests/test_code_separators.py compares the texts).
CODE_SEPARATOR_CLASS = (
    r"\t\n\v\f\r\u0020\u0085\u00a0\u1680\u2000-\u200d\u2028\u2029\u202f\u205f"
    r"\u2060\u3000\ufeff\-\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d"
)
_CODE_SEPARATORS = re.compile(f"[{CODE_SEPARATOR_CLASS}]+")


# Letters and digits that look like a code's but are not ASCII, as another keyboard types them:
# Cyrillic and Greek capitals, Arabic-Indic and Persian digits. NFKC keeps them apart, and a
# code typed on a Russian or Arabic keyboard found no request and spent the /status limit.
# submitter.js folds the same ones (CODE_LOOKALIKES).
_CODE_LOOKALIKES = str.maketrans(
    "АВЕЗКМНОРСТУХЅІЈҮΑΒΕΖΗΙΚΜΝΟΡΤΥΧ٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹",
    "ABE3KMHOPCTYXSIJYABEZHIKMNOPTYX01234567890123456789",
)


def receipt_code_characters(code: str) -> str:
    """The characters of a typed receipt code that count: full-width forms read as ASCII,
    spaces and dashes of any kind dropped, upper case, look-alikes of other scripts read as
    the letters and digits they look like (submitter.js does the same)."""
    cleaned = _CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()
    return cleaned.translate(_CODE_LOOKALIKES)


def receipt_code_strangers(code: str) -> list[str]:
    """The characters of a typed code that no code has (U, a symbol, another alphabet's
    letter), each once, in the order typed: a refusal names them."""
    read_as = set(RECEIPT_ALPHABET + "OIL")
    return list(dict.fromkeys(ch for ch in receipt_code_characters(code) if ch not in read_as))


def normalise_receipt_code(code: str) -> str | None:
    """Upper-case, drop spaces and dashes, read O as 0 and I/L as 1; None if not a code."""
    cleaned = receipt_code_characters(code)
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    expected = RECEIPT_GROUPS * RECEIPT_GROUP_LENGTH
    if len(cleaned) != expected or any(ch not in RECEIPT_ALPHABET for ch in cleaned):
        return None
    return cleaned


def receipt_lookup(normalised_code: str, server_secret: str) -> str:
    """Keyed hash of a receipt code, the only form in which the server keeps it."""
    key = hashlib.sha256(b"refuge-receipt:" + server_secret.encode()).digest()
    return hmac.new(key, normalised_code.encode("ascii"), hashlib.sha256).hexdigest()


def reply_keypair(normalised_code: str) -> tuple[str, bytes]:
    """The submitter's reply keypair, derived from the receipt code exactly as the browser does
    (BLAKE2b-256 of context + code as the seed of ``crypto_box_seed_keypair``)."""
    seed = blake2b(
        REPLY_KEY_CONTEXT + normalised_code.encode("ascii"), digest_size=32, encoder=RawEncoder
    )
    secret = PrivateKey.from_seed(seed)
    return b64(bytes(secret.public_key)), bytes(secret)


# --- The organisation's recovery kit (DESIGN §3) -----------------------------------------------
# recovery key = 32 Crockford base32 symbols (160 random bits) in eight groups of four, made in
# an admin's browser (static/js/recovery.js). Its keypair: crypto_box_seed_keypair(BLAKE2b-256(
# RECOVERY_KEY_CONTEXT || normalised key)). No password hashing is needed: 160 random bits cannot
# be guessed. The server keeps only the public key and organisation secrets sealed to it; this
# side exists for tests (the browser never sends the recovery key).

RECOVERY_KEY_CONTEXT = b"refuge-recovery-kit-v1:"
RECOVERY_GROUPS = 8
RECOVERY_GROUP_LENGTH = 4  # 32 symbols × 5 bits = 160 bits


def new_recovery_key() -> str:
    return in_groups(random_symbols(RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH), RECOVERY_GROUP_LENGTH)


def normalise_recovery_key(key: str) -> str | None:
    """As a receipt code: upper-case, no spaces or dashes, O read as 0 and I/L as 1."""
    cleaned = _CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", key)).upper()
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH or any(
        ch not in RECEIPT_ALPHABET for ch in cleaned
    ):
        return None
    return cleaned


def recovery_keypair(normalised_key: str) -> tuple[str, bytes]:
    """(public key base64, secret key) of a recovery kit, as the browser derives them."""
    seed = blake2b(
        RECOVERY_KEY_CONTEXT + normalised_key.encode("ascii"), digest_size=32, encoder=RawEncoder
    )
    secret = PrivateKey.from_seed(seed)
    return b64(bytes(secret.public_key)), bytes(secret)


# --- Staff key wrapping (DESIGN §3) ------------------------------------------------------------
# A staff member's X25519 secret key is stored wrapped with a key derived from their password:
#   wrapping key = crypto_pwhash(32, password (UTF-8), salt[16], ops, mem, ALG_ARGON2ID13)
#   wrapped      = nonce[24] || crypto_secretbox_easy(secret, nonce, wrapping key)
# base64 ORIGINAL. The browser (static/js/keyring.js, setup.js) does exactly the same with
# libsodium.js; this side exists for the CLI (`keys init`, `users create`) and for tests.

WRAP_SALT_BYTES = 16
WRAP_NONCE_BYTES = 24
WRAPPED_KEY_BYTES = WRAP_NONCE_BYTES + 16 + KEY_BYTES  # nonce + MAC + secret key
SEALED_KEY_BYTES = SEAL_OVERHEAD + KEY_BYTES  # a key grant: crypto_box_seal of a secret key


@dataclass(frozen=True)
class WrappedKey:
    wrapped: str  # base64 of nonce || secretbox
    salt: str  # base64 of the 16-byte pwhash salt
    ops_limit: int
    mem_limit: int


def _wrapping_key(password: str, salt: bytes, ops_limit: int, mem_limit: int) -> bytes:
    return bytes(
        argon2id.kdf(
            KEY_BYTES, password.encode("utf-8"), salt, opslimit=ops_limit, memlimit=mem_limit
        )
    )


def wrap_secret_key(secret: bytes, password: str, *, ops_limit: int, mem_limit: int) -> WrappedKey:
    salt = nacl_random(WRAP_SALT_BYTES)
    box = SecretBox(_wrapping_key(password, salt, ops_limit, mem_limit))
    nonce = nacl_random(WRAP_NONCE_BYTES)
    sealed = box.encrypt(secret, nonce)  # nonce || ciphertext, as the browser builds it
    return WrappedKey(
        wrapped=b64(bytes(sealed)), salt=b64(salt), ops_limit=ops_limit, mem_limit=mem_limit
    )


def unwrap_secret_key(wrapped: WrappedKey, password: str) -> bytes:
    raw = b64decode_strict(wrapped.wrapped, what="wrapped key")
    salt = b64decode_strict(wrapped.salt, what="key salt")
    if len(raw) != WRAPPED_KEY_BYTES or len(salt) != WRAP_SALT_BYTES:
        raise InvalidCiphertext("wrapped key has the wrong length")
    box = SecretBox(_wrapping_key(password, salt, wrapped.ops_limit, wrapped.mem_limit))
    try:
        return bytes(box.decrypt(raw))
    except CryptoError as exc:
        raise InvalidCiphertext("wrong password for this key") from exc


# --- the password, split in two (DESIGN §3) ----------------------------------------------------
#
# master = crypto_pwhash(32, password, salt, ops, mem, Argon2id13), then two subkeys with
# crypto_kdf_derive_from_key (BLAKE2b keyed with the master, the subkey id as salt, the context
# as personalisation): the key-wrapping key, which never leaves the browser, and the
# authentication secret, which is all the server receives at sign-in (stored only as an Argon2id
# hash). keyring.js derives exactly the same; this side is for the CLI and for tests.

WRAP_CONTEXT = b"Rfg-wrap"
AUTH_CONTEXT = b"Rfg-auth"
AUTH_SECRET_BYTES = 32


def kdf_derive(master: bytes, subkey_id: int, context: bytes, length: int = KEY_BYTES) -> bytes:
    """libsodium's crypto_kdf_derive_from_key (which PyNaCl does not expose) in BLAKE2b terms."""
    if len(context) != 8 or len(master) != KEY_BYTES:
        raise ValueError("crypto_kdf needs an 8-byte context and a 32-byte master key")
    return bytes(
        blake2b(
            b"",
            digest_size=length,
            key=master,
            salt=subkey_id.to_bytes(8, "little") + bytes(8),
            person=context + bytes(8),
            encoder=RawEncoder,
        )
    )


@dataclass(frozen=True)
class LoginSecrets:
    wrapping_key: bytes
    auth_secret: str  # base64 ORIGINAL, as the browser posts it


def login_secrets(password: str, salt: bytes, ops_limit: int, mem_limit: int) -> LoginSecrets:
    master = _wrapping_key(password, salt, ops_limit, mem_limit)
    return LoginSecrets(
        wrapping_key=kdf_derive(master, 1, WRAP_CONTEXT),
        auth_secret=b64(kdf_derive(master, 1, AUTH_CONTEXT)),
    )


def wrap_with_key(secret: bytes, key: bytes) -> str:
    """nonce || crypto_secretbox_easy(secret, nonce, key), base64: the scheme-2 wrapped key."""
    return b64(bytes(SecretBox(key).encrypt(secret, nacl_random(WRAP_NONCE_BYTES))))


def unwrap_with_key(wrapped: str, key: bytes) -> bytes:
    raw = b64decode_strict(wrapped, what="wrapped key")
    try:
        return bytes(SecretBox(key).decrypt(raw))
    except CryptoError as exc:
        raise InvalidCiphertext("wrong key for this wrapped key") from exc


def new_salt() -> bytes:
    return nacl_random(WRAP_SALT_BYTES)


def decoy_salt(email: str, server_secret: str) -> str:
    """The salt shown for an address with no account: the same every time (so asking twice
    does not tell), and not tellable from a real one."""
    digest = hmac.new(
        server_secret.encode("utf-8"), b"refuge-login-salt-v1:" + email.encode("utf-8"), "sha256"
    ).digest()
    return b64(digest[:WRAP_SALT_BYTES])


def seal_key_grant(org_secret: bytes, staff_public_key_b64: str) -> str:
    """The organisation secret key sealed to one staff member's public key (a key grant)."""
    return b64(seal(org_secret, staff_public_key_b64))


def public_key_of(secret: bytes) -> str:
    return b64(bytes(PrivateKey(secret).public_key))


def validate_public_key(text: str) -> str:
    """A base64 X25519 public key from a client: right alphabet, right length."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidCiphertext("public key has the wrong length")
    public_key_from_b64(text)
    return text


def validate_exact(text: str, *, length: int, what: str) -> str:
    """Browser-made key material of a fixed size (wrapped keys, salts, sealed grants)."""
    if not isinstance(text, str) or len(text) > (length * 4) // 3 + 4:
        raise InvalidCiphertext(f"{what} has the wrong length")
    if len(b64decode_strict(text, what=what)) != length:
        raise InvalidCiphertext(f"{what} has the wrong length")
    return text


# --- secrets kept at rest under a key that is not in the database (TOTP_KEY) -------------------

AT_REST_PREFIX = "v1:"


def at_rest_key(configured: str, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` from a configured secret (TOTP_KEY, else SECRET_KEY)."""
    return bytes(
        blake2b(
            purpose.encode(),
            key=hashlib.sha256(configured.encode()).digest(),
            digest_size=SecretBox.KEY_SIZE,
            encoder=RawEncoder,
        )
    )


def seal_at_rest(plaintext: str, key: bytes) -> str:
    """``v1:`` and base64 of nonce + secretbox ciphertext (XSalsa20-Poly1305)."""
    return AT_REST_PREFIX + b64(bytes(SecretBox(key).encrypt(plaintext.encode())))


def is_sealed_at_rest(stored: str) -> bool:
    return stored.startswith(AT_REST_PREFIX)


def open_at_rest(stored: str, key: bytes) -> str:
    """The plaintext of :func:`seal_at_rest`; raises InvalidCiphertext under another key."""
    if not is_sealed_at_rest(stored):
        raise InvalidCiphertext("not sealed at rest")
    try:
        raw = b64decode(stored[len(AT_REST_PREFIX) :], validate=True)
        return SecretBox(key).decrypt(raw).decode()
    except (binascii.Error, CryptoError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCiphertext("cannot open the secret under this key") from exc


def keyed_digest(value: str, key: bytes) -> str:
    """HMAC-SHA256 of ``value`` (hex): a look-up hash of a high-entropy code."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# --- submission tokens (idempotent intake) -----------------------------------------------------
# The intake form sends one random token (32 bytes, base64url without padding) with every
# attempt at one request. The server keeps an HMAC of it under the server secret, to find the
# request again, and the receipt code sealed with a key derived from the token (BLAKE2b with its
# own personalisation): the database alone gives neither the token nor the code, and only
# someone who sends the token again (the submitter's tab) opens the code.

SUBMISSION_TOKEN_BYTES = 32
SUBMISSION_TOKEN_CHARS = 43  # base64url of 32 bytes, without padding
SUBMISSION_TOKEN_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
SUBMISSION_LOOKUP_CONTEXT = b"refuge-submission-token-lookup-v1"
# A follow-up's token (one per written message at /status) is looked up under its own key and
# with its case: no follow-up token can match a request's row, or another case's.
FOLLOW_UP_LOOKUP_CONTEXT = b"refuge-follow-up-token-lookup-v1"
SUBMISSION_RECEIPT_PERSON = b"rfg-receipt-key"  # BLAKE2b personalisation: at most 16 bytes


def new_submission_token() -> str:
    """A fresh token, as the browser makes it (the no-JavaScript form carries one of these)."""
    return urlsafe_b64encode(secrets.token_bytes(SUBMISSION_TOKEN_BYTES)).rstrip(b"=").decode()


def submission_token_bytes(token: str) -> bytes | None:
    """The 32 bytes of a well-formed token (base64url, unpadded, canonical), else None."""
    if (
        not isinstance(token, str)
        or len(token) != SUBMISSION_TOKEN_CHARS
        or not SUBMISSION_TOKEN_ALPHABET.issuperset(token)
    ):
        return None
    raw = urlsafe_b64decode(token + "=")
    # The last symbol carries two unused bits: only one spelling of each token is accepted.
    if urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        return None
    return raw


def submission_token_lookup(raw_token: bytes, server_secret: str) -> str:
    """Keyed hash of a token (hex), the only form in which the server finds it again."""
    key = hashlib.sha256(SUBMISSION_LOOKUP_CONTEXT + server_secret.encode()).digest()
    return hmac.new(key, raw_token, hashlib.sha256).hexdigest()


def follow_up_token_lookup(raw_token: bytes, case_id: int, server_secret: str) -> str:
    """Keyed hash (hex) of a follow-up's token together with the case it was sent for."""
    key = hashlib.sha256(FOLLOW_UP_LOOKUP_CONTEXT + server_secret.encode()).digest()
    return hmac.new(key, raw_token + b":%d" % case_id, hashlib.sha256).hexdigest()


def _receipt_key(raw_token: bytes) -> bytes:
    return bytes(
        blake2b(
            b"",
            key=raw_token,
            person=SUBMISSION_RECEIPT_PERSON,
            digest_size=SecretBox.KEY_SIZE,
            encoder=RawEncoder,
        )
    )


def seal_receipt_for_token(receipt_code: str, raw_token: bytes) -> str:
    """The receipt code encrypted (secretbox) under a key derived from the token, base64."""
    return b64(bytes(SecretBox(_receipt_key(raw_token)).encrypt(receipt_code.encode("ascii"))))


def open_receipt_for_token(sealed: str, raw_token: bytes) -> str:
    """The receipt code of :func:`seal_receipt_for_token`; InvalidCiphertext under another."""
    try:
        raw = b64decode(sealed, validate=True)
        return SecretBox(_receipt_key(raw_token)).decrypt(raw).decode("ascii")
    except (binascii.Error, CryptoError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCiphertext("cannot open the receipt under this token") from exc
