"""The command line never reports a success it did not have: exit codes,
one line on stderr, one source of truth for a portal's state, one sync at a
time per portal. Real subprocesses against a demo portal over loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.cli import ROOT, base_env, connected_to_demo, one_line, run
from tests.support.waiting import wait_until
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.portable import read_holder_pid


@pytest.fixture
def demo_env(data_dir):
    with connected_to_demo(data_dir, seed=41, workflows=30) as (demo, env):
        yield demo, env, demo.private_app_token(demo.portal_ids[0])


def test_after_hubspot_rejects_the_token_every_command_says_reconnect(demo_env):
    demo, env, token = demo_env
    hub_id = demo.portal_ids[0]
    demo.set_faults(Faults(unauthorized_rate=1.0))
    first = run(["sync"], env)
    assert first.returncode == 3, first.stderr
    assert "connect" in one_line(first)
    # Every later sync fails the same way: never exit 0 with nothing done.
    again = run(["sync", "--json"], env)
    assert again.returncode == 3
    answer = json.loads(again.stdout)
    assert [(a["hub_id"], a["ok"], a["exit_code"]) for a in answer] == [(hub_id, False, 3)]
    assert "needs a reconnect" in one_line(again)
    assert "wg-desktop connect" in again.stderr
    # status and portals agree with the store, even once HubSpot answers again.
    demo.set_faults(Faults())
    status = run(["status", "--json"], env)
    assert status.returncode == 3
    assert json.loads(status.stdout)[0]["state"] == "reconnect_needed"
    assert json.loads(status.stdout)[0]["ok"] is False
    portals = json.loads(run(["portals", "--json"], env).stdout)
    assert portals[0]["status"] == "reconnect_needed"
    # Reconnecting ends it.
    assert run(["connect", "--private-app-token"], env, stdin=token + "\n").returncode == 0
    assert run(["sync"], env).returncode == 0
    assert run(["status"], env).returncode == 0


def test_a_failing_sync_prints_one_line_without_retry_warnings(demo_env):
    demo, env, _ = demo_env
    demo.set_faults(Faults(error_5xx_rate=1.0))
    result = run(["sync"], env)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("wg-desktop: error: ") and "Nothing was stored" in line
    verbose = run(["-v", "sync"], env)
    assert verbose.returncode == 1 and len(verbose.stderr.strip().splitlines()) > 1


def test_unknown_portals_are_named_with_the_known_ones(demo_env):
    demo, env, _ = demo_env
    hub_id = demo.portal_ids[0]
    for args in (["sync", "424242"], ["status", "424242"], ["workflows", "--portal", "1"]):
        result = run(args, env)
        assert result.returncode == 2, (args, result.stderr)
        line = one_line(result)
        assert "No portal" in line and str(hub_id) in line, line


def test_history_counts_versions_in_words(demo_env):
    demo, env, _ = demo_env
    assert run(["sync"], env).returncode == 0
    flow_id = json.loads(run(["workflows", "--json"], env).stdout)[0]["flow_id"]
    history = run(["history", flow_id], env)
    assert history.returncode == 0
    assert ": 1 version\n" in history.stdout


def test_help_documents_the_exit_codes():
    result = subprocess.run([sys.executable, "-m", "wg_desktop", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    text = " ".join(result.stdout.split())
    for code in ("0 done", "1 failed", "2 usage", "3 a portal needs a reconnect", "4 busy"):
        assert code in text


def test_two_syncs_of_one_portal_one_runs_the_other_says_busy(data_dir):
    # Slow answers keep the first sync running while the second starts.
    with connected_to_demo(data_dir, seed=43, workflows=60) as (demo, env):
        demo.set_faults(Faults(latency_ms=400))
        first = subprocess.Popen([sys.executable, "-m", "wg_desktop", "sync"], env=env,
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        lock = data_dir / f".sync-{demo.portal_ids[0]}.lock"
        # The holder writes its pid once it has the lock (never probe by locking:
        # that could make the first sync the busy one).
        wait_until(lambda: read_holder_pid(lock) == first.pid, "the first sync's lock",
                   timeout=30, interval=0.05)
        second = run(["sync"], env)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 4, second.stderr
    line = one_line(second)
    assert "already running" in line and f"pid {first.pid}" in line
    rows = json.loads(run(["workflows", "--json"], env).stdout)
    assert len(rows) == 60


def test_an_explicit_api_base_is_honoured_without_a_client_id(data_dir):
    """HUBSPOT_API_BASE alone points the app at that HubSpot, not at its embedded demo."""
    with DemoPortal(DemoConfig(seed=44, workflows=5, burst_limit=10_000)) as demo:
        env = {**base_env(data_dir), "HUBSPOT_API_BASE": demo.base_url}   # nothing else set
        token = demo.private_app_token(demo.portal_ids[0])
        connected = run(["connect", "--private-app-token"], env, stdin=token + "\n")
        assert connected.returncode == 0, connected.stderr
        status = run(["status"], env)
        assert status.returncode == 0, status.stderr
        assert f"Talking to HubSpot at {demo.base_url}" in status.stdout
        assert [p["hub_id"] for p in json.loads(run(["portals", "--json"], env).stdout)] \
            == [demo.portal_ids[0]]
