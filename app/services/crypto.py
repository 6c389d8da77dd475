"""Encryption of individual fields at rest (TOTP secrets, patient SSNs).

Fernet (AES-128-CBC with HMAC-SHA256, random IV) under FIELD_ENCRYPTION_KEY from the
environment. Several comma-separated keys rotate: the first encrypts, every one
decrypts, so a new key goes first and the old one stays until `rotate()` has rewritten
every value (`flask clinic rotate-field-key`). Development and testing derive a fixed key
(DEV_FIELD_KEY in config.py); production refuses to start without a real one (ProductionConfig.check).
"""
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

__all__ = ["DecryptionError", "encrypt", "decrypt", "rotate", "parse_keys", "InvalidToken"]


class DecryptionError(Exception):
    """A stored value cannot be read with the configured keys (wrong or missing key)."""


def parse_keys(value):
    """Fernet objects for a comma-separated key string; ValueError names a bad key."""
    keys = [k.strip() for k in (value or "").split(",") if k.strip()]
    if not keys:
        raise ValueError("no key given")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return fernets


def _cipher(keys=None):
    return MultiFernet(parse_keys(keys if keys is not None else current_app.config["FIELD_ENCRYPTION_KEY"]))


def encrypt(plaintext, *, keys=None):
    """Ciphertext (ASCII text) for `plaintext`; None stays None."""
    if plaintext is None:
        return None
    return _cipher(keys).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token, *, keys=None):
    """Plaintext of a value written by encrypt(); None stays None."""
    if token is None:
        return None
    try:
        return _cipher(keys).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise DecryptionError("stored value cannot be decrypted with FIELD_ENCRYPTION_KEY") from None


def rotate(token, *, keys=None):
    """The same value re-encrypted under the first (newest) key."""
    if token is None:
        return None
    return _cipher(keys).rotate(token.encode("ascii")).decode("ascii")
