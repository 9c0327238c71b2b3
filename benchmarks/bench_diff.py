"""Diff cost inside sync (issue: See what changed, undo it safely).

Every changed workflow's stored version gets a one-line summary from the
flow-aware diff against the version before it, so the diff runs inside sync.
Measured: ``version_summary`` of two 300-action versions of a demo-portal
flow that differ by a changed delay, an added action and re-enrollment, plus
the full structured diff with its grouped text; median of repeated runs.
"""

from __future__ import annotations

import copy
import time

from benchmarks.common import Result, median

TARGET_MS = 50.0
RUNS = 30


def pair() -> tuple[dict, dict]:
    from wg_desktop.demo.data import FlowRecord, generate_body
    from wg_desktop.store.normalize import normalize_flow

    record = FlowRecord(flow_id=1, object_type_id="0-1", name="Big", uuid="u", is_enabled=True,
                        revision=1, created_ms=0, updated_ms=0, gen_seed=20260301, size=300)
    old = normalize_flow({"name": "Big", "isEnabled": True, **generate_body(record)})
    new = copy.deepcopy(old)
    delay = next(a for a in new["actions"] if a.get("actionTypeId") == "0-1")
    delay["fields"]["delta"] = "2880"
    end = next(a for a in new["actions"] if a.get("type") == "SINGLE_CONNECTION"
               and "connection" not in a)
    end["connection"] = {"edgeType": "STANDARD", "nextActionId": "999"}
    new["actions"].append({"type": "SINGLE_CONNECTION", "actionId": "999", "actionTypeId": "0-3",
                           "fields": {"subject": "Review"}})
    criteria = new["enrollmentCriteria"]
    criteria["shouldReEnroll"] = not criteria.get("shouldReEnroll")
    return old, normalize_flow(new)


def timed(fn) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return median(samples)


def run() -> list[Result]:
    from wg_desktop.flows.diff import diff_flows, version_summary

    old, new = pair()
    summary = version_summary(old, new)
    ms = timed(lambda: version_summary(old, new))
    full = timed(lambda: diff_flows(old, new).summary_text())
    return [Result("diff: stored summary, 300 vs 300 actions", ms, "ms", f"< {TARGET_MS:g} ms",
                   ms < TARGET_MS, summary),
            Result("diff: grouped text, 300 vs 300 actions", full, "ms", f"< {TARGET_MS:g} ms",
                   full < TARGET_MS)]
