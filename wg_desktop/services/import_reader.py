"""Reading an import file (an export zip or a plain JSON file) with bounded
memory, whatever the file claims about itself.

An import file comes from anywhere, so nothing in it is trusted: not the
sizes in the zip's central directory, not the nesting of its JSON, not even
that the path is a file. Every entry is streamed through a byte counter that
stops at the cap, and JSON is checked for depth before it is parsed. Memory
therefore stays near the largest entry allowed, one document at a time.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import zipfile
import zlib
from array import array
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO, Iterator

MAX_ENTRY_BYTES = 32 << 20          # one JSON document: a workflow, the manifest, a plain file
MAX_TOTAL_BYTES = 512 << 20         # everything one zip unpacks to
MAX_ENTRIES = 5_000                 # entries of one zip, whatever their kind
# zipfile reads the whole central directory and builds an object per entry
# before the entries can be counted; 4 MB is ~840 bytes for each of 5,000
# entries, far above the ~100 any zip tool writes for a workflow file.
MAX_DIRECTORY_BYTES = 4 << 20
# Far below the interpreter's recursion limit, so parsing, normalizing and
# storing never recurse out of stack; real workflows nest about a dozen levels.
MAX_JSON_DEPTH = 128
CHUNK_BYTES = 64 << 10

# Deflate is decompressed in bounded steps; zipfile's bzip2/lzma readers are
# not (one small read can unpack gigabytes), and no export of ours uses them.
READABLE_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
MANIFEST = "manifest.json"

_END_RECORD = struct.Struct("<4s4H2LH")     # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")       # +1 / -1 as signed bytes


class ImportRejected(ValueError):
    """The file is not something we can import; nothing was stored."""


def read_capped(stream: BinaryIO, limit: int) -> bytearray | None:
    """All of ``stream`` if it holds at most ``limit`` bytes, else None —
    having read no more than ``limit`` + one chunk."""
    buffer = bytearray()
    while chunk := stream.read(CHUNK_BYTES):
        buffer += chunk
        if len(buffer) > limit:
            return None
    return buffer


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest, found without
    recursion (brackets inside strings do not count)."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text)).encode("ascii")
    return max(accumulate(array("b", brackets.translate(_STEPS))), default=0)


def _mb(size: int) -> str:
    return f"{size >> 20} MB"


class ImportReader:
    """The JSON documents of one open import file, parsed one at a time."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self._handle = handle
        self._archive: zipfile.ZipFile | None = None
        self._unpacked = 0
        if zipfile.is_zipfile(handle):
            self._archive = self._open_archive()
        handle.seek(0)

    def rejected(self, reason: str) -> ImportRejected:
        return ImportRejected(f"{self.path.name}: {reason}; nothing was imported.")

    def manifest(self) -> Any | None:
        """The export's manifest.json, if the file is a zip that has one."""
        if self._archive is None:
            return None
        try:
            info = self._archive.getinfo(MANIFEST)
        except KeyError:
            return None
        return self._document(self._archive, info)

    def documents(self) -> Iterator[tuple[str, Any]]:
        """(name, parsed JSON) of every JSON entry but the manifest, or of the
        plain file itself."""
        if self._archive is None:
            yield self.path.name, self._parse(self._plain_bytes(), "")
            return
        for info in self._archive.infolist():
            if info.filename.endswith(".json") and info.filename != MANIFEST:
                # Yielded straight from the call: this frame keeps no
                # reference to a document once the caller is done with it.
                yield info.filename, self._document(self._archive, info)

    def _plain_bytes(self) -> bytearray:
        data = read_capped(self._handle, MAX_ENTRY_BYTES)
        if data is None:
            raise self.rejected(f"larger than {_mb(MAX_ENTRY_BYTES)}")
        return data

    # -- zip -------------------------------------------------------------------------

    def _open_archive(self) -> zipfile.ZipFile:
        directory = self._directory_size()
        if directory > MAX_DIRECTORY_BYTES:
            raise self.rejected(f"its zip directory is larger than {_mb(MAX_DIRECTORY_BYTES)}")
        try:
            archive = zipfile.ZipFile(self._handle)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise self.rejected(f"a damaged zip file ({exc})") from None
        if len(archive.infolist()) > MAX_ENTRIES:
            archive.close()
            raise self.rejected(f"holds more than {MAX_ENTRIES:,} entries")
        return archive

    def _directory_size(self) -> int:
        """The central directory's size as zipfile will read it (the same
        records, found the same way), so it can be refused before it is read."""
        handle = self._handle
        size = handle.seek(0, os.SEEK_END)
        tail_start = max(size - _END_RECORD.size - 0xFFFF, 0)
        handle.seek(tail_start)
        tail = handle.read()
        at = len(tail) - _END_RECORD.size
        if not (tail[at:at + 4] == b"PK\x05\x06" and tail.endswith(b"\0\0")):
            at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + _END_RECORD.size:
            raise self.rejected("a damaged zip file (no end of central directory)")
        directory = _END_RECORD.unpack_from(tail, at)[5]
        record_at = tail_start + at
        locator_at = record_at - _ZIP64_LOCATOR.size
        zip64_at = locator_at - _ZIP64_END_RECORD.size
        if zip64_at >= 0:
            handle.seek(zip64_at)
            data = handle.read(_ZIP64_END_RECORD.size + _ZIP64_LOCATOR.size)
            if (data[-_ZIP64_LOCATOR.size:-_ZIP64_LOCATOR.size + 4] == b"PK\x06\x07"
                    and data[:4] == b"PK\x06\x06"):
                directory = _ZIP64_END_RECORD.unpack_from(data)[8]
        handle.seek(0)
        return directory

    def _document(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
        return self._parse(self._entry_bytes(archive, info), info.filename)

    def _entry_bytes(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
        name = info.filename
        if info.flag_bits & 0x1:
            raise self.rejected(f"{name} is encrypted")
        if info.compress_type not in READABLE_COMPRESSION:
            raise self.rejected(f"{name} uses a compression method other than deflate")
        if info.file_size > MAX_ENTRY_BYTES:        # an honest bomb: refused unread
            raise self.rejected(f"{name} unpacks to more than {_mb(MAX_ENTRY_BYTES)}")
        left = MAX_TOTAL_BYTES - self._unpacked
        try:
            with archive.open(info) as stream:
                data = read_capped(stream, min(MAX_ENTRY_BYTES, left))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self.rejected(f"a damaged zip file ({name}: {exc})") from None
        if data is None:
            if left < MAX_ENTRY_BYTES:
                raise self.rejected(f"unpacks to more than {_mb(MAX_TOTAL_BYTES)}")
            raise self.rejected(f"{name} unpacks to more than {_mb(MAX_ENTRY_BYTES)}")
        self._unpacked += len(data)
        return data

    # -- JSON ------------------------------------------------------------------------

    def _parse(self, data: bytearray, name: str) -> Any:
        """``name``: the zip entry, or "" for a plain file."""
        subject = f"{name} " if name else ""
        try:
            # Decoded as json.loads would (UTF-8, with or without BOM, or
            # UTF-16/32); the bytes are dropped before the parse builds objects.
            text = data.decode(json.detect_encoding(data), "surrogatepass")
            del data
            if json_depth(text) > MAX_JSON_DEPTH:
                raise self.rejected(f"{subject}nests deeper than {MAX_JSON_DEPTH} levels")
            return json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.rejected(f"{subject}{'is ' if name else ''}not valid JSON ({exc})") from None

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
        self._handle.close()


# O_NONBLOCK keeps a FIFO swapped in after the check from blocking the open;
# O_BINARY matters on Windows only. Neither exists everywhere.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


@contextmanager
def open_import(path: Path) -> Iterator[ImportReader]:
    """The file at ``path`` opened for import; refused unless it is a regular
    file (a FIFO would hang the read, a device like /dev/zero never ends)."""
    where = path.name or str(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ImportRejected(f"{where}: not a regular file; nothing was imported.")
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise ImportRejected(f"{where}: cannot be read ({exc.strerror or exc}); "
                             "nothing was imported.") from None
    handle = os.fdopen(fd, "rb")
    try:
        # The path may have been swapped between the check and the open.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImportRejected(f"{where}: not a regular file; nothing was imported.")
        reader = ImportReader(path, handle)
    except BaseException:
        handle.close()
        raise
    try:
        yield reader
    finally:
        reader.close()
