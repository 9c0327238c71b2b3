import threading
from datetime import datetime, timedelta, timezone

import pytest

from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.clock import SystemClock
from wg_desktop.hubspot.errors import DailyLimitReached, RateLimitWaitCancelled
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.ratelimit import (
    InMemoryUsageStore,
    Priority,
    RateLimiter,
    Window,
    parse_rate_limit_headers,
    windows_from_config,
)

from .fakes import START, FakeClock, wait_until


def limiter(*windows, clock=None, store=None, **kw):
    return RateLimiter("p1", windows or (Window("w", 3, 10.0),), clock=clock or FakeClock(),
                       store=store, **kw)


def max_in_any_window(stamps, seconds):
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_windows_come_from_config():
    assert windows_from_config(ClientConfig()) == (Window("minute", 100, 60.0),
                                                   Window("hour", 1000, 3600.0),
                                                   Window("day", 10_000, 86400.0))


def test_waits_instead_of_failing_when_a_window_is_full():
    clock = FakeClock()
    lim = limiter(Window("w", 3, 10.0), clock=clock)
    waits = []
    permits = [lim.acquire(on_wait=lambda s, r: waits.append((s, r))) for _ in range(3)]
    assert all(p.waited == 0 for p in permits) and waits == []
    fourth = lim.acquire(on_wait=lambda s, r: waits.append((s, r)))
    assert fourth.ts == pytest.approx(START + 10.0)   # when the first stamp left the window
    assert lim.snapshot().window("client", "w").used == 1   # the first three left together
    assert fourth.waited == pytest.approx(10.0)
    assert waits and waits[0][0] == pytest.approx(10.0) and "3 requests per w" in waits[0][1]


def test_sliding_window_counts_per_window_of_time():
    clock = FakeClock()
    lim = limiter(Window("short", 2, 1.0), Window("long", 5, 100.0), clock=clock)
    stamps = [lim.acquire().ts for _ in range(5)]
    assert max_in_any_window(stamps, 1.0) <= 2
    # the long window is full now: the sixth waits until the first stamp is 100 s old
    sixth = lim.acquire()
    assert sixth.ts - stamps[0] == pytest.approx(100.0)


def test_snapshot_always_knows_the_client_budget():
    clock = FakeClock()
    lim = RateLimiter.from_config("p1", ClientConfig(), clock=clock)
    snap = lim.snapshot()
    assert [(w.name, w.remaining) for w in snap.client] == [("minute", 100), ("hour", 1000),
                                                             ("day", 10_000)]
    assert snap.server == () and snap.remaining == 100
    for _ in range(4):
        lim.acquire()
    snap = lim.snapshot()
    assert snap.window("client", "minute").used == 4
    assert snap.window("client", "day").remaining == 9_996


def test_cancel_event_stops_a_wait():
    clock = FakeClock(auto_advance=False)
    lim = limiter(Window("w", 1, 10.0), clock=clock)
    lim.acquire()
    cancel = threading.Event()
    errors = []

    def blocked():
        try:
            lim.acquire(cancel_event=cancel)
        except RateLimitWaitCancelled as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    wait_until(lambda: lim.waiting == 1)
    cancel.set()
    t.join(2)
    assert not t.is_alive() and len(errors) == 1
    assert lim.waiting == 0
    assert lim.snapshot().window("client", "w").used == 1   # the cancelled one took nothing


def test_cancel_with_the_real_clock_is_prompt():
    lim = RateLimiter("p1", (Window("w", 1, 60.0),), clock=SystemClock())
    lim.acquire()
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(RateLimitWaitCancelled):
        lim.acquire(cancel_event=cancel)


def test_counts_survive_a_restart_through_the_usage_store():
    clock = FakeClock()
    store = InMemoryUsageStore()
    windows = (Window("minute", 5, 60.0), Window("day", 8, 86400.0))
    first = RateLimiter("p1", windows, clock=clock, store=store)
    for _ in range(5):
        first.acquire()
    clock.advance(120)       # the minute window is clear, the day window is not
    second = RateLimiter("p1", windows, clock=clock, store=store)   # "restart"
    snap = second.snapshot()
    assert snap.window("client", "minute").used == 0
    assert snap.window("client", "day").used == 5
    for _ in range(3):
        second.acquire()
    # the ninth request today would exceed 8/day: a wait of ~a day fails instead
    with pytest.raises(DailyLimitReached) as info:
        second.acquire()
    assert info.value.source == "app"
    assert info.value.until.timestamp() == pytest.approx(START + 86400.0)
    # other portals are counted apart
    assert RateLimiter("p2", windows, clock=clock, store=store).snapshot().remaining == 5


def test_usage_store_loads_since():
    store = InMemoryUsageStore()
    for ts in (3.0, 1.0, 2.0):
        store.append("p", ts)
    assert store.load("p", 2.0) == [2.0, 3.0]
    assert store.load("other", 0) == []


def test_interactive_requests_go_before_background_ones():
    clock = FakeClock(auto_advance=False)
    lim = limiter(Window("w", 1, 1.0), clock=clock)
    lim.acquire()
    order = []

    def take(name, priority):
        lim.acquire(priority=priority)
        order.append(name)

    threads = [threading.Thread(target=take, args=(f"bg{i}", Priority.BACKGROUND))
               for i in range(2)]
    for t in threads:
        t.start()
    wait_until(lambda: lim.waiting == 2)
    fg = threading.Thread(target=take, args=("fg", Priority.INTERACTIVE))
    fg.start()
    wait_until(lambda: lim.waiting == 3)
    snap = lim.snapshot()
    assert (snap.waiting_interactive, snap.waiting_background) == (1, 2)
    for expected in (1, 2, 3):
        clock.advance(1.0)
        wait_until(lambda: len(order) == expected)
    for t in threads + [fg]:
        t.join(2)
    assert order == ["fg", "bg0", "bg1"]


def test_ten_threads_never_exceed_the_limit_in_any_window():
    lim = RateLimiter("p1", (Window("tiny", 20, 0.25),), clock=SystemClock())
    stamps, lock = [], threading.Lock()

    def hammer():
        for _ in range(6):
            permit = lim.acquire(priority=Priority.BACKGROUND)
            with lock:
                stamps.append(permit.ts)

    threads = [threading.Thread(target=hammer) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(stamps) == 60
    assert max_in_any_window(stamps, 0.25) <= 20
    assert max_in_any_window(stamps, 0.25) == 20    # and the budget was actually used


def test_ten_threads_in_virtual_time_respect_every_window():
    clock = FakeClock()
    windows = (Window("a", 20, 10.0), Window("b", 50, 100.0))
    lim = RateLimiter("p1", windows, clock=clock)
    stamps, lock = [], threading.Lock()

    def hammer(i):
        for _ in range(15):
            permit = lim.acquire(priority=Priority(i % 2))
            with lock:
                stamps.append(permit.ts)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(stamps) == 150
    assert max_in_any_window(stamps, 10.0) <= 20
    assert max_in_any_window(stamps, 100.0) <= 50


# ----------------------------------------------------------- server headers

def test_headers_are_parsed_defensively():
    parsed = parse_rate_limit_headers({
        "X-HubSpot-RateLimit-Max": "100", "x-hubspot-ratelimit-remaining": " 7 ",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Secondly": "garbage", "X-HubSpot-RateLimit-Daily-Remaining": "-3",
        "Content-Type": "application/json"})
    assert (parsed.max, parsed.remaining, parsed.interval_ms) == (100, 7, 10_000)
    assert parsed.secondly is None and parsed.daily_remaining is None
    assert parse_rate_limit_headers({}).empty and parse_rate_limit_headers(None).empty


def test_server_remaining_zero_waits_for_the_rest_of_the_interval():
    clock = FakeClock()
    lim = limiter(Window("w", 1000, 60.0), clock=clock)
    permit = lim.acquire()
    lim.observe({"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "0",
                 "X-HubSpot-RateLimit-Interval-Milliseconds": "2000"}, permit)
    burst = lim.snapshot().window("hubspot", "burst")
    assert burst.remaining == 0 and burst.resets_in == pytest.approx(2.0)
    waits = []
    nxt = lim.acquire(on_wait=lambda s, r: waits.append(r))
    assert nxt.ts - permit.ts == pytest.approx(2.0)
    assert "HubSpot burst limit" in waits[0]
    assert lim.snapshot().window("hubspot", "burst") is None   # forgotten after the window


def test_server_remaining_counts_requests_sent_since():
    clock = FakeClock()
    lim = limiter(Window("w", 1000, 60.0), clock=clock)
    first = lim.acquire()
    lim.acquire()                       # sent after `first`, HubSpot may not have counted it
    lim.observe({"X-HubSpot-RateLimit-Remaining": "2",
                 "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, first)
    assert lim.snapshot().window("hubspot", "burst").remaining == 1
    lim.acquire()
    t0 = clock.time()
    assert lim.acquire().ts - t0 == pytest.approx(10.0)


def test_secondly_header_lowers_the_budget():
    clock = FakeClock()
    lim = limiter(Window("w", 1000, 60.0), clock=clock)
    permit = lim.acquire()
    lim.observe({"X-HubSpot-RateLimit-Secondly": "10",
                 "X-HubSpot-RateLimit-Secondly-Remaining": "0"}, permit)
    assert lim.acquire().ts - permit.ts == pytest.approx(1.0)


def test_server_daily_exhausted_fails_until_portal_midnight():
    clock = FakeClock()
    tz = PortalTimezone("America/New_York", -5 * 3600 * 1000)
    lim = limiter(Window("w", 1000, 60.0), clock=clock, portal_timezone=tz)
    permit = lim.acquire()
    lim.observe({"X-HubSpot-RateLimit-Daily": "250000",
                 "X-HubSpot-RateLimit-Daily-Remaining": "0"}, permit)
    with pytest.raises(DailyLimitReached) as info:
        lim.acquire()
    until = info.value.until
    assert info.value.source == "hubspot"
    local_now = datetime.fromtimestamp(START, tz.tzinfo())
    assert until.date() == local_now.date() + timedelta(days=1)
    assert (until.hour, until.minute) == (0, 0) and until.utcoffset() == timedelta(hours=-5)
    clock.advance(until.timestamp() - clock.time() + 1)
    assert lim.acquire().ts > until.timestamp()        # a new day


def test_pause_holds_every_request():
    clock = FakeClock()
    lim = limiter(Window("w", 1000, 60.0), clock=clock)
    lim.pause(10.0, "HubSpot rate limit (TEN_SECONDLY_ROLLING)")
    assert lim.snapshot().paused_for == pytest.approx(10.0)
    reasons = []
    permit = lim.acquire(on_wait=lambda s, r: reasons.append((s, r)))
    assert permit.ts == pytest.approx(START + 10.0)
    assert reasons == [(pytest.approx(10.0), "HubSpot rate limit (TEN_SECONDLY_ROLLING)")]


def test_a_broken_store_does_not_stop_requests():
    class Broken:
        def load(self, portal_key, since):
            raise OSError("db locked")

        def append(self, portal_key, ts):
            raise OSError("db locked")

    lim = limiter(Window("w", 5, 60.0), store=Broken())
    assert lim.acquire().seq == 1


def test_midnight_in_utc_when_timezone_unknown():
    clock = FakeClock()
    lim = limiter(Window("w", 1000, 60.0), clock=clock)
    lim.exhaust_daily()
    with pytest.raises(DailyLimitReached) as info:
        lim.acquire()
    assert info.value.until == datetime(2023, 11, 15, tzinfo=timezone.utc)
