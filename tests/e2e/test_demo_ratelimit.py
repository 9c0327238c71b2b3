"""Rate limits of the demo portal under concurrent clients (small windows so
the tests stay fast): rolling burst window, per app per portal, daily limit,
headers, 429 bodies, Retry-After, violation count."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.support.demo import reference_examples
from wg_desktop.demo.server import DemoConfig, DemoPortal

EXAMPLES = reference_examples()
LIMIT = 20
WINDOW = 1.0


def _example(name: str) -> dict:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip("HubSpot reference examples not available")
    return json.loads(path.read_text())


def hammer(portal: DemoPortal, token: str, seconds: float, threads: int = 8,
           path: str = "/integrations/v1/me") -> list[httpx.Response]:
    responses: list[httpx.Response] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=portal.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
            while time.monotonic() < stop_at:
                answer = c.get(path)
                with lock:
                    responses.append(answer)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return responses


def max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_rolling_window_is_never_exceeded_under_concurrency():
    with DemoPortal(DemoConfig(workflows=1, burst_limit=LIMIT, burst_window_s=WINDOW)) as p:
        token = p.issue_tokens_for_tests(p.portal_ids[0])["access_token"]
        responses = hammer(p, token, seconds=2.6)
        admitted = [e.timestamp for e in p.request_log() if e.status == 200]
        refused = [r for r in responses if r.status_code == 429]
        assert {r.status_code for r in responses} == {200, 429}
        # Log times are taken on arrival, a little before the limiter decides;
        # a 0.1-s margin absorbs that skew (a fixed window would give 2x LIMIT).
        assert max_in_window(admitted, WINDOW - 0.1) <= LIMIT
        assert len(admitted) >= 2 * LIMIT          # it does admit at the configured pace
        assert len(admitted) <= LIMIT * 4 + 1      # 2.6 s can hold at most 3 full windows (+ margin)
        assert p.rate_limit_violations == len(refused)
        assert p.state()["rateLimit"]["violations"] == len(refused)


def test_429_body_headers_and_retry_after():
    example = _example("error-429-ten-secondly-rolling.github-issue.json")
    with DemoPortal(DemoConfig(workflows=1, burst_limit=3, burst_window_s=30)) as p, \
            httpx.Client(base_url=p.base_url) as c:
        headers = {"Authorization": f"Bearer {p.issue_tokens_for_tests(p.portal_ids[0])['access_token']}"}
        remaining = [int(c.get("/integrations/v1/me", headers=headers).headers["X-HubSpot-RateLimit-Remaining"])
                     for _ in range(3)]
        assert remaining == [2, 1, 0]
        refused = c.get("/integrations/v1/me", headers=headers)
        assert refused.status_code == 429
        body = refused.json()
        assert set(body) == set(example)
        for key in ("status", "message", "errorType", "policyName"):
            assert body[key] == example[key]
        assert body["correlationId"] != example["correlationId"]
        assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert refused.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert refused.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "30000"
        assert 1 <= int(refused.headers["Retry-After"]) <= 30
        assert p.rate_limit_violations == 1


def test_retry_after_can_be_switched_off():
    with DemoPortal(DemoConfig(workflows=1, burst_limit=1, burst_window_s=30, send_retry_after=False)) as p:
        headers = {"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"}
        assert httpx.get(p.base_url + "/integrations/v1/me", headers=headers).status_code == 200
        refused = httpx.get(p.base_url + "/integrations/v1/me", headers=headers)
        assert refused.status_code == 429 and "Retry-After" not in refused.headers


def test_window_rolls_rather_than_resetting():
    with DemoPortal(DemoConfig(workflows=1, burst_limit=2, burst_window_s=0.6)) as p, \
            httpx.Client(base_url=p.base_url) as c:
        headers = {"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"}
        assert c.get("/integrations/v1/me", headers=headers).status_code == 200
        time.sleep(0.35)
        assert c.get("/integrations/v1/me", headers=headers).status_code == 200
        assert c.get("/integrations/v1/me", headers=headers).status_code == 429
        time.sleep(0.35)   # the first request has left the window, the second has not
        assert c.get("/integrations/v1/me", headers=headers).status_code == 200
        assert c.get("/integrations/v1/me", headers=headers).status_code == 429


def test_limits_are_per_app_per_portal():
    with DemoPortal(DemoConfig(workflows=1, burst_limit=2, burst_window_s=30, extra_portals=1)) as p, \
            httpx.Client(base_url=p.base_url) as c:
        first, second, _ = p.portal_ids
        oauth_1 = {"Authorization": f"Bearer {p.issue_tokens_for_tests(first)['access_token']}"}
        oauth_1b = {"Authorization": f"Bearer {p.issue_tokens_for_tests(first)['access_token']}"}
        oauth_2 = {"Authorization": f"Bearer {p.issue_tokens_for_tests(second)['access_token']}"}
        private_1 = {"Authorization": f"Bearer {p.private_app_token(first)}"}
        assert [c.get("/integrations/v1/me", headers=oauth_1).status_code for _ in range(2)] == [200, 200]
        # another token of the same app in the same portal shares the bucket
        assert c.get("/integrations/v1/me", headers=oauth_1b).status_code == 429
        # another portal, or another app (the private app), has its own bucket
        assert c.get("/integrations/v1/me", headers=oauth_2).status_code == 200
        assert c.get("/integrations/v1/me", headers=private_1).status_code == 200


def test_unauthenticated_and_oauth_calls_do_not_count():
    with DemoPortal(DemoConfig(workflows=1, burst_limit=2, burst_window_s=30)) as p, \
            httpx.Client(base_url=p.base_url) as c:
        tokens = p.issue_tokens_for_tests(p.portal_ids[0])
        for _ in range(5):
            assert c.get("/integrations/v1/me").status_code == 401
            c.get(f"/oauth/v1/access-tokens/{tokens['access_token']}")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert c.get("/integrations/v1/me", headers=headers).headers["X-HubSpot-RateLimit-Remaining"] == "1"


def test_daily_limit_and_daily_headers():
    example = _example("error-429-daily.docs-quoted.json")
    with DemoPortal(DemoConfig(workflows=1, daily_limit=3, burst_limit=100)) as p, \
            httpx.Client(base_url=p.base_url) as c:
        private = {"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"}
        oauth = {"Authorization": f"Bearer {p.issue_tokens_for_tests(p.portal_ids[0])['access_token']}"}
        first = c.get("/integrations/v1/me", headers=private)
        assert first.headers["X-HubSpot-RateLimit-Daily"] == "3"
        assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"
        oauth_answer = c.get("/integrations/v1/me", headers=oauth)
        assert "X-HubSpot-RateLimit-Daily" not in oauth_answer.headers   # OAuth calls: no Daily headers
        assert "X-HubSpot-RateLimit-Max" in oauth_answer.headers
        c.get("/integrations/v1/me", headers=private)
        c.get("/integrations/v1/me", headers=private)
        refused = c.get("/integrations/v1/me", headers=private)
        assert refused.status_code == 429
        body = refused.json()
        assert set(body) == set(example)
        assert body["policyName"] == "DAILY" and body["message"] == example["message"]
        assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) <= 86_400 + 3_600


def test_private_app_daily_headers_without_configured_limit():
    with DemoPortal(DemoConfig(workflows=1)) as p:
        answer = httpx.get(p.base_url + "/integrations/v1/me",
                           headers={"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"})
        assert answer.headers["X-HubSpot-RateLimit-Daily"] == "625000"
        assert answer.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "624999"
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert answer.headers["X-HubSpot-RateLimit-Secondly"] == "10"
        assert answer.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "9"
