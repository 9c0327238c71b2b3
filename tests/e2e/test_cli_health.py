"""``wg-desktop health`` and ``wg-desktop alerts`` as subprocesses against a
demo portal over loopback."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import connected_to_demo, run
from wg_desktop.demo.server import Faults


@pytest.fixture
def demo_env(data_dir):
    with connected_to_demo(data_dir, seed=11, workflows=5) as (demo, env):
        env = {**env, "WG_HTTP_MAX_ATTEMPTS": "1", "WG_BREAKER_FAILURE_THRESHOLD": "1"}
        yield demo, env


def test_health_alerts_list_and_ack(demo_env):
    demo, env = demo_env
    ok = run(["health", "--json"], env)
    assert ok.returncode == 0, ok.stderr
    [row] = json.loads(ok.stdout)
    assert row["status"] == "healthy" and row["check_ok"] is True
    assert [s["status"] for s in row["last_samples"]] == ["healthy"]

    demo.set_faults(Faults(error_5xx_rate=1.0))
    bad = run(["health"], env)
    assert bad.returncode == 1, bad.stderr                   # a portal is unhealthy
    assert "unhealthy" in bad.stdout and "circuit breaker is open" in bad.stdout

    listed = run(["alerts", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    alerts = {a["rule"]: a for a in json.loads(listed.stdout)}
    assert alerts["connection_failures"]["severity"] == "critical"
    alert_id = alerts["connection_failures"]["id"]
    acked = run(["alerts", "ack", str(alert_id)], env)
    assert acked.returncode == 0 and f"Acknowledged alert {alert_id}" in acked.stdout
    again = json.loads(run(["alerts", "list", "--json"], env).stdout)
    assert next(a for a in again if a["id"] == alert_id)["acknowledged_at"]
    missing = run(["alerts", "ack", "9999"], env)
    assert missing.returncode == 2 and "no alert 9999" in missing.stderr


def test_alerts_test_channel_reports_failure_in_one_line(demo_env):
    demo, env = demo_env
    nothing = run(["alerts", "test", "webhook"], env)
    assert nothing.returncode == 2 and "no webhook is set" in nothing.stderr
    email = run(["alerts", "test", "email"], env)
    assert email.returncode == 1 and "FAILED: Email is not set up" in email.stdout
