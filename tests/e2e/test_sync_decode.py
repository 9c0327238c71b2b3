"""Sync decodes a batch answer one flow at a time, over real loopback HTTP:
at most one parsed flow is alive while a batch of 100 is stored, so the
garbage collections during a sync walk a few objects, not a hundred flows."""

from __future__ import annotations

import weakref

from tests.e2e.test_sync import assert_consistent, setup
from wg_desktop.demo.server import DemoConfig, DemoPortal
from wg_desktop.hubspot import api


def test_a_batch_is_stored_holding_one_parsed_flow_at_a_time(ctx, monkeypatch):
    alive: list[weakref.ref] = []
    most_alive = 0
    real_from_json = api.Flow.from_json.__func__

    def counting(cls, data, stale=False):
        nonlocal most_alive
        flow = real_from_json(cls, data, stale)
        alive.append(weakref.ref(flow))
        most_alive = max(most_alive, sum(1 for ref in alive if ref() is not None))
        return flow

    monkeypatch.setattr(api.Flow, "from_json", classmethod(counting))
    with DemoPortal(DemoConfig(seed=31, workflows=230, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        result = sync.sync(hub_id)
        assert result.stored == 230 and len(alive) == 230
        assert most_alive <= 2          # the flow being stored (and the one being decoded)
        assert_consistent(demo, hub_id)
        hub.clients.close()


def test_batch_reads_return_every_flow_and_name_the_missing(ctx):
    with DemoPortal(DemoConfig(seed=32, workflows=120, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        requested = [str(i) for i in demo.flow_ids(hub_id)] + ["999999999"]
        flows, partial = [], False
        for start in range(0, len(requested), api.BATCH_SIZE):
            batch = api.read_flow_batch(hub.clients.client(hub_id),
                                        requested[start:start + api.BATCH_SIZE])
            flows += [item for item in batch if isinstance(item, api.Flow)]
            partial = partial or batch.partial
        got = {f.id for f in flows}
        assert sorted(got) == sorted(requested[:-1]) and len(flows) == len(got)
        assert [i for i in requested if i not in got] == ["999999999"]
        assert partial
        hub.clients.close()
