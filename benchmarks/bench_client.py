"""HubSpot client overhead against the demo portal.

* CPU cost per request of ``HubSpotClient`` (breaker, limiter, retry policy,
  streamed size-capped read, error mapping, call record) on top of a plain
  ``httpx.Client`` doing the same GET + JSON decode. Target < 1 ms CPU per
  request. The demo portal runs in a child process so ``time.process_time``
  counts the client side only.
* Wall-clock speed-up of connection reuse (the client's keep-alive pool)
  versus a new connection per call.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import httpx

from benchmarks.common import Result
from benchmarks.demo_child import DemoChild
from wg_desktop.hubspot.auth import StaticTokenProvider
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.observability import InMemoryCallRecorder
from wg_desktop.hubspot.transport.client import HubSpotClient

REQUESTS = 500          # per round, per contender
ROUNDS = 5
REUSE_REQUESTS = 200


def _cpu_per_request(fn: Callable[[], None], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1000.0


def _wall_per_request(fn: Callable[[], None], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000.0


def _client(base: str, token: str, **kw: Any) -> HubSpotClient:
    # Budgets far above what the benchmark sends: it measures overhead, not waits.
    cfg = ClientConfig(api_base=base, per_minute=100_000, per_hour=1_000_000,
                       per_day=10_000_000)
    return HubSpotClient("bench", cfg, StaticTokenProvider(token),
                         recorder=InMemoryCallRecorder(), **kw)


def _persisted_overhead(base: str, token: str, route: Any, via_raw: Callable[[], None]) -> float:
    """The same overhead with the app's real persistence: every admitted request
    and every call record written to the encrypted SQLite store."""
    import os
    import tempfile
    from pathlib import Path

    from wg_desktop.store.api_metrics import StoreCallRecorder, StoreUsageStore
    from wg_desktop.store.db import open_store

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "bench.db", os.urandom(32))
        cfg = ClientConfig(api_base=base, per_minute=100_000, per_hour=1_000_000,
                           per_day=10_000_000)
        client = HubSpotClient("bench", cfg, StaticTokenProvider(token),
                               usage_store=StoreUsageStore(store),
                               recorder=StoreCallRecorder(store))
        try:
            _cpu_per_request(lambda: client.request(route), 50)
            samples = []
            for _ in range(ROUNDS):
                with_db = _cpu_per_request(lambda: client.request(route), REQUESTS)
                samples.append(with_db - _cpu_per_request(via_raw, REQUESTS))
            return statistics.median(samples)
        finally:
            client.close()
            store.close()


def run() -> list[Result]:
    # The demo portal in a child process, so its CPU is not counted as ours.
    with DemoChild(workflows=20, burst_limit=10_000_000, burst_window_s=1) as demo:
        base = demo.info["baseUrl"]
        portal = next(p for p in demo.info["portals"] if p["hasWorkflows"])
        token = portal["privateAppToken"]
        client = _client(base, token)
        raw = httpx.Client(base_url=base, timeout=httpx.Timeout(30, connect=10),
                           limits=httpx.Limits(max_connections=10, max_keepalive_connections=10))
        try:
            first = raw.get("/automation/v4/flows", params={"limit": 1},
                            headers={"Authorization": f"Bearer {token}"}).json()
            flow_id = first["results"][0]["id"]
            route = client.route("flows.get", flowId=flow_id)
            auth = {"Authorization": f"Bearer {token}"}

            def via_client() -> None:
                client.request(route)

            def via_raw() -> None:
                response = raw.get(route.path, headers=auth)
                response.raise_for_status()
                response.json()

            for fn in (via_client, via_raw):          # warm up both paths
                _cpu_per_request(fn, 50)
            client_cpu, raw_cpu = [], []
            for _ in range(ROUNDS):
                client_cpu.append(_cpu_per_request(via_client, REQUESTS))
                raw_cpu.append(_cpu_per_request(via_raw, REQUESTS))
            overhead = statistics.median(c - r for c, r in zip(client_cpu, raw_cpu))
            c_med, r_med = statistics.median(client_cpu), statistics.median(raw_cpu)
            persisted_overhead = _persisted_overhead(base, token, route, via_raw)

            fresh = _client(base, token, transport=httpx.HTTPTransport(
                limits=httpx.Limits(max_keepalive_connections=0)))
            try:
                def via_fresh() -> None:
                    fresh.request(route)

                _wall_per_request(via_fresh, 20)
                reuse_ms, fresh_ms = [], []
                for _ in range(3):
                    reuse_ms.append(_wall_per_request(via_client, REUSE_REQUESTS))
                    fresh_ms.append(_wall_per_request(via_fresh, REUSE_REQUESTS))
            finally:
                fresh.close()
            reuse, new = statistics.median(reuse_ms), statistics.median(fresh_ms)
        finally:
            client.close()
            raw.close()

    speedup = new / reuse if reuse > 0 else float("nan")
    return [
        Result("hubspot client CPU overhead per request", overhead, "ms", "< 1 ms",
               overhead < 1.0, f"client {c_med:.3f} ms vs plain httpx {r_med:.3f} ms CPU per "
                               f"GET flow, median of {ROUNDS} rounds x {REQUESTS}"),
        Result("client + encrypted-store persistence CPU overhead per request",
               persisted_overhead, "ms", "< 1 ms", persisted_overhead < 1.0,
               "budget row and call record written to SQLCipher for every request"),
        Result("hubspot client CPU per request", c_med, "ms"),
        Result("plain httpx CPU per request", r_med, "ms"),
        Result("connection reuse speed-up", speedup, "x", "> 1x", speedup > 1.0,
               f"keep-alive {reuse:.3f} ms vs new connection {new:.3f} ms per call (wall, "
               f"median of 3 x {REUSE_REQUESTS})"),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.line())
