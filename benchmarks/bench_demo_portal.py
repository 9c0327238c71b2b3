"""Demo portal throughput: requests per second served to 10 concurrent
clients (one thread and one keep-alive ``httpx.Client`` each), no faults.

The portal runs in its own process (``python -m wg_desktop.demo.command``) so
that it and the clients do not share one interpreter lock; on the 2-core
reference machine that is one core for each side. The mix is what a sync
does: mostly single-flow GETs, some list pages and batch reads. About 5 s.

Run: ``.venv/bin/python -m benchmarks demo``
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import httpx

from benchmarks.common import Result
from benchmarks.demo_child import DemoChild

CLIENTS = 10
WARMUP_S = 0.7
MEASURE_S = 4.3
WORKFLOWS = 1000
TARGET_RPS = 500.0


def _measure(info: dict) -> tuple[float, int, int, list[float]]:
    token = info["portals"][0]["privateAppToken"]
    base = info["baseUrl"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        ids = [i["id"] for i in c.get("/automation/v4/flows", params={"limit": 100}).json()["results"]]
    start_at = time.perf_counter() + WARMUP_S
    stop_at = start_at + MEASURE_S
    counts = [0] * CLIENTS
    errors = [0] * CLIENTS
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            i = n
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                if i % 20 == 0:
                    answer = c.get("/automation/v4/flows", params={"limit": 100})
                elif i % 20 == 10:
                    answer = c.post("/automation/v4/flows/batch/read",
                                    json={"inputs": [{"type": "FLOW_ID", "flowId": f} for f in ids[i % 90:i % 90 + 10]]})
                else:
                    answer = c.get(f"/automation/v4/flows/{ids[i % len(ids)]}")
                done = time.perf_counter()
                i += 1
                if now >= start_at:
                    counts[n] += 1
                    latencies[n].append(done - now)
                    if answer.status_code != 200:
                        errors[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts)
    return total / MEASURE_S, total, sum(errors), [x for per in latencies for x in per]


def _generation_time() -> float:
    from wg_desktop.demo.data import FlowStore
    started = time.perf_counter()
    store = FlowStore(1_000_001, 7, 5000)
    store.page(None, 100)
    return time.perf_counter() - started


def run() -> list[Result]:
    with DemoChild(workflows=WORKFLOWS, seed=7, burst_limit=1_000_000_000) as portal:
        rps, total, errors, latencies = _measure(portal.info)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p95 = latencies[int(len(latencies) * 0.95)] * 1000 if latencies else 0.0
    generation = _generation_time()
    return [
        Result(name="demo portal throughput (10 keep-alive clients, no faults)", value=rps, unit="req/s",
               target=f">= {TARGET_RPS:.0f} req/s", met=rps >= TARGET_RPS and errors == 0,
               detail=f"{total} requests in {MEASURE_S} s, {errors} errors, p50 {p50:.1f} ms, "
                      f"p95 {p95:.1f} ms, {os.cpu_count()} cores, server in its own process"),
        Result(name="demo portal: generate 5,000 workflows", value=generation, unit="s",
               target="< 2 s", met=generation < 2.0, detail="listing metadata; bodies are generated lazily"),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.line())
