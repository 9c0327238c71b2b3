import pytest

from wg_desktop.hubspot.cache import CacheKind, ResponseCache
from wg_desktop.hubspot.client_config import ClientConfig

from .fakes import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


def test_default_ttls_are_5_min_1_h_10_min(clock):
    cache = ResponseCache(clock=clock)
    assert cache.ttl(CacheKind.API) == 300
    assert cache.ttl(CacheKind.PORTAL_INFO) == 3600
    assert cache.ttl(CacheKind.WORKFLOW_LIST) == 600
    cfg = ClientConfig(cache_api_ttl=1, cache_portal_info_ttl=2, cache_workflow_list_ttl=3)
    custom = ResponseCache.from_config(cfg, clock=clock)
    assert [custom.ttl(k) for k in CacheKind] == [1, 2, 3]


@pytest.mark.parametrize("kind, ttl", [(CacheKind.API, 300), (CacheKind.PORTAL_INFO, 3600),
                                       (CacheKind.WORKFLOW_LIST, 600)])
def test_entries_expire_after_their_kind_ttl(clock, kind, ttl):
    cache = ResponseCache(clock=clock)
    cache.put("k", {"a": 1}, kind)
    clock.advance(ttl - 1)
    assert cache.get("k").value == {"a": 1}
    clock.advance(1)
    assert cache.get("k") is None
    stale = cache.stale_get("k")
    assert stale.value == {"a": 1} and not stale.fresh and stale.age == pytest.approx(ttl)


def test_invalidate_by_prefix_drops_stale_copies_too(clock):
    cache = ResponseCache(clock=clock)
    cache.put("p1|flows|a", 1)
    cache.put("p1|flows|b", 2)
    cache.put("p1|account|x", 3)
    cache.put("p2|flows|a", 4)
    assert cache.invalidate("p1|flows|") == 2
    assert cache.get("p1|flows|a") is None and cache.stale_get("p1|flows|b") is None
    assert cache.get("p1|account|x").value == 3 and cache.get("p2|flows|a").value == 4
    assert cache.invalidate() == 2 and len(cache) == 0


def test_get_or_load_and_force_refresh(clock):
    cache = ResponseCache(clock=clock)
    calls = []

    def loader():
        calls.append(1)
        return len(calls)

    assert cache.get_or_load("k", loader) == 1
    assert cache.get_or_load("k", loader) == 1
    assert cache.get_or_load("k", loader, force_refresh=True) == 2
    assert cache.get_or_load("k", loader) == 2
    assert len(calls) == 2


def test_values_are_copied_in_and_out(clock):
    cache = ResponseCache(clock=clock)
    value = {"list": [1]}
    cache.put("k", value)
    value["list"].append(2)
    got = cache.get("k").value
    got["list"].append(3)
    assert cache.get("k").value == {"list": [1]}


def test_lru_bound(clock):
    cache = ResponseCache(clock=clock, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.stale_get("b") is None and cache.get("a").value == 1
