"""Unit tests of the demo portal's pieces, without HTTP: data generation,
the rolling-window limiter (fake clock), fault drawing, drift, config,
request framing and the JSON depth bound."""

from __future__ import annotations

import json
from email.message import Message
from io import BytesIO

import pytest

from wg_desktop.demo.config import DemoConfig, portal_profiles
from wg_desktop.demo.data import FlowStore, RevisionConflict, generate_records
from wg_desktop.demo.drift import Drifter
from wg_desktop.demo.faults import FaultInjector, FaultKind, Faults, cut_off, malformed, oversized
from wg_desktop.demo.flows import decode_cursor, encode_cursor, validate_actions
from wg_desktop.demo.framing import FramingError, read_body
from wg_desktop.demo.ratelimit import DAILY, TEN_SECONDLY_ROLLING, RateLimiter
from wg_desktop.demo.wire import MAX_JSON_DEPTH, json_depth_exceeds


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


# -- data -------------------------------------------------------------------------------------

def test_generation_is_deterministic_per_seed():
    a, b = FlowStore(1000001, 7, 40), FlowStore(1000001, 7, 40)
    assert a.page(None, 100) == b.page(None, 100)
    for flow_id in a.flow_ids()[:10]:
        assert json.dumps(a.get(flow_id)) == json.dumps(b.get(flow_id))
    other = FlowStore(1000001, 8, 40)
    assert other.page(None, 100)[0] != a.page(None, 100)[0]


def test_five_thousand_workflows_are_generated():
    # How fast is a benchmark's business (bench_demo_portal), not a unit test's.
    store = FlowStore(1000001, 99, 5000)
    items, last = store.page(None, 100)
    assert store.count() == 5000 and len(items) == 100 and last is not None
    records = generate_records(99, 1000001, 5000)
    assert {r.size for r in records} >= {2, 300}
    assert max(r.size for r in records) == 300 and min(r.size for r in records) == 2
    big = next(r for r in records if r.size == 300)
    assert len(store.get(big.flow_id)["actions"]) == 300


def test_generated_bodies_have_exactly_the_planned_number_of_actions():
    store = FlowStore(1000001, 3, 60)
    for flow_id in store.flow_ids():
        flow = store.get(flow_id)
        assert len(flow["actions"]) == store.record(flow_id).size
        assert validate_actions(flow) == []


def test_store_replace_checks_revision_and_archives_history():
    store = FlowStore(1000001, 4, 5)
    flow_id = store.flow_ids()[0]
    flow = store.get(flow_id)
    revision = int(flow["revisionId"])
    with pytest.raises(RevisionConflict) as err:
        store.replace(flow_id, revision - 1, {"actions": []}, name="x", is_enabled=False, uuid=None)
    assert err.value.current == revision
    updated = store.replace(flow_id, revision, {"actions": flow["actions"]}, name=None, is_enabled=False, uuid=None)
    assert updated["revisionId"] == str(revision + 1) and "name" not in updated
    assert updated["dataSources"] == flow["dataSources"]
    old, _ = store.revision(flow_id, revision)
    assert old == flow


def test_cursor_round_trip_and_rejection():
    assert decode_cursor(encode_cursor(1234567890123)) == 1234567890123
    for bad in ("", "!!!", "Zm9vOmJhcg", encode_cursor(5)[:-2] + "@@"):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_validate_actions_finds_broken_graphs():
    ok = {"actions": [{"type": "SINGLE_CONNECTION", "actionId": "1",
                       "connection": {"edgeType": "STANDARD", "nextActionId": "2"}},
                      {"type": "SINGLE_CONNECTION", "actionId": "2"}], "startActionId": "1"}
    assert validate_actions(ok) == []
    dup = {"actions": ok["actions"] + [{"type": "X", "actionId": "2"}]}
    assert validate_actions(dup)
    dangling = {"actions": [{"type": "LIST_BRANCH", "actionId": "1",
                             "listBranches": [{"connection": {"nextActionId": "9"}}]}]}
    assert validate_actions(dangling)
    assert validate_actions({"actions": ok["actions"], "startActionId": "7"})
    assert validate_actions({"actions": "nope"})


# -- rate limiter ---------------------------------------------------------------------------------

def test_rolling_window_with_fake_clock():
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, None, clock=clock)
    check = lambda: limiter.check("k", time_zone="UTC", daily_limit=None, daily_headers=False)  # noqa: E731
    assert [check().admitted for _ in range(3)] == [True, True, True]
    refused = check()
    assert not refused.admitted and refused.policy == TEN_SECONDLY_ROLLING
    assert refused.retry_after_s == pytest.approx(10.0)
    clock.now += 4
    assert not check().admitted
    clock.now += 6.0001          # the first three leave the window together
    assert [check().admitted for _ in range(3)] == [True, True, True]
    assert limiter.violations == 2
    clock.now += 5
    assert not check().admitted   # still three inside the last 10 s: a rolling, not a fixed, window


def test_limiter_keys_are_independent_and_refusals_do_not_count():
    clock = FakeClock()
    limiter = RateLimiter(1, 1.0, None, clock=clock)
    a = limiter.check("a", time_zone="UTC", daily_limit=None, daily_headers=False)
    for _ in range(5):
        assert not limiter.check("a", time_zone="UTC", daily_limit=None, daily_headers=False).admitted
    assert limiter.check("b", time_zone="UTC", daily_limit=None, daily_headers=False).admitted
    clock.now += 1.0
    assert limiter.check("a", time_zone="UTC", daily_limit=None, daily_headers=False).admitted
    assert dict(a.headers)["X-HubSpot-RateLimit-Remaining"] == "0"


def test_daily_limit_resets_at_portal_midnight():
    clock = FakeClock()
    # 2026-03-10 23:59:00 in New York = 03:59 UTC the next day
    wall = FakeClock(1_773_201_540.0)
    limiter = RateLimiter(100, 10.0, None, clock=clock, wall=wall)
    check = lambda: limiter.check("k", time_zone="America/New_York", daily_limit=2, daily_headers=True)  # noqa: E731
    assert check().admitted and check().admitted
    refused = check()
    assert refused.policy == DAILY and 1 <= refused.retry_after_s <= 61
    assert dict(refused.headers)["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    wall.now += 120
    clock.now += 120
    assert check().admitted


# -- faults ------------------------------------------------------------------------------------------

def test_fault_plans_are_seeded_and_ordered():
    a = FaultInjector(Faults(error_5xx_rate=0.3, drop_rate=0.1), seed=1)
    b = FaultInjector(Faults(error_5xx_rate=0.3, drop_rate=0.1), seed=1)
    plans_a = [a.plan(authenticated=True) for _ in range(200)]
    assert plans_a == [b.plan(authenticated=True) for _ in range(200)]
    kinds = [p.kind for p in plans_a]
    assert FaultKind.DROP in kinds and FaultKind.ERROR_5XX in kinds and None in kinds
    always = FaultInjector(Faults(drop_rate=1.0, error_5xx_rate=1.0, slow_rate=1.0), seed=1)
    assert always.plan(authenticated=True).kind is FaultKind.DROP
    unauthorized = FaultInjector(Faults(unauthorized_rate=1.0), seed=1)
    assert unauthorized.plan(authenticated=False).kind is None
    assert unauthorized.plan(authenticated=True).kind is FaultKind.UNAUTHORIZED


def test_fault_body_helpers():
    body = json.dumps({"results": [1, 2, 3]}).encode()
    with pytest.raises(ValueError):
        json.loads(malformed(body))
    big = oversized({"results": [1]}, b'{"results":[1]}', 100_000)
    assert len(big) >= 100_000 and json.loads(big)["results"] == [1]
    assert json.loads(oversized([1], b"[1]", 5_000))["value"] == [1]
    cut = cut_off(body)
    assert 0 < len(cut) < len(body) and body.startswith(cut)
    with pytest.raises(ValueError):
        json.loads(cut)
    assert cut_off(b"{}") == b"{"


def test_faults_from_mapping():
    base = Faults(slow_rate=0.2)
    changed = Faults.from_mapping({"drop_rate": 0.5, "oversized_bytes": 2048.0}, base)
    assert changed.slow_rate == 0.2 and changed.drop_rate == 0.5 and changed.oversized_bytes == 2048
    with pytest.raises(TypeError):
        Faults.from_mapping({"nope": 1})


# -- drift -------------------------------------------------------------------------------------------

def test_drift_changes_bump_revisions_deterministically():
    def run(seed: int):
        store = FlowStore(1000001, seed, 30)
        before = {i["id"]: i["revisionId"] for i in store.page(None, 100)[0]}
        changes = Drifter({1000001: store}, seed).step(10)
        return store, before, changes

    store, before, changes = run(5)
    _, _, again = run(5)
    assert [(c.kind, c.flow_id) for c in changes] == [(c.kind, c.flow_id) for c in again]
    assert len(changes) == 10
    for change in changes:
        if change.kind in ("changed", "disabled") and store.has(int(change.flow_id)):
            assert int(store.get(int(change.flow_id))["revisionId"]) > int(before[change.flow_id])
        if change.kind == "added":
            assert change.flow_id not in before


# -- config ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {"workflows": -1}, {"workflows": 20_001}, {"host": "0.0.0.0"}, {"burst_limit": 0},
    {"burst_window_s": 0}, {"daily_limit": 0}, {"drift_interval": 0}, {"redirect_uris": ()},
    {"redirect_uris": "http://localhost/cb"}, {"token_ttl": 0},
])
def test_config_rejects_bad_values(bad):
    with pytest.raises((ValueError, TypeError)):
        DemoConfig(**bad)


def test_portal_profiles():
    first, second, *extra = portal_profiles(2)
    assert first.has_workflows and not second.has_workflows
    assert len(extra) == 2 and all(p.has_workflows for p in extra)
    assert len({p.portal_id for p in (first, second, *extra)}) == 4


# -- request framing and JSON depth -------------------------------------------------------------

def _headers(*pairs):
    msg = Message()
    for name, value in pairs:
        msg[name] = value
    return msg


def test_json_depth_is_bounded_without_parsing():
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_JSON_DEPTH + 1))
    # brackets inside strings (escaped quotes included) do not nest
    assert not json_depth_exceeds(json.dumps({"a": "[{" * 1000 + '\\"' + "[" * 1000}).encode())
    # side by side is not nested
    assert not json_depth_exceeds(b"[" + b"[]," * 1000 + b"[]]")


def test_read_body_frames_by_length_or_chunks():
    assert read_body(_headers(("Content-Length", "5")), BytesIO(b"helloNEXT")) == b"hello"
    assert read_body(_headers(("Content-Length", "5, 5")), BytesIO(b"hello")) == b"hello"
    assert read_body(_headers(), BytesIO(b"NEXT")) == b""
    chunked = BytesIO(b"5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: y\r\n\r\nNEXT")
    assert read_body(_headers(("Transfer-Encoding", "Chunked")), chunked) == b"hello!"
    assert chunked.read() == b"NEXT"                  # the next request is left intact


@pytest.mark.parametrize("headers,data,status", [
    ((("Content-Length", "5"), ("Transfer-Encoding", "chunked")), b"0\r\n\r\n", 400),
    ((("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")), b"0\r\n\r\n", 501),
    ((("Transfer-Encoding", "chunked, identity"),), b"0\r\n\r\n", 400),
    ((("Transfer-Encoding", "chunked"),), b"5\r\nhel", 400),              # input ends early
    ((("Transfer-Encoding", "chunked"),), b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", 400),
    ((("Transfer-Encoding", "chunked"),), b"0\r\n" + b"T: 1\r\n" * 40 + b"\r\n", 400),
    ((("Transfer-Encoding", "chunked"),), b"%x\r\n" % (21 * 1024 * 1024), 413),
    ((("Content-Length", "5"), ("Content-Length", "6")), b"hello!", 400),
    ((("Content-Length", "-1"),), b"", 400),
    ((("Content-Length", "10"),), b"short", 400),
    ((("Content-Length", str(21 * 1024 * 1024)),), b"", 413),
])
def test_read_body_refuses_ambiguous_or_broken_framing(headers, data, status):
    with pytest.raises(FramingError) as info:
        read_body(_headers(*headers), BytesIO(data))
    assert info.value.status == status
