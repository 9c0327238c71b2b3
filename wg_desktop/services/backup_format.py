"""The backup file format: zstd-compressed, then AES-256-GCM in chunks.

Layout (integers big-endian)::

    header   magic "WGBACKUP" | format u16 | key kind u8 | key id 16
             | scrypt salt 16 | scrypt log2 N u8 | r u8 | p u8   (zeros: keychain key)
             | chunk size u32 | file nonce 8 | metadata length u32 | metadata (JSON)
    tag      16 bytes: GCM over the header bytes (wrong key, edited header,
             foreign file: refused before any chunk is read)
    chunks   final flag u8 | ciphertext length u32 | ciphertext+tag

Every chunk is sealed with the nonce ``file nonce || counter`` and the
associated data ``sha256(header || tag) || index || final flag``
(security/crypto.ChunkCipher): a flipped byte, a swapped or dropped chunk, a
chunk from another file, or a file cut after any chunk but the flagged last one
is detected. Bytes after the final chunk are refused too.

Compression happens before encryption (ciphertext does not compress); one zstd
frame spans the whole stream, so the reader also checks the frame ended.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import BinaryIO, Callable

import zstandard

from wg_desktop.security import crypto
from wg_desktop.store.db import StoreError

MAGIC = b"WGBACKUP"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20          # 1 MiB of compressed data per chunk
MIN_CHUNK_SIZE = 1 << 10
MAX_CHUNK_SIZE = 1 << 24              # bounds what a forged header can make us buffer
MAX_METADATA = 1 << 16
ZSTD_LEVEL = 3
_READ_BLOCK = 1 << 20

_FIXED = struct.Struct(">8sHB16s16sBBBI8sI")
_CHUNK_HEAD = struct.Struct(">BI")


class BackupError(StoreError):
    """A backup could not be made, read, verified or restored. One line, for
    the user (a StoreError, so the CLI prints it as such)."""


class BackupFormatError(BackupError):
    """The file is not a backup, or was altered, cut short or mis-keyed."""


class KeyKind(enum.IntEnum):
    KEYCHAIN = 1        # the data folder's backup key, kept in the keychain
    PASSPHRASE = 2      # a portable copy: key derived from a passphrase (scrypt)


@dataclass(frozen=True)
class KdfParams:
    salt: bytes
    log2_n: int
    r: int
    p: int

    @classmethod
    def new(cls) -> "KdfParams":
        return cls(crypto.new_salt(), crypto.PORTABLE_SCRYPT_N.bit_length() - 1,
                   crypto.PORTABLE_SCRYPT_R, crypto.PORTABLE_SCRYPT_P)

    def derive(self, passphrase: str) -> bytes:
        try:
            return crypto.derive_passphrase_key(passphrase, self.salt, 1 << self.log2_n,
                                                self.r, self.p)
        except ValueError as exc:
            raise BackupFormatError(f"the backup's key parameters are refused: {exc}") from None


@dataclass(frozen=True)
class BackupMetadata:
    created_at: dt.datetime
    schema_version: int
    app_version: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps({"created_at": self.created_at.isoformat(),
                           "schema_version": self.schema_version,
                           "app_version": self.app_version},
                          sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> "BackupMetadata":
        try:
            raw = json.loads(data)
            created = dt.datetime.fromisoformat(raw["created_at"])
            return cls(created, int(raw["schema_version"]), str(raw.get("app_version", "")))
        except (ValueError, KeyError, TypeError):
            raise BackupFormatError("the backup's header is unreadable") from None


@dataclass(frozen=True)
class BackupHeader:
    kind: KeyKind
    key_id: bytes
    kdf: KdfParams | None
    chunk_size: int
    file_nonce: bytes
    metadata: BackupMetadata
    raw: bytes                 # the bytes the header tag covers
    tag: bytes

    @property
    def digest(self) -> bytes:
        """What every chunk's associated data starts with."""
        return hashlib.sha256(self.raw + self.tag).digest()


def _encode_header(kind: KeyKind, key_id: bytes, kdf: KdfParams | None, chunk_size: int,
                   file_nonce: bytes, metadata: BackupMetadata) -> bytes:
    meta = metadata.to_bytes()
    if kdf is None:
        salt, log2_n, r, p = bytes(crypto.SALT_BYTES), 0, 0, 0
    else:
        salt, log2_n, r, p = kdf.salt, kdf.log2_n, kdf.r, kdf.p
    return _FIXED.pack(MAGIC, FORMAT_VERSION, int(kind), key_id, salt, log2_n, r, p,
                       chunk_size, file_nonce, len(meta)) + meta


def _read_exact(src: BinaryIO, n: int, what: str) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise BackupFormatError(f"the backup is truncated (in the {what})")
    return data


def read_header(src: BinaryIO) -> BackupHeader:
    """Parse the header (not yet authenticated: that needs the key)."""
    start = src.read(_FIXED.size)
    if len(start) < len(MAGIC) or start[:len(MAGIC)] != MAGIC:
        raise BackupFormatError("this is not a WorkflowGuard backup file")
    if len(start) != _FIXED.size:
        raise BackupFormatError("the backup is truncated (in the header)")
    (_, version, kind, key_id, salt, log2_n, r, p, chunk_size, file_nonce,
     meta_len) = _FIXED.unpack(start)
    if version > FORMAT_VERSION:
        raise BackupFormatError(f"the backup uses format {version}, newer than this app's "
                                f"{FORMAT_VERSION}; update WorkflowGuard to read it")
    if version != FORMAT_VERSION:
        raise BackupFormatError(f"unknown backup format {version}")
    try:
        key_kind = KeyKind(kind)
    except ValueError:
        raise BackupFormatError(f"unknown backup key kind {kind}") from None
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE or meta_len > MAX_METADATA:
        raise BackupFormatError("the backup's header is damaged")
    meta = _read_exact(src, meta_len, "header")
    tag = _read_exact(src, crypto.TAG_BYTES, "header")
    kdf = KdfParams(salt, log2_n, r, p) if key_kind is KeyKind.PASSPHRASE else None
    return BackupHeader(key_kind, key_id, kdf, chunk_size, file_nonce,
                        BackupMetadata.from_bytes(meta), start + meta, tag)


def write_backup(src: BinaryIO, dst: BinaryIO, key: bytes, metadata: BackupMetadata, *,
                 kind: KeyKind = KeyKind.KEYCHAIN, kdf: KdfParams | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, level: int = ZSTD_LEVEL,
                 on_progress: Callable[[int], None] | None = None) -> int:
    """Compress and encrypt all of ``src`` into ``dst``; returns bytes read.

    ``on_progress`` gets the plaintext bytes read so far and may raise to stop.
    """
    if (kind is KeyKind.PASSPHRASE) != (kdf is not None):
        raise ValueError("a passphrase backup needs its KDF parameters, a keychain one none")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk size out of range")
    file_nonce = crypto.new_file_nonce()
    cipher = crypto.ChunkCipher(key, file_nonce)
    header = _encode_header(kind, crypto.key_id(key), kdf, chunk_size, file_nonce, metadata)
    tag = cipher.header_tag(header)
    dst.write(header + tag)
    digest = hashlib.sha256(header + tag).digest()

    index = 0
    pending = bytearray()

    def emit(final: bool) -> None:
        # Chunks leave only when a later one (or the end) is known, so the last
        # one can carry the final flag.
        nonlocal index
        while len(pending) > chunk_size or (final and (pending or index == 0)):
            piece = bytes(pending[:chunk_size])
            del pending[:chunk_size]
            last = final and not pending
            sealed = cipher.seal_chunk(digest, index, last, piece)
            dst.write(_CHUNK_HEAD.pack(1 if last else 0, len(sealed)) + sealed)
            index += 1
            if last:
                return

    compressor = zstandard.ZstdCompressor(level=level).compressobj()
    total = 0
    while True:
        block = src.read(_READ_BLOCK)
        if not block:
            break
        total += len(block)
        pending += compressor.compress(block)
        emit(final=False)
        if on_progress is not None:
            on_progress(total)
    pending += compressor.flush()
    emit(final=True)
    return total


def read_backup(src: BinaryIO, dst: BinaryIO | None,
                key_for: Callable[[BackupHeader], bytes]) -> BackupHeader:
    """Authenticate, decrypt and decompress all of ``src`` into ``dst`` (None:
    check only). ``key_for`` turns the header into the key (keychain lookup or
    passphrase). Raises BackupFormatError on any problem; ``dst`` may then hold
    a partial result, which the caller discards."""
    header = read_header(src)
    key = key_for(header)
    if crypto.key_id(key) != header.key_id:
        if header.kind is KeyKind.PASSPHRASE:
            raise BackupFormatError("wrong passphrase for this backup")
        raise BackupFormatError("this backup was made with another key (another data folder, "
                                "or a replaced keychain entry); restore it from a portable "
                                "export instead")
    cipher = crypto.ChunkCipher(key, header.file_nonce)
    try:
        cipher.check_header_tag(header.raw, header.tag)
    except crypto.DecryptionError:
        raise BackupFormatError("the backup's header was altered") from None
    digest = header.digest
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    limit = header.chunk_size + crypto.TAG_BYTES
    index = 0
    while True:
        head = src.read(_CHUNK_HEAD.size)
        if not head:
            raise BackupFormatError("the backup is truncated (its last chunk is missing)")
        if len(head) != _CHUNK_HEAD.size:
            raise BackupFormatError(f"the backup is truncated (in chunk {index})")
        flag, length = _CHUNK_HEAD.unpack(head)
        if flag not in (0, 1) or not crypto.TAG_BYTES <= length <= limit:
            raise BackupFormatError(f"the backup is damaged (chunk {index}'s frame)")
        blob = _read_exact(src, length, f"chunk {index}")
        try:
            plain = cipher.open_chunk(digest, index, flag == 1, blob)
        except crypto.DecryptionError as exc:
            raise BackupFormatError(f"the backup was altered or damaged: {exc}") from None
        try:
            out = decompressor.decompress(plain)
        except zstandard.ZstdError as exc:
            raise BackupFormatError(f"the backup's content is damaged ({exc})") from None
        if dst is not None and out:
            dst.write(out)
        index += 1
        if flag == 1:
            break
    if src.read(1):
        raise BackupFormatError("the backup has unexpected data after its last chunk")
    if not decompressor.eof:
        raise BackupFormatError("the backup's content ends early")
    return header
