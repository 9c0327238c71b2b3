"""The one crypto module: AES-256-GCM sealing and key derivation.

Everything in the app that encrypts (the secret-file fallback, backups,
key derivation for the database) calls this module; nothing else touches
``cryptography`` primitives directly.
"""

from __future__ import annotations

import hashlib
import hmac
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


# -- streaming chunk encryption (backups) -------------------------------------
# A file's chunks share one key, so every chunk needs its own nonce: a random
# 8-byte prefix per file plus a 4-byte big-endian chunk counter. The prefix
# keeps two files under the same key apart; the counter keeps chunks apart.
FILE_NONCE_BYTES = 8
TAG_BYTES = 16
MAX_CHUNKS = 2 ** 32 - 1          # the last counter value is reserved for the header tag
_HEADER_COUNTER = MAX_CHUNKS

# Passphrase-protected (portable) backups: scrypt with N = 2^17, r = 8 (128 MiB
# of memory, ~0.4 s here), far above the secrets file's cost because a portable
# copy travels and may be attacked offline for as long as the attacker likes.
PORTABLE_SCRYPT_N = 2 ** 17
PORTABLE_SCRYPT_R = 8
PORTABLE_SCRYPT_P = 1
# What a file's header may ask for: enough headroom for future increases, a
# ceiling so a hostile header cannot make the reader allocate gigabytes.
MIN_SCRYPT_N = 2 ** 17
MAX_SCRYPT_LOG2_N = 22
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16


def new_file_nonce() -> bytes:
    return os.urandom(FILE_NONCE_BYTES)


def key_id(key: bytes) -> bytes:
    """A 16-byte name for a key, safe to write in the clear: a one-way hash
    under a label no other use of the key shares."""
    return hmac.new(key, b"WorkflowGuard backup key id", hashlib.sha256).digest()[:16]


def derive_passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """scrypt with explicit parameters (those of a portable backup's header).

    Raises ValueError for parameters outside the accepted range, so a forged
    header can neither weaken the KDF below the floor nor exhaust memory."""
    if n < MIN_SCRYPT_N or n > 2 ** MAX_SCRYPT_LOG2_N or n & (n - 1):
        raise ValueError(f"scrypt N={n} is outside the accepted range")
    if not (1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
        raise ValueError(f"scrypt r={r}, p={p} are outside the accepted range")
    if not passphrase:
        raise ValueError("a passphrase is required")
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))


class ChunkCipher:
    """AES-256-GCM over the chunks of one file.

    Each chunk's associated data is ``header_hash || index (8 bytes) || final
    flag``: a chunk moved to another position, taken from another file, or
    presented as the last one when it was not, fails authentication.
    """

    def __init__(self, key: bytes, file_nonce: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("the key must be 32 bytes")
        if len(file_nonce) != FILE_NONCE_BYTES:
            raise ValueError(f"the file nonce must be {FILE_NONCE_BYTES} bytes")
        self._aead = AESGCM(key)
        self._prefix = file_nonce

    def _nonce(self, counter: int) -> bytes:
        return self._prefix + counter.to_bytes(4, "big")

    @staticmethod
    def _aad(header_hash: bytes, index: int, final: bool) -> bytes:
        return header_hash + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")

    def header_tag(self, header: bytes) -> bytes:
        """A tag over the header alone: a wrong key or an edited header is
        refused before a single chunk is read."""
        return self._aead.encrypt(self._nonce(_HEADER_COUNTER), b"", header)

    def check_header_tag(self, header: bytes, tag: bytes) -> None:
        try:
            self._aead.decrypt(self._nonce(_HEADER_COUNTER), tag, header)
        except InvalidTag:
            raise DecryptionError("wrong key or passphrase, or the header was altered") from None

    def seal_chunk(self, header_hash: bytes, index: int, final: bool, data: bytes) -> bytes:
        if not 0 <= index < MAX_CHUNKS:
            raise ValueError("too many chunks for one file")
        return self._aead.encrypt(self._nonce(index), data,
                                  self._aad(header_hash, index, final))

    def open_chunk(self, header_hash: bytes, index: int, final: bool, blob: bytes) -> bytes:
        if not 0 <= index < MAX_CHUNKS:
            raise DecryptionError("too many chunks for one file")
        try:
            return self._aead.decrypt(self._nonce(index), blob,
                                      self._aad(header_hash, index, final))
        except InvalidTag:
            raise DecryptionError(f"chunk {index} failed authentication "
                                  "(altered, moved, or from another file)") from None
