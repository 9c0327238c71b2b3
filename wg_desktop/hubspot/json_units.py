"""JSON decoding in small units, so a large answer never holds the GIL for long.

``json.loads`` is one C call: decoding a 100-flow batch answer (~0.9 MB) holds
the interpreter lock for ~15 ms, and every other thread — the GUI thread
included — waits that long. ``loads`` here returns exactly what ``json.loads``
returns, but splits a large document at its first two levels (the answer
object, then its arrays and objects, e.g. ``results`` or a flow's ``actions``)
and decodes each piece below that with the same C decoder. Between pieces the
interpreter may switch threads, so the longest hold is one piece: one flow of
a batch answer (~1.5 ms for HubSpot's largest, 100 KB), not the whole answer.

Small bodies (most answers) take the plain ``json.loads`` path.

``items_on_demand`` goes one step further for answers consumed one item at a
time (a batch read that sync stores flow by flow): the top-level object's
arrays become :class:`JsonItems`, checked element by element while loading
(so a cut-off answer still fails here, where the retry policy sees it) but
decoded again only when asked for. Live objects then stay at one item instead
of a hundred flows' ~10,000 dicts and lists, which every garbage collection
during the sync would otherwise walk with the GIL held.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.decoder import JSONDecodeError, scanstring
from typing import Any, Iterator

# Below this many bytes one json.loads call is short enough (about 1 ms).
UNIT_THRESHOLD = 64 * 1024
SPLIT_LEVELS = 2          # the document, and its direct children
_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()


class JsonItems(Sequence[Any]):
    """A JSON array's elements, kept as text and decoded each time one is asked
    for. Equal to the list it decodes to."""

    __slots__ = ("_text", "_spans")

    def __init__(self, text: str, spans: list[int]) -> None:
        self._text = text
        self._spans = spans         # where each element starts in ``text``

    def __len__(self) -> int:
        return len(self._spans)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return _decoder.raw_decode(self._text, self._spans[index])[0]

    def __iter__(self) -> Iterator[Any]:
        for start in self._spans:
            yield _decoder.raw_decode(self._text, start)[0]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (JsonItems, list)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-list semantics: unhashable

    def __repr__(self) -> str:
        return f"JsonItems({len(self)} elements)"


def loads(body: bytes | str, *, items_on_demand: bool = False) -> Any:
    """``json.loads(body)``, decoded in pieces when ``body`` is large. With
    ``items_on_demand`` a top-level object's arrays are :class:`JsonItems`.
    Raises ``ValueError`` (``JSONDecodeError`` or ``UnicodeDecodeError``) for
    what ``json.loads`` refuses."""
    if not items_on_demand and len(body) < UNIT_THRESHOLD:
        return json.loads(body)
    if isinstance(body, (bytes, bytearray)):
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    else:
        text = body
        if text.startswith("\ufeff"):
            raise JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    start = _skip(text, 0)
    if items_on_demand and text[start:start + 1] == "{":
        value, end = _object(text, start + 1, SPLIT_LEVELS - 1, arrays_on_demand=True)
    else:
        value, end = _value(text, start, SPLIT_LEVELS)
    end = _skip(text, end)
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] in _WHITESPACE:
        index += 1
    return index


def _value(text: str, index: int, levels: int) -> tuple[Any, int]:
    """The value starting at ``index`` (no whitespace before it) and the index after it."""
    opener = text[index:index + 1]
    if levels > 0 and opener == "{":
        return _object(text, index + 1, levels - 1)
    if levels > 0 and opener == "[":
        return _array(text, index + 1, levels - 1)
    return _decoder.raw_decode(text, index)


def _object(text: str, index: int, levels: int, arrays_on_demand: bool = False
            ) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    index = _skip(text, index)
    if text[index:index + 1] == "}":
        return result, index + 1
    while True:
        if text[index:index + 1] != '"':
            raise JSONDecodeError("Expecting property name enclosed in double quotes",
                                  text, index)
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        if text[index:index + 1] != ":":
            raise JSONDecodeError("Expecting ':' delimiter", text, index)
        index = _skip(text, index + 1)
        if arrays_on_demand and text[index:index + 1] == "[":
            result[key], index = _items(text, index + 1)
        else:
            result[key], index = _value(text, index, levels)
        index = _skip(text, index)
        delimiter = text[index:index + 1]
        if delimiter == "}":
            return result, index + 1
        if delimiter != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _array(text: str, index: int, levels: int) -> tuple[list[Any], int]:
    result: list[Any] = []
    index = _skip(text, index)
    if text[index:index + 1] == "]":
        return result, index + 1
    while True:
        item, index = _value(text, index, levels)
        result.append(item)
        index = _skip(text, index)
        delimiter = text[index:index + 1]
        if delimiter == "]":
            return result, index + 1
        if delimiter != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _items(text: str, index: int) -> tuple[JsonItems, int]:
    """Check each element of the array after ``[`` at ``index`` by decoding it
    (then dropping it) and remember where it starts."""
    spans: list[int] = []
    index = _skip(text, index)
    if text[index:index + 1] == "]":
        return JsonItems(text, spans), index + 1
    while True:
        spans.append(index)
        _, index = _decoder.raw_decode(text, index)
        index = _skip(text, index)
        delimiter = text[index:index + 1]
        if delimiter == "]":
            return JsonItems(text, spans), index + 1
        if delimiter != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)
