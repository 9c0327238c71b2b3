import random

import pytest
import respx

from wg_desktop.hubspot.auth import StaticTokenProvider
from wg_desktop.hubspot.observability import InMemoryCallRecorder
from wg_desktop.hubspot.retry import RetryPolicy
from wg_desktop.hubspot.transport.client import HubSpotClient

from .fakes import API, FakeClock, config


class Env:
    def __init__(self, router):
        self.router = router
        self.clock = FakeClock()
        self.recorder = InMemoryCallRecorder()
        self.clients = []

    def client(self, provider=None, portal_key="p1", **overrides):
        cfg = config(**overrides)
        client = HubSpotClient(
            portal_key, cfg, provider or StaticTokenProvider("pat-secret-1"), clock=self.clock,
            recorder=self.recorder,
            retry_policy=RetryPolicy.from_config(cfg, clock=self.clock, rng=random.Random(0)))
        self.clients.append(client)
        return client

    @property
    def records(self):
        return self.recorder.records()

    @property
    def last(self):
        return self.records[-1]


@pytest.fixture
def env():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        e = Env(router)
        yield e
        for c in e.clients:
            c.close()
