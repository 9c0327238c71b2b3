"""The one crypto module: AES-256-GCM sealing and key derivation.

Everything in the app that encrypts (the secret-file fallback, backups,
key derivation for the database) calls this module; nothing else touches
``cryptography`` primitives directly.
"""

from __future__ import annotations

import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

KEY_BYTES = 32          # AES-256
NONCE_BYTES = 12
SALT_BYTES = 16
# scrypt cost: ~50 ms on a 2-core machine, 16 MiB of memory. Enough to make a
# passphrase guess expensive without making unlock feel slow.
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1


class DecryptionError(Exception):
    """Ciphertext failed authentication: wrong key/passphrase or tampered data."""


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def derive_key(passphrase: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))


def seal(key: bytes, plaintext: bytes, associated: bytes = b"") -> bytes:
    """Encrypt and authenticate: returns nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated or None)


def open_sealed(key: bytes, blob: bytes, associated: bytes = b"") -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("encrypted data is truncated")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated or None)
    except InvalidTag:
        raise DecryptionError("wrong key or passphrase, or the data was altered") from None
