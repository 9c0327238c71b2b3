"""Sync and version-store benchmarks (issue: workflow sync and version history).

1. API calls and wall time of a first sync of 1,000 workflows and of an
   incremental sync with 10 changed, against the demo portal at realistic
   latency (40 ms ± 20 ms per request).
2. Bytes stored per version for a 300-action flow edited 1,000 times.
3. History list and version open for a flow with 1,000 versions.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import keyring

from benchmarks.common import Result

FLOWS = 1000


def _context(folder: Path):
    from tests.support.memory_keyring import MemoryKeyring
    from wg_desktop.context import build_context
    from wg_desktop.paths import Paths

    keyring.set_keyring(MemoryKeyring())
    return build_context(Paths.resolve(folder, {}), {})


def bench_sync_calls(folder: Path) -> list[Result]:
    from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
    from wg_desktop.services.hubspot_setup import build_hubspot_services

    ctx = _context(folder)
    results = []
    with DemoPortal(DemoConfig(seed=99, workflows=FLOWS, burst_limit=10_000,
                               faults=Faults(latency_ms=40, latency_jitter_ms=20))) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
        portal = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
        for label, prepare, target in (
                ("first sync of 1,000", lambda: None, 2 * math.ceil(FLOWS / 100) + 2),
                ("incremental sync, 10 changed", lambda: demo.drift_once(10),
                 math.ceil(FLOWS / 100) + 2)):
            prepare()
            demo.clear_request_log()
            started = time.perf_counter()
            outcome = hub.sync.sync(portal.hub_id)
            seconds = time.perf_counter() - started
            calls = len([e for e in demo.request_log() if "/automation/" in e.path])
            results.append(Result(f"{label}: API calls", calls, "calls", f"<= {target}",
                                  calls <= target, outcome.summary()))
            results.append(Result(f"{label}: wall time", seconds, "s",
                                  detail="demo portal latency 40 ± 20 ms per request"))
        hub.close()
    ctx.close()
    return results


def _big_flow() -> dict:
    from wg_desktop.demo.server import DemoConfig, DemoPortal

    with DemoPortal(DemoConfig(seed=3, workflows=200)) as demo:
        pid = demo.portal_ids[0]
        return max((demo.get_flow(pid, f) for f in demo.flow_ids(pid)),
                   key=lambda f: len(f["actions"]))


def bench_version_store(folder: Path) -> list[Result]:
    import random

    from wg_desktop.store.normalize import canonical_bytes, normalize_flow
    from wg_desktop.store.db import open_store
    from wg_desktop.store.models import Portal, Workflow, WorkflowVersion
    from wg_desktop.store.versions import add_version, history, version_json

    flow = _big_flow()
    store = open_store(folder / "versions.db", os.urandom(32))
    workflow = Workflow.create(portal=Portal.create(hub_id=1), flow_id=str(flow["id"]))
    rng = random.Random(5)
    raw_sizes = []
    for i in range(1000):
        flow = copy.deepcopy(flow)
        action = rng.choice(flow["actions"])
        action.setdefault("fields", {})["benchmark_edit"] = f"edit {i}"
        normalized = normalize_flow(flow)
        raw_sizes.append(len(canonical_bytes(normalized)))
        with store.writing():
            add_version(workflow, normalized, origin="sync")
    stored = [len(v.body) for v in WorkflowVersion.select(WorkflowVersion.body)]
    per_version = sum(stored) / len(stored)
    share = per_version / statistics.mean(raw_sizes)

    # What the user waits for, through the functions the window and the CLI
    # call: the window's history load and version load (history query, decode,
    # readable lines, JSON tree, raw text) and the CLI's 'show' (history query
    # and decode). The bare decode is reported beside them for reference.
    from wg_desktop.config import Settings
    from wg_desktop.services.audit import AuditLog
    from wg_desktop.services.workflows import WorkflowQueries
    from wg_desktop.ui.pages.history_panel import load_history, load_version, version_detail

    queries = WorkflowQueries(store, AuditLog(store, Settings.load(folder / "none.json", {})))
    list_times, open_times, detail_times, show_times, decode_times = [], [], [], [], []
    versions = history(workflow)
    for i in range(30):
        started = time.perf_counter()
        versions = load_history(queries, workflow.id).versions
        list_times.append((time.perf_counter() - started) * 1000)
        position = (i * 37) % len(versions)
        started = time.perf_counter()
        loaded = load_version(queries, workflow.id, versions[position].id)
        open_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        version_detail(loaded.document)
        detail_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        queries.version(workflow, len(versions) - position)
        show_times.append((time.perf_counter() - started) * 1000)
        target = WorkflowVersion.get_by_id(versions[position].id)
        started = time.perf_counter()
        version_json(target)
        decode_times.append((time.perf_counter() - started) * 1000)
    store.close()
    return [
        Result("bytes stored per version (300-action flow, 1,000 edits)", per_version, "B",
               "<= 10 % of raw JSON", share <= 0.10,
               f"{share:.2%} of {statistics.mean(raw_sizes) / 1024:.0f} KiB raw"),
        Result("history list, 1,000 versions, window's load (median)",
               statistics.median(list_times), "ms", "< 20 ms",
               statistics.median(list_times) < 20),
        Result("open one version of 1,000 in the window (median)", statistics.median(open_times),
               "ms", "< 20 ms", statistics.median(open_times) < 20,
               "the version's place in the history + decode + the readable view"),
        Result("  then its JSON tree and raw text, secondary tabs (median)",
               statistics.median(detail_times), "ms", "",
               None, "built by a second task, shown when it arrives"),
        Result("'show' one version of 1,000 from the CLI (median)",
               statistics.median(show_times), "ms", "< 20 ms",
               statistics.median(show_times) < 20, "the version's place + decode"),
        Result("decode alone, for reference (median)", statistics.median(decode_times), "ms"),
    ]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        results = bench_version_store(Path(folder))
        results += bench_sync_calls(Path(folder) / "sync")
    return results
