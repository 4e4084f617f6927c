"""Secrets encrypted at rest: Fernet with a key derived from SECRET_KEY, and a model field that uses it.

The encryption key is derived with HKDF from settings.SECRET_KEY, so there is no second key file to lose or to
back up separately. Rotating SECRET_KEY: put the old key in SECRET_KEY_FALLBACKS; values are still read with
it and are re-encrypted with the new key the next time they are saved.

`fingerprint()` is a keyed HMAC of a value: it lets a unique constraint or the audit log say "same secret" /
"secret changed" without storing the secret, and it cannot be reversed by guessing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import models

# Distinct HKDF "info" labels give independent keys for encryption and fingerprints from one SECRET_KEY.
_ENCRYPTION_INFO = b"sitekeeper:encrypted-fields:v1"
_FINGERPRINT_INFO = b"sitekeeper:fingerprint:v1"
_SALT = b"sitekeeper"


class DecryptionError(Exception):
    """A stored value cannot be decrypted with the configured SECRET_KEY (or its fallbacks)."""


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret_key.encode())


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    # Cached per tuple of keys so tests that override SECRET_KEY get a fresh cipher.
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(key, _ENCRYPTION_INFO))) for key in keys])


def _keys() -> tuple[str, ...]:
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", None) or []
    return (settings.SECRET_KEY, *fallbacks)


def encrypt(plaintext: str) -> str:
    """Encrypt with the current SECRET_KEY; the result is ASCII, different on every call."""
    return _fernet(_keys()).encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a value from `encrypt`, trying SECRET_KEY then SECRET_KEY_FALLBACKS."""
    try:
        return _fernet(_keys()).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError(
            "cannot decrypt a stored secret: it was encrypted with a different SECRET_KEY "
            "(set SITEKEEPER_SECRET_KEY back to the original key, or list the old key in "
            "SECRET_KEY_FALLBACKS) or the stored value is corrupt"
        ) from exc


def fingerprint(value: str) -> str:
    """A keyed HMAC-SHA256 of `value` (hex): equal values give equal fingerprints, nothing more."""
    key = _derive(settings.SECRET_KEY, _FINGERPRINT_INFO)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A TextField stored as Fernet ciphertext and read back as plaintext.

    The empty string and NULL are stored as they are, so "no secret set" stays visible without decrypting.
    Ciphertext is randomised, so the database cannot compare values: lookups other than `isnull` raise.
    """

    description = "Text encrypted at rest"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(f"{self.name} is encrypted: the database cannot filter on its value")
        return super().get_lookup(lookup_name)

    def audit_value(self, value: str | None) -> str | None:
        """What the audit log may record instead of the plaintext: a fingerprint, so changes still show."""
        if not value:
            return value
        return f"encrypted:{fingerprint(value)[:16]}"
