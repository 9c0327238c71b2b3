"""The version store: every captured definition of a workflow, compressed,
deduplicated by content hash, and delta-encoded.

Encoding: a *keyframe* is the normalized JSON compressed with zstd; the
versions after it are compressed with zstd using their keyframe as a raw
dictionary, which turns "the same 80 KB flow with one field changed" into about
100 bytes. A version is at most two decompressions away (keyframe, then delta).
A new keyframe starts when a delta stops paying (> 20 % of a full encoding) or
after ``KEYFRAME_INTERVAL`` deltas.

Pruning (retention, the per-workflow cap) never deletes the newest version,
and re-encodes the versions that depend on a removed keyframe first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable

import peewee as pw
import zstandard as zstd

from wg_desktop.flows.diff import version_summary
from wg_desktop.store.normalize import canonical_bytes, content_hash
from wg_desktop.store.models import Workflow, WorkflowVersion, utcnow
from wg_desktop.store import search   # imports this module back: module imports keep that safe

FULL = "zstd"
DELTA = "zstd-delta"
LEVEL = 10
KEYFRAME_INTERVAL = 100
DELTA_WORTH_IT = 0.2


class VersionCorrupt(RuntimeError):
    """A stored version cannot be decoded (damaged data)."""


@dataclass(frozen=True)
class VersionInfo:
    """A version's metadata: what the history list shows (no body decoded)."""

    id: int
    workflow_id: int
    captured_at: dt.datetime
    revision_id: str
    remote_updated_at: str
    origin: str
    content_hash: str
    raw_size: int
    stored_size: int
    summary: str


def _compress(data: bytes, base: bytes | None = None) -> bytes:
    if base is None:
        return zstd.ZstdCompressor(level=LEVEL).compress(data)
    dictionary = zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)
    return zstd.ZstdCompressor(level=LEVEL, dict_data=dictionary).compress(data)


def _decompress(blob: bytes, base: bytes | None = None) -> bytes:
    try:
        if base is None:
            return zstd.ZstdDecompressor().decompress(blob)
        dictionary = zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)
        return zstd.ZstdDecompressor(dict_data=dictionary).decompress(blob)
    except zstd.ZstdError as exc:
        raise VersionCorrupt(f"a stored version is damaged ({exc})") from None


class Keyframes:
    """The last few keyframes decompressed, for decoding many versions in a row:
    each delta otherwise reads and decompresses its keyframe again. A few, not
    all: a history whose every version is a keyframe would hold them all."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._data: OrderedDict[int, bytes] = OrderedDict()

    def base_of(self, version: WorkflowVersion) -> bytes:
        """The decompressed keyframe of delta ``version``."""
        data = self._data.get(version.base_id)
        if data is not None:
            self._data.move_to_end(version.base_id)
            return data
        base = WorkflowVersion.get_or_none(WorkflowVersion.id == version.base_id)
        if base is None or base.encoding != FULL:
            raise VersionCorrupt(f"version {version.id} lost its keyframe")
        data = _decompress(bytes(base.body))
        self._data[version.base_id] = data
        if len(self._data) > self._size:
            self._data.popitem(last=False)
        return data


def version_bytes(version: WorkflowVersion, keyframes: Keyframes | None = None) -> bytes:
    """The normalized JSON bytes of a version (verified against its hash).
    ``keyframes``: shared by the calls of a loop over many versions."""
    if version.encoding == DELTA:
        base = (keyframes if keyframes is not None else Keyframes(1)).base_of(version)
        data = _decompress(bytes(version.body), base)
    else:
        data = _decompress(bytes(version.body))
    if content_hash(data) != version.content_hash:
        raise VersionCorrupt(f"version {version.id} does not match its content hash")
    return data


def version_json(version: WorkflowVersion, keyframes: Keyframes | None = None
                 ) -> dict[str, Any]:
    return json.loads(version_bytes(version, keyframes))


def latest_version(workflow: Workflow | int) -> WorkflowVersion | None:
    return (WorkflowVersion.select().where(WorkflowVersion.workflow == workflow)
            .order_by(WorkflowVersion.captured_at.desc(), WorkflowVersion.id.desc()).first())


def _encode(workflow: Workflow | int, data: bytes) -> tuple[str, int | None, bytes]:
    """Choose keyframe or delta for a new version of ``workflow``."""
    full = _compress(data)
    keyframe = (WorkflowVersion.select().where((WorkflowVersion.workflow == workflow)
                                               & (WorkflowVersion.encoding == FULL))
                .order_by(WorkflowVersion.id.desc()).first())
    if keyframe is None:
        return FULL, None, full
    since = (WorkflowVersion.select().where((WorkflowVersion.workflow == workflow)
                                            & (WorkflowVersion.base_id == keyframe.id)).count())
    if since >= KEYFRAME_INTERVAL:
        return FULL, None, full
    try:
        delta = _compress(data, _decompress(bytes(keyframe.body)))
    except VersionCorrupt:
        return FULL, None, full     # never build on a damaged keyframe
    if len(delta) > DELTA_WORTH_IT * len(full):
        return FULL, None, full
    return DELTA, keyframe.id, delta


def add_version(workflow: Workflow, definition: dict[str, Any], *, origin: str,
                revision_id: str = "", remote_updated_at: str = "",
                captured_at: dt.datetime | None = None,
                previous: dict[str, Any] | None = None) -> WorkflowVersion | None:
    """Store ``definition`` (already normalized) unless it equals the latest
    version. Call inside a transaction. Returns the new version or None."""
    data = canonical_bytes(definition)
    digest = content_hash(data)
    latest = latest_version(workflow)
    if latest is not None and latest.content_hash == digest:
        return None
    if previous is None and latest is not None:
        try:
            previous = json.loads(version_bytes(latest))
        except VersionCorrupt:
            previous = None     # a damaged predecessor must not block new captures
    encoding, base_id, blob = _encode(workflow, data)
    version = WorkflowVersion.create(
        workflow=workflow, captured_at=captured_at or utcnow(), revision_id=revision_id,
        remote_updated_at=remote_updated_at, origin=origin, content_hash=digest,
        raw_size=len(data), body=blob, encoding=encoding, base_id=base_id,
        # The same flow-aware diff the diff view shows, so history and diff agree.
        summary=version_summary(previous, definition))
    search.index_version(version.id, definition)   # full-text search sees it at once
    return version


def history(workflow: Workflow | int) -> list[VersionInfo]:
    """Newest first, metadata only (no body is decompressed)."""
    rows = (_info_select().where(WorkflowVersion.workflow == workflow)
            .order_by(WorkflowVersion.captured_at.desc(), WorkflowVersion.id.desc()))
    return [_info(r) for r in rows]


def _info_select() -> pw.ModelSelect:
    return WorkflowVersion.select(WorkflowVersion.id, WorkflowVersion.workflow,
                                  WorkflowVersion.captured_at, WorkflowVersion.revision_id,
                                  WorkflowVersion.remote_updated_at, WorkflowVersion.origin,
                                  WorkflowVersion.content_hash, WorkflowVersion.raw_size,
                                  pw.fn.LENGTH(WorkflowVersion.body).alias("stored"),
                                  WorkflowVersion.summary)


def _info(r: WorkflowVersion) -> VersionInfo:
    return VersionInfo(r.id, r.workflow_id, r.captured_at, r.revision_id, r.remote_updated_at,
                       r.origin, r.content_hash, r.raw_size, r.stored, r.summary)


def version_count(workflow: Workflow | int) -> int:
    return WorkflowVersion.select().where(WorkflowVersion.workflow == workflow).count()


def latest_version_id(workflow: Workflow | int) -> int | None:
    """The id of the newest version (as :func:`latest_version` finds it),
    without reading its body."""
    row = (WorkflowVersion.select(WorkflowVersion.id).where(WorkflowVersion.workflow == workflow)
           .order_by(WorkflowVersion.captured_at.desc(), WorkflowVersion.id.desc()).first())
    return row.id if row is not None else None


def version_at(workflow: Workflow | int, number: int) -> VersionInfo | None:
    """The version numbered ``number`` in the history (1 = oldest, as the
    history lists them) in one query that returns one row, rather than the
    whole history as Python objects. SQLite still reads the metadata of all
    of that workflow's versions: it finds them through the workflow_id index
    and sorts them in a temporary b-tree (there is no index on
    ``(workflow_id, captured_at)``), then skips to the one asked for, so the
    cost grows with the history's length."""
    if number < 1:
        return None
    row = (_info_select().where(WorkflowVersion.workflow == workflow)
           .order_by(WorkflowVersion.captured_at.asc(), WorkflowVersion.id.asc())
           .offset(number - 1).limit(1).first())
    return _info(row) if row is not None else None


def version_number(workflow: Workflow | int, version_id: int) -> tuple[VersionInfo, int, int] | None:
    """(info, its number, how many versions there are) of one stored version
    of ``workflow``, or None when it is not one of its versions."""
    row = (_info_select().where((WorkflowVersion.workflow == workflow)
                                & (WorkflowVersion.id == version_id)).first())
    if row is None:
        return None
    older = (WorkflowVersion.select().where(
        (WorkflowVersion.workflow == workflow)
        & ((WorkflowVersion.captured_at < row.captured_at)
           | ((WorkflowVersion.captured_at == row.captured_at)
              & (WorkflowVersion.id < row.id)))).count())
    return _info(row), older + 1, version_count(workflow)


def prune(versions: Iterable[WorkflowVersion]) -> int:
    """Delete ``versions`` (all of one or more workflows), never the newest of
    a workflow; deltas whose keyframe goes are re-encoded against a new one.
    Call inside a transaction. Returns how many were deleted."""
    doomed: dict[int, WorkflowVersion] = {v.id: v for v in versions}
    for workflow_id in {v.workflow_id for v in doomed.values()}:
        newest = latest_version(workflow_id)
        if newest is not None:
            doomed.pop(newest.id, None)
    keyframes = [v for v in doomed.values() if v.encoding == FULL]
    for keyframe in keyframes:
        survivors = list(WorkflowVersion.select()
                         .where((WorkflowVersion.base_id == keyframe.id)
                                & WorkflowVersion.id.not_in(list(doomed)))
                         .order_by(WorkflowVersion.id))
        if not survivors:
            continue
        # The oldest survivor becomes the keyframe; the others re-encode on it.
        base_data = _decompress(bytes(keyframe.body))
        first = survivors[0]
        first_data = _decompress(bytes(first.body), base_data)
        first.body, first.encoding, first.base_id = _compress(first_data), FULL, None
        first.save()
        for other in survivors[1:]:
            data = _decompress(bytes(other.body), base_data)
            other.body, other.base_id = _compress(data, first_data), first.id
            other.save()
    if not doomed:
        return 0
    return WorkflowVersion.delete().where(WorkflowVersion.id.in_(list(doomed))).execute()


def enforce_version_cap(workflow: Workflow | int, cap: int) -> int:
    """Keep at most ``cap`` versions of a workflow, pruning the oldest first."""
    count = WorkflowVersion.select().where(WorkflowVersion.workflow == workflow).count()
    if count <= cap:
        return 0
    oldest = (WorkflowVersion.select().where(WorkflowVersion.workflow == workflow)
              .order_by(WorkflowVersion.captured_at, WorkflowVersion.id).limit(count - cap))
    return prune(list(oldest))


def purge_versions_older_than(cutoff: dt.datetime) -> int:
    """The retention policy: non-newest versions captured before ``cutoff``."""
    old = list(WorkflowVersion.select().where(WorkflowVersion.captured_at < cutoff))
    return prune(old)
