"""Request-body framing of the demo portal (RFC 9112 §6).

A body is delimited by ``Content-Length`` or by ``Transfer-Encoding:
chunked``, never both: a request carrying both, several disagreeing
lengths, or a transfer coding the portal does not implement is refused, and
the caller closes the connection — reading on after a framing the two ends
may disagree about is how a second request gets smuggled in.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import BinaryIO

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_LINE_BYTES = 1024          # a chunk-size line or a trailer line
MAX_TRAILER_LINES = 32

_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,8}$")   # 8 hex digits are far above the size cap
_LENGTH = re.compile(r"^[0-9]{1,12}$")


class FramingError(Exception):
    """The request's body cannot be delimited safely; answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(headers: Message, rfile: BinaryIO) -> bytes:
    """The request body, read exactly as its framing headers say."""
    codings = _transfer_codings(headers)
    lengths = headers.get_all("Content-Length") or []
    if codings and lengths:
        raise FramingError(400, "a request must not carry both Content-Length and "
                                "Transfer-Encoding")
    if codings:
        if codings[-1] != "chunked":
            raise FramingError(400, "chunked must be the final transfer coding of a request")
        if codings != ["chunked"]:
            raise FramingError(501, "only the chunked transfer coding is implemented")
        return _read_chunked(rfile)
    return _read_sized(lengths, rfile)


def _transfer_codings(headers: Message) -> list[str]:
    values = headers.get_all("Transfer-Encoding") or []
    return [c.strip().lower() for v in values for c in v.split(",") if c.strip()]


def _read_sized(lengths: list[str], rfile: BinaryIO) -> bytes:
    if not lengths:
        return b""
    # "Content-Length: 5, 5" or repeated equal headers are one length (RFC 9112 §6.3).
    values = {v.strip() for field in lengths for v in field.split(",")}
    if len(values) != 1 or not _LENGTH.match(next(iter(values))):
        raise FramingError(400, "bad Content-Length")
    length = int(values.pop())
    if length > MAX_BODY_BYTES:
        raise FramingError(413, "request body too large")
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise FramingError(400, "the request body is shorter than its Content-Length")
    return body


def _read_chunked(rfile: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = _chunk_size(_line(rfile))
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise FramingError(413, "request body too large")
        data = rfile.read(size)
        if len(data) != size or _line(rfile) != b"":
            raise FramingError(400, "bad chunked request body")
        chunks.append(data)
    for _ in range(MAX_TRAILER_LINES):
        if _line(rfile) == b"":
            return b"".join(chunks)
    raise FramingError(400, "too many trailer lines in a chunked request body")


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip(b" \t")
    if not _CHUNK_SIZE.match(text):
        raise FramingError(400, "bad chunked request body")
    return int(text, 16)


def _line(rfile: BinaryIO) -> bytes:
    """One CRLF-terminated line without its terminator; a missing terminator
    (end of input, or a line longer than the limit) is a framing error."""
    raw = rfile.readline(MAX_LINE_BYTES + 2)
    if not raw.endswith(b"\r\n"):
        raise FramingError(400, "bad chunked request body")
    return raw[:-2]
