"""Health status driven end to end by the demo portal's faults: healthy, then
unhealthy while every request is dropped (or answered 5xx), then healthy
again; the connection alert is raised once and resolved, and a portal that
needs a reconnect is sampled as paused without a request."""

from __future__ import annotations

import time

import pytest

from tests.support.context import make_context
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.services.alerts import AlertService
from wg_desktop.services.health import HealthMonitor, HealthStatus, endpoint_usage, uptime
from wg_desktop.services.notifiers import Dispatcher, DesktopChannel, NoticeKind
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.store.models import Portal, PortalStatus, utcnow

FAST = {"WG_HTTP_MAX_ATTEMPTS": "2", "WG_BREAKER_FAILURE_THRESHOLD": "3",
        "WG_BREAKER_COOLDOWN": "1", "WG_HTTP_TIMEOUT": "2"}


@pytest.fixture
def setup(data_dir):
    context = make_context(data_dir, FAST)
    demo = DemoPortal(DemoConfig(seed=7, workflows=5, burst_limit=10_000)).start()
    hub = build_hubspot_services(context.settings, context.store, context.audit,
                                 context.secrets, demo=demo)
    hub_id = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0])).hub_id
    monitor = HealthMonitor(context.store, context.settings, hub.connection, hub.clients)
    notes = []
    alerts = AlertService(context.store, context.settings, context.audit,
                          dispatcher=Dispatcher([DesktopChannel(notes.append)], context.store))
    alerts.subscribe(monitor, hub.sync)
    try:
        yield context, demo, hub, hub_id, monitor, alerts, notes
    finally:
        hub.close()
        context.close()


@pytest.mark.parametrize("fault", [Faults(drop_rate=1.0), Faults(error_5xx_rate=1.0)],
                         ids=["dropped", "5xx"])
def test_status_goes_unhealthy_under_faults_and_recovers(setup, fault):
    context, demo, hub, hub_id, monitor, alerts, notes = setup
    started = utcnow()
    first = monitor.check(hub_id)
    assert first.status is HealthStatus.HEALTHY, first.reasons
    assert first.figures.check_ok and first.figures.calls >= 2
    assert first.figures.client_remaining is not None

    demo.set_faults(fault)
    seen = []
    for _ in range(5):
        sample = monitor.check(hub_id)
        seen.append(sample.status)
        if sample.status is HealthStatus.UNHEALTHY:
            break
    assert seen[-1] is HealthStatus.UNHEALTHY, seen
    assert sample.figures.check_ok is False and sample.figures.failed_calls > 0
    assert sample.figures.error_rate == 1.0
    open_rules = {a.rule: a.severity for a in alerts.alerts(open_only=True,
                                                            portal_key=str(hub_id))}
    assert open_rules == {"connection_failures": "critical", "error_rate": "warning"}

    demo.set_faults(Faults())
    time.sleep(1.1)                           # the breaker's cool-down
    recovered = monitor.check(hub_id)
    assert recovered.status is HealthStatus.HEALTHY, recovered.reasons
    assert recovered.figures.consecutive_failures == 0
    assert alerts.alerts(open_only=True) == []
    kinds = [(n.rule, n.kind) for n in notes]
    assert ("connection_failures", NoticeKind.RAISED) in kinds
    assert ("connection_failures", NoticeKind.RESOLVED) in kinds

    up = uptime(str(hub_id), started)
    assert up.samples == len(seen) + 2 and 0 < up.ratio < 1
    endpoints = {u.endpoint for u in endpoint_usage(str(hub_id), started)}
    assert any("flows" in e for e in endpoints)


def test_a_portal_that_needs_a_reconnect_is_paused_and_alerted(setup):
    context, demo, hub, hub_id, monitor, alerts, notes = setup
    Portal.update(status=PortalStatus.RECONNECT_NEEDED).where(Portal.hub_id == hub_id).execute()
    demo.clear_request_log()
    [sample] = monitor.check_all()
    assert demo.request_log() == []                      # no network call
    assert sample.status is HealthStatus.UNHEALTHY and sample.figures.paused
    assert "reconnect" in sample.reasons[0]
    assert [a.rule for a in alerts.alerts(open_only=True)] == ["reconnect_needed"]


def test_samples_count_the_open_connections_of_the_portal_client(setup):
    context, demo, hub, hub_id, monitor, alerts, notes = setup
    first = monitor.check(hub_id)
    # The test-connection call over loopback leaves its keep-alive connection open.
    assert first.figures.active_connections is not None
    assert first.figures.active_connections >= 1
    assert first.figures.active_connections == hub.clients.client(str(hub_id)).open_connections
    client = hub.clients.client(str(hub_id))
    client.close()                                      # the pool lets go of every connection
    assert client.open_connections == 0
