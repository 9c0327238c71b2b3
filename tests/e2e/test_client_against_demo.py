"""The HubSpot client against the demo portal with faults on: 5xx answers, slow
answers past a short client timeout, dropped connections and 429 bursts from a
small burst window. Reads must complete with the server's exact data, and a
client limiter set below the server's window must cause no 429 at all."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.hubspot import api
from wg_desktop.hubspot.auth import StaticTokenProvider
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.observability import InMemoryCallRecorder
from wg_desktop.hubspot.ratelimit import (
    InMemoryUsageStore,
    Priority,
    RateLimiter,
    Window,
    windows_from_config,
)
from wg_desktop.hubspot.transport.client import HubSpotClient

SERVER_WINDOW_S = 1.0
FAULTS = Faults(error_5xx_rate=0.2, slow_rate=0.05, slow_seconds=1.5, drop_rate=0.1)


class RecordingStore(InMemoryUsageStore):
    """Keeps every admission time so the test can check the client budget."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []
        self._guard = threading.Lock()

    def append(self, portal_key: str, ts: float) -> None:
        with self._guard:
            self.stamps.append(ts)
        super().append(portal_key, ts)


def max_in_any_window(stamps: list[float], seconds: float) -> int:
    stamps = sorted(stamps)
    best = j = 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def client_config(portal: DemoPortal, **overrides) -> ClientConfig:
    values = dict(api_base=portal.base_url, timeout=0.5, retry_timeout=1.0, connect_timeout=1.0,
                  max_attempts=10, retry_deadline=25.0, backoff_base=0.05, backoff_max=0.4,
                  breaker_failure_threshold=50)
    values.update(overrides)
    return ClientConfig(**values)


def read_everything(client: HubSpotClient, ids: list[str]) -> tuple[dict, dict]:
    with ThreadPoolExecutor(max_workers=6) as pool:
        singles = dict(zip(ids, pool.map(lambda i: api.get_flow(
            client, i, priority=Priority.BACKGROUND), ids)))
    batched: dict = {}
    for start in range(0, len(ids), 10):        # many small batches: more faults met
        batch = api.read_flow_batch(client, ids[start:start + 10])
        flows = list(batch)
        assert batch.errors == () and all(isinstance(f, api.Flow) for f in flows)
        batched.update((f.id, f) for f in flows)
    assert [i for i in ids if i not in batched] == []
    return singles, batched


@pytest.fixture
def portal_factory():
    portals: list[DemoPortal] = []

    def make(**kw) -> DemoPortal:
        portal = DemoPortal(DemoConfig(seed=7, workflows=30, send_retry_after=True,
                                       burst_window_s=SERVER_WINDOW_S, faults=FAULTS,
                                       **kw)).start()
        portals.append(portal)
        return portal

    yield make
    for portal in portals:
        portal.stop()


def test_reads_survive_faults_without_a_single_rate_limit_violation(portal_factory):
    server_limit, client_limit = 20, 10
    portal = portal_factory(burst_limit=server_limit)
    pid = portal.portal_ids[0]
    cfg = client_config(portal)
    store = RecordingStore()
    limiter = RateLimiter("demo", (Window("burst", client_limit, SERVER_WINDOW_S),)
                          + windows_from_config(cfg), store=store)
    recorder = InMemoryCallRecorder()
    with HubSpotClient("demo", cfg, StaticTokenProvider(portal.private_app_token(pid)),
                       limiter=limiter, recorder=recorder) as client:
        ids = portal.flow_ids(pid)
        listed = api.list_flows(client, limit=10)
        assert sorted(f.id for f in listed.flows) == sorted(ids)
        singles, batch = read_everything(client, ids)

    for flow_id in ids:
        truth = portal.get_flow(pid, flow_id)
        assert singles[flow_id].raw == truth
        assert batch[flow_id].raw == truth
    assert portal.rate_limit_violations == 0
    assert max_in_any_window(store.stamps, SERVER_WINDOW_S) <= client_limit
    # the faults really happened and were absorbed by retries
    faults = Counter(e.fault for e in portal.request_log() if e.fault)
    assert faults["error_5xx"] > 0 and faults["drop"] > 0 and faults["slow"] > 0, faults
    records = recorder.records()
    assert all(r.error is None for r in records)
    assert sum(r.retries for r in records) >= sum(faults.values())


def test_429_bursts_from_a_small_window_are_waited_out(portal_factory):
    server_limit = 10
    portal = portal_factory(burst_limit=server_limit)
    pid = portal.portal_ids[0]
    token = portal.private_app_token(pid)
    cfg = client_config(portal)
    store = RecordingStore()
    recorder = InMemoryCallRecorder()
    ids = portal.flow_ids(pid)
    # Someone else (same app, same portal) has just used the whole burst window.
    portal.set_faults(Faults())
    with httpx.Client(base_url=portal.base_url,
                      headers={"Authorization": f"Bearer {token}"}) as other:
        for _ in range(server_limit):
            assert other.get("/integrations/v1/me").status_code == 200
    portal.set_faults(FAULTS)
    with HubSpotClient("demo", cfg, StaticTokenProvider(token), usage_store=store,
                       recorder=recorder) as client:
        singles, batch = read_everything(client, ids)
        snapshot = client.limiter.snapshot()

    for flow_id in ids:
        truth = portal.get_flow(pid, flow_id)
        assert singles[flow_id].raw == truth and batch[flow_id].raw == truth
    assert portal.rate_limit_violations >= 1          # the app's limiter was above the window
    records = recorder.records()
    assert all(r.error is None for r in records)
    assert any(r.waited_for_limit_ms > 0 for r in records)
    assert max_in_any_window(store.stamps, 60.0) <= cfg.per_minute   # client budget kept
    assert snapshot.window("client", "minute").used == len(store.stamps)
    assert snapshot.window("hubspot", "burst") is not None or snapshot.server == ()
