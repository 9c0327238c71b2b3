"""The chunked backup format: what it refuses."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct

import pytest

from wg_desktop.security import crypto
from wg_desktop.services.backup_format import (BackupFormatError, BackupMetadata, KdfParams,
                                               KeyKind, read_backup, read_header, write_backup)

KEY = bytes(range(32))
META = BackupMetadata(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), 6, "test")
CHUNK = 1024
# Incompressible data, so it spans many chunks.
DATA = os.urandom(10 * CHUNK + 123)


def _seal(data: bytes = DATA, key: bytes = KEY, **kw) -> bytes:
    out = io.BytesIO()
    write_backup(io.BytesIO(data), out, key, META, chunk_size=CHUNK, **kw)
    return out.getvalue()


def _open(blob: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    read_backup(io.BytesIO(blob), out, lambda header: key)
    return out.getvalue()


def _chunk_offsets(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) of every chunk frame."""
    src = io.BytesIO(blob)
    read_header(src)
    spans, pos = [], src.tell()
    while pos < len(blob):
        _, length = struct.unpack(">BI", blob[pos:pos + 5])
        spans.append((pos, pos + 5 + length))
        pos += 5 + length
    return spans


def test_round_trip_and_compression():
    blob = _seal()
    assert _open(blob) == DATA
    text = b'{"workflow": 1}' * 50_000
    small = _seal(text)
    assert _open(small) == text and len(small) < len(text) / 20
    assert _open(_seal(b"")) == b""
    header = read_header(io.BytesIO(blob))
    assert header.metadata == META and header.kind is KeyKind.KEYCHAIN
    assert header.key_id == crypto.key_id(KEY)


def test_every_flipped_byte_is_refused():
    blob = _seal(DATA[:3 * CHUNK])
    # Every byte of header, tag, frames, ciphertext and chunk tags.
    for pos in range(len(blob)):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with pytest.raises(BackupFormatError):
            _open(bytes(bad))


def test_truncation_at_every_chunk_boundary_and_inside_is_refused():
    blob = _seal()
    cuts = [end for _, end in _chunk_offsets(blob)][:-1] + [len(blob) - 1, 10, 70]
    for cut in cuts:
        with pytest.raises(BackupFormatError, match="truncated"):
            _open(blob[:cut])


def test_swapped_dropped_and_foreign_chunks_are_refused():
    blob = _seal()
    spans = _chunk_offsets(blob)
    (a0, a1), (b0, b1) = spans[1], spans[2]
    swapped = blob[:a0] + blob[b0:b1] + blob[a0:a1] + blob[b1:]
    with pytest.raises(BackupFormatError, match="chunk 1"):
        _open(swapped)
    dropped = blob[:a0] + blob[a1:]
    with pytest.raises(BackupFormatError):
        _open(dropped)
    other = _seal()       # same key, same data: another file's chunk still fails
    o0, o1 = _chunk_offsets(other)[1]
    with pytest.raises(BackupFormatError):
        _open(blob[:a0] + other[o0:o1] + blob[a1:])
    with pytest.raises(BackupFormatError, match="after its last chunk"):
        _open(blob + b"x")


def test_foreign_files_and_wrong_keys_are_refused():
    with pytest.raises(BackupFormatError, match="not a WorkflowGuard backup"):
        _open(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(BackupFormatError, match="not a WorkflowGuard backup"):
        _open(b"")
    with pytest.raises(BackupFormatError, match="another key"):
        _open(_seal(), key=bytes(32))


def test_passphrase_backup_and_wrong_passphrase():
    kdf = KdfParams.new()
    assert 1 << kdf.log2_n >= 2 ** 17
    key = kdf.derive("right passphrase")
    blob = _seal(key=key, kind=KeyKind.PASSPHRASE, kdf=kdf)
    header = read_header(io.BytesIO(blob))
    assert header.kdf == kdf and header.kind is KeyKind.PASSPHRASE
    assert _open(blob, key=header.kdf.derive("right passphrase")) == DATA
    with pytest.raises(BackupFormatError, match="wrong passphrase"):
        _open(blob, key=header.kdf.derive("wrong passphrase"))
    # A forged header asking for a weaker KDF is refused before deriving.
    weak = KdfParams(kdf.salt, 10, 8, 1)
    with pytest.raises(BackupFormatError, match="refused"):
        weak.derive("x")
