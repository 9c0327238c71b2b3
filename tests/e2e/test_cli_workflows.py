"""sync / workflows / history / show / export / import from the command line,
including a sync killed with SIGKILL half-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import ROOT, base_env, connected_to_demo, run  # noqa: F401 (re-exported)
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults

@pytest.fixture
def demo_env(data_dir):
    """The CLI pointed at a separately running demo portal, as at a real HubSpot."""
    with connected_to_demo(data_dir, seed=31, workflows=40) as (demo, env):
        yield demo, env


def test_sync_list_history_show_offline(demo_env, tmp_path):
    demo, env = demo_env
    first = run(["sync", "--json"], env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)[0]["stored"] == 40
    changes = [c for c in demo.drift_once(3) if c.kind == "changed"]
    assert changes
    second = json.loads(run(["sync", "--json"], env).stdout)[0]
    assert {c["flow_id"] for c in second["changes"]} >= {c.flow_id for c in changes}

    rows = json.loads(run(["workflows", "--json"], env).stdout)
    assert len(rows) == 40
    changed_id = changes[0].flow_id
    # offline: HubSpot gone, the history is still there
    demo.set_faults(Faults(error_5xx_rate=1.0))
    hist = run(["history", changed_id, "--json"], env)
    assert hist.returncode == 0, hist.stderr
    versions = json.loads(hist.stdout)
    assert [v["number"] for v in versions] == [2, 1]
    old = json.loads(run(["show", changed_id, "1"], env).stdout)
    new = json.loads(run(["show", changed_id], env).stdout)
    assert old != new and new == json.loads(run(["show", changed_id, "2"], env).stdout)
    missing = run(["show", changed_id, "9"], env)
    assert missing.returncode == 1 and "no version '9'" in missing.stderr

    out = tmp_path / "export.zip"
    assert run(["export", "--out", str(out)], env).returncode == 0
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert len(manifest["workflows"]) == 40
        one = manifest["workflows"][0]
        assert json.loads(archive.read(one["file"]))["actions"] is not None
    imported = run(["import", str(out)], env)
    assert imported.returncode == 0 and "40 new versions" in imported.stdout
    ambiguous = run(["history", changed_id], env)
    assert ambiguous.returncode == 1 and "--portal" in ambiguous.stderr
    hub_id = str(demo.portal_ids[0])
    assert run(["history", changed_id, "--portal", hub_id, "--json"], env).returncode == 0
    assert run(["workflows", "--portal", "abc"], env).returncode == 2   # argparse, no traceback
    bad = tmp_path / "bad.json"
    bad.write_text('{"no": "id"}')
    rejected = run(["import", str(bad)], env)
    assert rejected.returncode == 1 and "needs an 'id'" in rejected.stderr


def test_sync_killed_mid_way_leaves_a_consistent_store(data_dir):
    # Slow answers so that the sync is surely in the middle when it is killed.
    with DemoPortal(DemoConfig(seed=32, workflows=600, burst_limit=10_000,
                               faults=Faults(latency_ms=150))) as demo:
        env = {**base_env(data_dir), "HUBSPOT_MOCK_MODE": "false",
               "HUBSPOT_API_BASE": demo.base_url, "HUBSPOT_AUTH_BASE": demo.base_url}
        token = demo.private_app_token(demo.portal_ids[0])
        assert run(["connect", "--private-app-token"], env, stdin=token + "\n").returncode == 0
        demo.clear_request_log()
        proc = subprocess.Popen([sys.executable, "-m", "wg_desktop", "sync"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batches = [e for e in demo.request_log() if e.path.endswith("/batch/read")]
            if len(batches) >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert len(batches) >= 3, "the sync never got going"

        partial = json.loads(run(["workflows", "--json"], env).stdout)
        assert 0 < len(partial) < 600 and len(partial) % 100 == 0   # whole batches only
        assert all(r["versions"] == 1 for r in partial)
        finished = run(["sync", "--json"], env)
        assert finished.returncode == 0, finished.stderr
        rows = json.loads(run(["workflows", "--json"], env).stdout)
        assert len(rows) == 600 and all(r["versions"] == 1 for r in rows)
