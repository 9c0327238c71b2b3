"""HubSpotClient against respx: every error category and every retry path."""

import json
import logging
import threading

import httpx
import pytest

from wg_desktop.hubspot.breaker import BreakerState
from wg_desktop.hubspot.errors import (
    AuthError,
    CircuitOpenError,
    ClientError,
    ConflictError,
    DailyLimitReached,
    ErrorCategory,
    MalformedResponse,
    NetworkError,
    NotFound,
    PermissionDenied,
    RateLimitedError,
    RateLimitWaitCancelled,
    ReauthenticationNeeded,
    RequestTimeout,
    ServerError,
)
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.ratelimit import Priority

from .fakes import CountingRefresher

FLOW = "/automation/v4/flows/42"
TEMPLATE = "/automation/v4/flows/{flowId}"
CID = "c93e06a4-7d61-4c3e-b63f-edf486fc6e90"


def ok(data=None, **kw):
    return httpx.Response(200, json={"id": "42"} if data is None else data, **kw)


def error(status, cid=CID, **body):
    return httpx.Response(status, json={"status": "error", "message": f"status {status}",
                                        "correlationId": cid, "category": "SOME_ERROR", **body})


def get(client, flow_id="42", **kw):
    return client.request(client.route("flows.get", flowId=flow_id), **kw)


# ------------------------------------------------------------------ success

def test_success_returns_data_and_records_the_call(env):
    env.router.get(FLOW).mock(return_value=ok({"id": "42", "correlationId": None}))
    client = env.client()
    response = get(client)
    assert response.status == 200 and response.data["id"] == "42"
    rec = env.last
    assert (rec.portal_key, rec.endpoint, rec.method, rec.status) == ("p1", TEMPLATE, "GET", 200)
    assert rec.error is None and rec.retries == 0 and rec.bytes > 0
    assert rec.timestamp == pytest.approx(env.clock.time()) and rec.waited_for_limit_ms == 0
    request = env.router.calls.last.request
    assert request.headers["Authorization"] == "Bearer pat-secret-1"
    assert request.url.host == "api.test"


def test_empty_204_body(env):
    env.router.delete(FLOW).mock(return_value=httpx.Response(204))
    client = env.client()
    response = client.request(client.route("flows.delete", flowId="42"))
    assert response.status == 204 and response.data is None


# --------------------------------------------------------- error categories

@pytest.mark.parametrize("status, cls, category", [
    (403, PermissionDenied, ErrorCategory.PERMISSION),
    (404, NotFound, ErrorCategory.NOT_FOUND),
    (409, ConflictError, ErrorCategory.CLIENT),
    (400, ClientError, ErrorCategory.CLIENT),
    (414, ClientError, ErrorCategory.CLIENT),
])
def test_client_error_statuses_are_not_retried(env, status, cls, category):
    route = env.router.get(FLOW).mock(return_value=error(status))
    with pytest.raises(cls) as info:
        get(env.client())
    err = info.value
    assert err.category is category and err.status == status
    assert err.correlation_id == CID and f"(correlation id {CID})" in str(err)
    assert err.error_code == "SOME_ERROR" and err.endpoint == TEMPLATE
    assert route.call_count == 1
    assert env.last.error is category and env.last.correlation_id == CID


def test_server_error_after_retries_keeps_correlation_id(env):
    route = env.router.get(FLOW).mock(return_value=error(500))
    with pytest.raises(ServerError) as info:
        get(env.client(max_attempts=3))
    assert info.value.category is ErrorCategory.SERVER
    assert CID in str(info.value)
    assert route.call_count == 3
    assert env.last.error is ErrorCategory.SERVER and env.last.retries == 2


def test_timeout_category(env):
    env.router.get(FLOW).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeout) as info:
        get(env.client(max_attempts=1))
    assert info.value.category is ErrorCategory.TIMEOUT
    assert env.last.status is None and env.last.error is ErrorCategory.TIMEOUT


def test_network_category(env):
    env.router.get(FLOW).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(NetworkError) as info:
        get(env.client(max_attempts=1))
    assert info.value.category is ErrorCategory.NETWORK and info.value.sent is False
    assert env.last.error is ErrorCategory.NETWORK


def test_malformed_json_through_the_whole_retry_budget_is_reported(env):
    route = env.router.get(FLOW).mock(return_value=httpx.Response(
        200, content=b"<html>captive portal</html>", headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponse) as info:
        get(env.client(max_attempts=4))
    assert info.value.category is ErrorCategory.MALFORMED and "not valid JSON" in str(info.value)
    assert route.call_count == 4
    assert env.last.error is ErrorCategory.MALFORMED and env.last.retries == 3
    assert env.last.status == 200


def test_cut_off_2xx_body_of_a_read_is_retried_and_recorded_as_a_failed_attempt(env):
    cut = httpx.Response(200, content=b'{"id": "42", "actions": [{"actionId": "1"')
    route = env.router.get(FLOW).mock(side_effect=[cut, ok()])
    assert get(env.client()).data == {"id": "42"}
    assert route.call_count == 2
    assert env.clock.sleeps == []                      # at once, like a dropped connection
    assert len(env.records) == 1
    assert env.last.error is None and env.last.retries == 1


def test_cut_off_body_of_a_reading_post_is_retried(env):
    route = env.router.post("/automation/v4/flows/batch/read").mock(side_effect=[
        httpx.Response(200, content=b'{"results": [{"id"'), ok({"results": []})])
    client = env.client()
    answer = client.request(client.route("flows.batch_read"), json_body={"inputs": []})
    assert answer.data == {"results": []} and route.call_count == 2


def test_cut_off_body_shares_the_budget_with_drops_and_5xx(env):
    cut = httpx.Response(200, content=b'{"id": "4')
    route = env.router.get(FLOW).mock(side_effect=[
        httpx.RemoteProtocolError("dropped"), cut, error(503), cut, ok()])
    with pytest.raises(MalformedResponse):
        get(env.client(max_attempts=4))
    assert route.call_count == 4
    assert len(env.clock.sleeps) == 2                   # only the drop got the at-once retry


@pytest.mark.parametrize("method,path,name,params,kw", [
    ("put", FLOW, "flows.update", {"flowId": "42"}, {"json_body": {"revisionId": "3"}}),
    ("post", "/automation/v4/flows", "flows.create", {}, {"json_body": {"name": "x"}}),
    ("post", "/automation/v4/flows/batch/read", "flows.batch_read", {},
     {"json_body": {"inputs": []}, "idempotent": False}),
    ("post", "/oauth/v1/token", "oauth.token", {},
     {"form": {"grant_type": "refresh_token"}, "idempotent": True}),
])
def test_cut_off_body_of_a_write_is_not_retried(env, method, path, name, params, kw):
    route = getattr(env.router, method)(path).mock(
        return_value=httpx.Response(200, content=b'{"id": "42", "revisionId'))
    client = env.client()
    with pytest.raises(MalformedResponse):
        client.request(client.route(name, **params), **kw)
    assert route.call_count == 1
    assert env.last.error is ErrorCategory.MALFORMED and env.last.retries == 0


def test_error_body_that_is_not_json_still_maps_by_status(env):
    env.router.get(FLOW).mock(return_value=httpx.Response(404, content=b"Not Found"))
    with pytest.raises(NotFound) as info:
        get(env.client())
    assert info.value.correlation_id is None


def test_oversized_body_with_content_length(env):
    env.router.get(FLOW).mock(return_value=httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(MalformedResponse, match="too large"):
        get(env.client(max_response_bytes=1000))
    assert env.last.error is ErrorCategory.MALFORMED


def test_oversized_streamed_body_stops_reading_past_the_cap(env):
    produced = []

    def chunks():
        for i in range(1000):
            produced.append(i)
            yield b"y" * 100

    env.router.get(FLOW).mock(return_value=httpx.Response(200, content=chunks()))
    with pytest.raises(MalformedResponse, match="too large"):
        get(env.client(max_response_bytes=1000))
    assert len(produced) < 20          # stopped right after the cap, not at the end


def test_body_at_the_cap_is_fine(env):
    body = json.dumps({"k": "v" * 100}).encode()
    env.router.get(FLOW).mock(return_value=httpx.Response(200, content=body))
    assert get(env.client(max_response_bytes=len(body))).data["k"] == "v" * 100


# ----------------------------------------------------------------- 429 paths

def test_429_waits_retry_after_when_sent(env):
    route = env.router.get(FLOW).mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "3",
                                     "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
                       json={"status": "error", "policyName": "TEN_SECONDLY_ROLLING",
                             "correlationId": CID}),
        ok()])
    waits = []
    client = env.client()
    assert get(client, on_wait=lambda s, r: waits.append((s, r))).status == 200
    assert route.call_count == 2
    assert env.clock.sleeps == [3.0]
    assert waits and waits[0][0] == 3.0
    assert env.last.retries == 1 and env.last.waited_for_limit_ms == pytest.approx(3000)


def test_429_without_retry_after_waits_the_interval_header(env):
    env.router.get(FLOW).mock(side_effect=[
        httpx.Response(429, headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "4000",
                                     "X-HubSpot-RateLimit-Remaining": "0",
                                     "X-HubSpot-RateLimit-Max": "100"},
                       json={"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}),
        ok()])
    assert get(env.client()).status == 200
    assert sum(env.clock.sleeps) == pytest.approx(4.0)


@pytest.mark.parametrize("policy, wait", [("TEN_SECONDLY_ROLLING", 10.0), ("SECONDLY", 1.0)])
def test_429_with_only_a_policy_name(env, policy, wait):
    env.router.get(FLOW).mock(side_effect=[
        httpx.Response(429, json={"status": "error", "errorType": "RATE_LIMIT",
                                  "policyName": policy}), ok()])
    assert get(env.client()).status == 200
    assert env.clock.sleeps == [wait]


def test_429_pauses_the_other_requests_of_the_portal(env):
    env.router.get(FLOW).mock(side_effect=[
        httpx.Response(429, json={"policyName": "TEN_SECONDLY_ROLLING"}), ok()])
    client = env.client()
    paused = []
    get(client, on_wait=lambda s, r: paused.append(client.limiter.snapshot().paused_for))
    assert paused == [pytest.approx(10.0)]     # everyone is held while this one waits
    assert client.limiter.snapshot().paused_for == 0.0


def test_daily_429_stops_and_says_until_portal_midnight(env):
    route = env.router.get(FLOW).mock(return_value=httpx.Response(429, json={
        "status": "error", "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT", "correlationId": CID, "policyName": "DAILY"}))
    client = env.client()
    client.portal_timezone = PortalTimezone.from_offset_text("America/New_York", "-05:00")
    with pytest.raises(DailyLimitReached) as info:
        get(client)
    assert route.call_count == 1 and env.clock.sleeps == []
    assert info.value.until.isoformat() == "2023-11-15T00:00:00-05:00"
    assert info.value.correlation_id == CID
    assert env.last.error is ErrorCategory.RATE_LIMITED
    # the rest of the day fails fast, without asking HubSpot
    with pytest.raises(DailyLimitReached):
        get(client)
    assert route.call_count == 1


def test_rate_limit_wait_can_be_cancelled(env):
    env.router.get(FLOW).mock(return_value=httpx.Response(429, json={"policyName": "SECONDLY"}))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RateLimitWaitCancelled):
        get(env.client(), cancel_event=cancel)


# ----------------------------------------------------------------- 5xx & co

def test_5xx_exponential_backoff_then_success(env):
    route = env.router.get(FLOW).mock(side_effect=[error(503), error(502), error(500), ok()])
    assert get(env.client(backoff_base=1.0, backoff_max=30.0)).status == 200
    assert route.call_count == 4
    s = env.clock.sleeps
    assert len(s) == 3
    assert 0.5 <= s[0] <= 1.0 and 1.0 <= s[1] <= 2.0 and 2.0 <= s[2] <= 4.0
    assert env.last.retries == 3 and env.last.error is None


def test_503_retry_after_is_honoured(env):
    env.router.get(FLOW).mock(side_effect=[
        httpx.Response(503, headers={"Retry-After": "7"}, json={}), ok()])
    get(env.client())
    assert env.clock.sleeps == [7.0]


def test_timeout_is_retried_with_the_longer_timeout(env):
    route = env.router.get(FLOW).mock(side_effect=[httpx.ReadTimeout("slow"), ok()])
    assert get(env.client(timeout=30.0, retry_timeout=60.0, connect_timeout=10.0)).status == 200
    first, second = (c.request.extensions["timeout"] for c in route.calls)
    assert first["read"] == 30.0 and first["connect"] == 10.0
    assert second["read"] == 60.0 and second["connect"] == 10.0
    assert len(env.clock.sleeps) == 1 and env.clock.sleeps[0] > 0


def test_dropped_connection_is_retried_immediately_once(env):
    route = env.router.get(FLOW).mock(side_effect=[
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"), ok()])
    assert get(env.client()).status == 200
    assert route.call_count == 3
    assert env.clock.sleeps[0] > 0 and len(env.clock.sleeps) == 1   # 1st retry had no wait


def test_non_idempotent_post_is_not_retried(env):
    route = env.router.post("/automation/v4/flows").mock(return_value=error(503))
    client = env.client()
    with pytest.raises(ServerError):
        client.request(client.route("flows.create"), json_body={"name": "x"})
    assert route.call_count == 1
    route.mock(side_effect=httpx.RemoteProtocolError("dropped"))
    with pytest.raises(NetworkError):
        client.request(client.route("flows.create"), json_body={"name": "x"})
    assert route.call_count == 2
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeout):
        client.request(client.route("flows.create"), json_body={"name": "x"})
    assert route.call_count == 3


def test_non_idempotent_post_is_retried_when_nothing_was_processed(env):
    route = env.router.post("/automation/v4/flows").mock(side_effect=[
        httpx.ConnectError("refused"), httpx.Response(429, json={"policyName": "SECONDLY"}),
        httpx.Response(201, json={"id": "9"})])
    client = env.client()
    assert client.request(client.route("flows.create"), json_body={}).status == 201
    assert route.call_count == 3


def test_post_marked_idempotent_is_retried(env):
    route = env.router.post("/automation/v4/flows/batch/read").mock(
        side_effect=[error(502), ok({"results": []})])
    client = env.client()
    client.request(client.route("flows.batch_read"), json_body={"inputs": []})
    assert route.call_count == 2
    route.mock(side_effect=[error(502), ok()])
    with pytest.raises(ServerError):
        client.request(client.route("flows.batch_read"), json_body={}, idempotent=False)


def test_total_deadline_bounds_the_retries(env):
    route = env.router.get(FLOW).mock(return_value=httpx.Response(
        429, json={"policyName": "TEN_SECONDLY_ROLLING"}))
    with pytest.raises(RateLimitedError):
        get(env.client(retry_deadline=25.0, max_attempts=10))
    assert route.call_count == 3 and env.clock.sleeps == [10.0, 10.0]


# ----------------------------------------------------------------------- 401

def test_401_refreshes_once_then_retries(env):
    provider = CountingRefresher()
    route = env.router.get(FLOW).mock(side_effect=lambda request: (
        ok() if request.headers["Authorization"] == "Bearer token-2" else error(401)))
    client = env.client(provider)
    assert get(client).status == 200
    assert provider.refreshes == ["token-1"]
    assert route.call_count == 2 and not client.needs_reauth
    assert env.last.retries == 1 and env.last.error is None


def test_second_401_asks_for_reauthentication(env):
    provider = CountingRefresher()
    route = env.router.get(FLOW).mock(return_value=error(401, category="INVALID_AUTHENTICATION"))
    client = env.client(provider)
    notified = []
    client.add_reauth_listener(notified.append)
    with pytest.raises(ReauthenticationNeeded) as info:
        get(client)
    assert info.value.category is ErrorCategory.AUTH and info.value.correlation_id == CID
    assert provider.refreshes == ["token-1"] and route.call_count == 2
    assert client.needs_reauth and notified == ["p1"]
    assert env.last.error is ErrorCategory.AUTH


def test_static_token_cannot_refresh(env):
    route = env.router.get(FLOW).mock(return_value=error(401))
    client = env.client()
    with pytest.raises(ReauthenticationNeeded):
        get(client)
    assert route.call_count == 1 and client.needs_reauth
    route.mock(return_value=ok())
    get(client)
    assert not client.needs_reauth          # cleared by the next good answer


def test_concurrent_401s_cause_a_single_refresh(env):
    provider = CountingRefresher(delay=0.05)
    env.router.get(url__regex=r"/automation/v4/flows/\d+").mock(side_effect=lambda request: (
        ok() if request.headers["Authorization"] == "Bearer token-2" else error(401)))
    client = env.client(provider)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker(i):
        barrier.wait()
        try:
            results.append(get(client, flow_id=str(i)).status)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and results == [200] * 8
    assert provider.refreshes == ["token-1"]


def test_403_is_not_treated_as_auth(env):
    provider = CountingRefresher()
    env.router.get(FLOW).mock(return_value=error(403))
    with pytest.raises(PermissionDenied):
        get(env.client(provider))
    assert provider.refreshes == []


def test_oauth_endpoints_get_no_authorization_header_and_no_refresh(env):
    provider = CountingRefresher()
    route = env.router.post("/oauth/v1/token").mock(return_value=error(401))
    client = env.client(provider)
    with pytest.raises(AuthError):
        client.request(client.route("oauth.token"), form={"grant_type": "refresh_token"})
    assert "Authorization" not in route.calls.last.request.headers
    assert provider.refreshes == []


# ------------------------------------------------------------------ breaker

def test_breaker_opens_fails_fast_half_opens_and_closes(env):
    route = env.router.get(FLOW).mock(return_value=error(500))
    client = env.client(max_attempts=1, breaker_failure_threshold=3, breaker_cooldown=30.0)
    changes = []
    client.breaker.add_listener(lambda key, old, new: changes.append((old, new)))
    for _ in range(3):
        with pytest.raises(ServerError):
            get(client)
    assert client.breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as info:
        get(client)
    assert info.value.user_message == "HubSpot is unavailable — showing stored data"
    assert route.call_count == 3                      # failed fast, nothing sent
    env.clock.advance(30)
    route.mock(return_value=error(500))
    with pytest.raises(ServerError):                  # the probe fails: open again
        get(client)
    assert client.breaker.state is BreakerState.OPEN
    env.clock.advance(30)
    route.mock(return_value=ok())
    assert get(client).status == 200                  # the probe succeeds: closed
    assert client.breaker.state is BreakerState.CLOSED
    assert changes == [
        (BreakerState.CLOSED, BreakerState.OPEN), (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN), (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED)]


def test_breaker_ignores_client_errors(env):
    env.router.get(FLOW).mock(return_value=error(404))
    client = env.client(breaker_failure_threshold=2)
    for _ in range(5):
        with pytest.raises(NotFound):
            get(client)
    assert client.breaker.state is BreakerState.CLOSED


def test_breaker_opening_mid_retries_stops_them(env):
    route = env.router.get(FLOW).mock(return_value=error(503))
    client = env.client(max_attempts=5, breaker_failure_threshold=2)
    with pytest.raises(CircuitOpenError):
        get(client)
    assert route.call_count == 2
    assert env.last.retries == 1 and env.last.error is ErrorCategory.NETWORK


# -------------------------------------------------------------------- cache

def test_cached_reads_ttl_force_refresh_and_write_invalidation(env):
    from wg_desktop.hubspot.cache import CacheKind
    route = env.router.get(FLOW).mock(side_effect=lambda r: ok({"id": "42",
                                                              "n": route.call_count}))
    client = env.client(cache_api_ttl=300)
    first = get(client, cache=CacheKind.API)
    again = get(client, cache=CacheKind.API)
    assert route.call_count == 1 and again.from_cache and again.data == first.data
    env.clock.advance(299)
    assert get(client, cache=CacheKind.API).from_cache
    env.clock.advance(1)
    assert not get(client, cache=CacheKind.API).from_cache and route.call_count == 2
    forced = get(client, cache=CacheKind.API, force_refresh=True)
    assert not forced.from_cache and route.call_count == 3
    env.router.put(FLOW).mock(return_value=ok())
    client.request(client.route("flows.update", flowId="42"), json_body={"revisionId": "1"})
    assert not get(client, cache=CacheKind.API).from_cache and route.call_count == 4


def test_stale_answer_served_while_the_breaker_is_open(env):
    from wg_desktop.hubspot.cache import CacheKind
    route = env.router.get(FLOW).mock(return_value=ok({"id": "42", "name": "kept"}))
    client = env.client(max_attempts=1, breaker_failure_threshold=1, cache_api_ttl=10)
    get(client, cache=CacheKind.API)
    env.clock.advance(60)
    route.mock(return_value=error(500))
    with pytest.raises(ServerError):
        get(client, cache=CacheKind.API)             # opens the breaker
    with pytest.raises(CircuitOpenError):
        get(client, cache=CacheKind.API)
    stale = get(client, cache=CacheKind.API, allow_stale=True)
    assert stale.stale and stale.from_cache and stale.data["name"] == "kept"
    assert stale.age == pytest.approx(60)


def test_stale_is_not_served_for_client_errors(env):
    from wg_desktop.hubspot.cache import CacheKind
    route = env.router.get(FLOW).mock(return_value=ok())
    client = env.client(cache_api_ttl=1)
    get(client, cache=CacheKind.API)
    env.clock.advance(5)
    route.mock(return_value=error(404))
    with pytest.raises(NotFound):
        get(client, cache=CacheKind.API, allow_stale=True)


# ---------------------------------------------------- limiter & observability

def test_every_send_counts_against_the_client_budget(env):
    env.router.get(FLOW).mock(side_effect=[error(502), ok()])
    client = env.client()
    get(client)
    assert client.limiter.snapshot().window("client", "minute").used == 2


def test_budget_wait_is_reported_and_recorded(env):
    env.router.get(FLOW).mock(return_value=ok())
    client = env.client(per_minute=2)
    seen, listened = [], []
    client.add_wait_listener(lambda key, s, r: listened.append((key, s)))
    get(client)
    get(client)
    get(client, on_wait=lambda s, r: seen.append((s, r)), priority=Priority.BACKGROUND)
    assert seen and seen[0][0] == pytest.approx(60.0) and "2 requests per minute" in seen[0][1]
    assert listened == [("p1", pytest.approx(60.0))]
    assert env.last.waited_for_limit_ms == pytest.approx(60_000)


def test_server_headers_lower_the_budget(env):
    env.router.get(FLOW).mock(return_value=ok(headers={
        "X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}))
    client = env.client()
    get(client)
    snap = client.limiter.snapshot()
    assert snap.window("hubspot", "burst").remaining == 0
    t0 = env.clock.time()
    get(client)
    assert env.clock.time() - t0 == pytest.approx(10.0)


def test_recorder_failure_never_breaks_a_request(env):
    env.router.get(FLOW).mock(return_value=ok())
    client = env.client()

    class Broken:
        def record(self, rec):
            raise RuntimeError("db down")

    client.recorder = Broken()
    assert get(client).status == 200


def test_secrets_never_reach_the_log(env, caplog):
    caplog.set_level(logging.DEBUG, logger="wg_desktop")
    env.router.post("/oauth/v1/token").mock(return_value=ok({"access_token": "AT-SECRET-9",
                                                             "expires_in": 1800}))
    env.router.get(url__regex=r"/oauth/v1/access-tokens/.*").mock(return_value=error(500))
    env.router.get("/automation/v4/flows").mock(return_value=ok({"results": []}))
    client = env.client(max_attempts=2)
    client.request(client.route("oauth.token"), form={
        "grant_type": "authorization_code", "code": "CODE-SECRET-1",
        "client_secret": "CLIENT-SECRET-1"})
    with pytest.raises(ServerError):
        client.request(client.route("oauth.access_token_info", token="AT-SECRET-9"))
    client.request(client.route("flows.list"), params={"code": "CODE-SECRET-2",
                                                       "token": "T-SECRET-3", "limit": 5})
    text = caplog.text
    assert "/automation/v4/flows?code=[REDACTED]&token=[REDACTED]&limit=5" in text
    for secret in ("pat-secret-1", "AT-SECRET-9", "CODE-SECRET-1", "CODE-SECRET-2",
                   "CLIENT-SECRET-1", "T-SECRET-3", "Authorization", "Bearer"):
        assert secret not in text
    assert "/oauth/v1/access-tokens/{token}" in text
    assert all("AT-SECRET" not in r.endpoint for r in env.records)


def test_from_settings_builds_a_working_client(env):
    from wg_desktop.config import Settings
    from wg_desktop.hubspot.auth import StaticTokenProvider
    from wg_desktop.hubspot.transport.client import HubSpotClient
    env.router.get(FLOW).mock(return_value=ok())
    settings = Settings(environ={"HUBSPOT_API_BASE": "https://api.test"},
                        file_values={"ratelimit.per_minute": 42})
    client = HubSpotClient.from_settings(settings, "p9", StaticTokenProvider("t"))
    try:
        assert get(client).status == 200
        assert client.limiter.snapshot().window("client", "minute").limit == 42
    finally:
        client.close()


def test_clear_reauth_after_reconnecting(env):
    provider = CountingRefresher(fail_with_reauth=True)
    route = env.router.get(FLOW).mock(return_value=error(401))
    client = env.client(provider)
    for _ in range(2):
        with pytest.raises(ReauthenticationNeeded):
            get(client)
    assert provider.refreshes == ["token-1"]      # a token known to be dead is not retried
    client.clear_reauth()
    assert not client.needs_reauth
    with pytest.raises(ReauthenticationNeeded):
        get(client)
    assert provider.refreshes == ["token-1", "token-1"] and route.call_count == 3


@pytest.mark.parametrize("raw, expected", [
    ("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), ("999999", 86400.0),
    ("Wed, 15 Nov 2023 00:00:00 GMT", 6400.0),     # the fake clock is 2023-11-14 22:13:20Z
])
def test_retry_after_header_forms(raw, expected):
    from wg_desktop.hubspot.transport.client import _retry_after
    from .fakes import START
    assert _retry_after(httpx.Headers({"Retry-After": raw}), START) == expected
