"""Full-text search benchmarks (issue: see what changed, undo it, find anything).

1. The store: 1,000 demo workflows (the demo portal's generator) × 100
   versions each, every version a drift edit of the one before (the demo
   portal's own mutations: delays, property values, added tasks, renames,
   time windows), stored through ``add_version`` as a sync stores them — so
   the bodies are real keyframes and deltas and every version is indexed as
   it is stored. 100,000 versions.
2. Search latency, median of 7 runs per query, the whole ``search()`` call
   (FTS match, joins, version numbers, decoding each hit for its snippet),
   50 hits: a common word, a rare word, a property name, a webhook URL, a
   prefix, two words, one portal.
3. Index size (FTS5 payload bytes) and the time of a full rebuild.
4. What indexing adds to storing one version: ``add_version`` on the same
   2,000 edits with the index call and with it replaced by a no-op.
"""

from __future__ import annotations

import copy
import itertools
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result

WORKFLOWS = 1000
VERSIONS_PER_WORKFLOW = 100
RUNS = 7
TARGET_MS = 100.0
SYNC_SAMPLE = 2000


def _edits(seed: int, workflows: int, versions: int):
    """(workflow index, flow dict) for ``versions`` drift edits of each of
    ``workflows`` demo flows, oldest first per workflow."""
    from wg_desktop.demo.data import generate_body, generate_records
    from wg_desktop.demo.drift import _mutate

    rng = random.Random(seed)
    for index, record in enumerate(generate_records(seed, 1000001, workflows)):
        body = generate_body(record)
        for revision in range(versions):
            if revision:
                record.revision += 1
                _mutate(rng, record, body)
            # A deep copy: the next edit changes ``body`` in place.
            yield index, record, copy.deepcopy({
                "id": str(record.flow_id), "name": record.name,
                "objectTypeId": record.object_type_id, "isEnabled": record.is_enabled, **body})


def _build(folder: Path):
    import datetime as dt

    from wg_desktop.store.db import open_store
    from wg_desktop.store.models import Portal, Workflow
    from wg_desktop.store.normalize import normalize_flow
    from wg_desktop.store.versions import add_version

    store = open_store(folder / "search.db", os.urandom(32))
    portals = [Portal.create(hub_id=1000001, name="Main"), Portal.create(hub_id=1000002,
                                                                         name="Sandbox")]
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    workflows: dict[int, Workflow] = {}
    edits = _edits(7, WORKFLOWS, VERSIONS_PER_WORKFLOW)
    started = time.perf_counter()
    while chunk := list(itertools.islice(edits, 5000)):    # one commit per chunk, like syncs
        with store.writing():
            for index, record, flow in chunk:
                workflow = workflows.get(index)
                if workflow is None:
                    workflow = workflows[index] = Workflow.create(
                        portal=portals[index % 2], flow_id=str(record.flow_id),
                        name=record.name)
                add_version(workflow, normalize_flow(flow), origin="sync",
                            captured_at=start + dt.timedelta(minutes=record.revision * 7 + index))
    return store, time.perf_counter() - started


def _index_bytes(store) -> int:
    from wg_desktop.store.search import TABLE

    parts = (f"SELECT coalesce(sum(length(block)), 0) FROM {TABLE}_data",
             f"SELECT coalesce(sum(length(term)) + 16 * count(*), 0) FROM {TABLE}_idx",
             f"SELECT coalesce(sum(length(sz)) + 16 * count(*), 0) FROM {TABLE}_docsize")
    return sum(store.db.execute_sql(sql).fetchone()[0] for sql in parts)


def _queries(store) -> list[tuple[str, str, int | None]]:
    from wg_desktop.store.models import Workflow
    from wg_desktop.store.versions import latest_version, version_json

    # A webhook URL that really occurs, picked from the store.
    url = None
    for workflow in Workflow.select().order_by(Workflow.id):
        url = next((a["webhookUrl"] for a in version_json(latest_version(workflow))
                    .get("actions", []) if a.get("type") == "WEBHOOK"), None)
        if url is not None:
            break
    prop = "lifecyclestage"
    return [("common word", "contact", None),
            ("word of drift-added tasks", "colleague", None),
            ("property name", prop, None),
            ("webhook URL (phrase)", url or "hooks.example.com", None),
            ("prefix", "webin", None),
            ("two words", "follow up", None),
            ("one portal of two", "contact", 1000002)]


def _search_results(store) -> list[Result]:
    from wg_desktop.services.search import SearchService

    service = SearchService(store)
    results = []
    for label, query, portal in _queries(store):
        times, hits = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            hits = service.search(query, portal=portal, limit=50)
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        results.append(Result(f"search 100,000 versions: {label} (median)", median, "ms",
                              f"< {TARGET_MS:.0f} ms", median < TARGET_MS,
                              f"{query!r}: {len(hits)} hits shown"))
    return results


def _sync_cost(folder: Path) -> list[Result]:
    """add_version per version, with and without the index call, same edits."""
    from wg_desktop.store import search
    from wg_desktop.store.db import open_store
    from wg_desktop.store.models import Portal, Workflow
    from wg_desktop.store.normalize import normalize_flow
    from wg_desktop.store.versions import add_version

    edits = list(_edits(11, SYNC_SAMPLE // 50, 50))
    timings: dict[str, float] = {}
    real = search.index_version
    for label, replacement in (("without index", lambda version_id, definition: None),
                               ("with index", real)):
        store = open_store(folder / f"cost-{label.replace(' ', '-')}.db", os.urandom(32))
        portal = Portal.create(hub_id=1)
        workflows: dict[int, Workflow] = {}
        search.index_version = replacement
        try:
            started = time.perf_counter()
            with store.writing():
                for index, record, flow in edits:
                    workflow = workflows.get(index)
                    if workflow is None:
                        workflow = workflows[index] = Workflow.create(
                            portal=portal, flow_id=str(record.flow_id))
                    add_version(workflow, normalize_flow(flow), origin="sync")
            timings[label] = (time.perf_counter() - started) * 1000 / len(edits)
        finally:
            search.index_version = real
            store.close()
    added = timings["with index"] - timings["without index"]
    return [
        Result("store one version (add_version), before: no index", timings["without index"],
               "ms", detail=f"{len(edits)} demo drift edits"),
        Result("store one version (add_version), after: indexed", timings["with index"], "ms",
               detail=f"+{added:.3f} ms, +{added / timings['without index']:.0%}"),
    ]


def run() -> list[Result]:
    from wg_desktop.services.search import SearchService

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        results = _sync_cost(folder)
        store, build_s = _build(folder)
        try:
            versions = SearchService(store).status()
            results.append(Result("build the benchmark store (add_version, indexed)", build_s,
                                  "s", detail=f"{versions.versions} versions of {WORKFLOWS} "
                                              "workflows"))
            results += _search_results(store)
            size = _index_bytes(store)
            store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            file_mb = store.path.stat().st_size / 1e6
            results.append(Result("index size, 100,000 versions", size / 1e6, "MB",
                                  detail=f"FTS5 payload; whole database file {file_mb:.0f} MB"))
            rebuild = SearchService(store).rebuild()
            results.append(Result("rebuild the index, 100,000 versions", rebuild.seconds, "s",
                                  detail=f"{rebuild.indexed} indexed, "
                                         f"{len(rebuild.unreadable)} unreadable"))
            results += [Result(r.name + " (after rebuild)", r.value, r.unit, r.target, r.met,
                               r.detail) for r in _search_results(store)[:1]]
        finally:
            store.close()
    return results
