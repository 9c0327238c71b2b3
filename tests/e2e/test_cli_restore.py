"""``wg-desktop restore`` as a user runs it: real subprocesses against a demo
portal over loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.cli import connected_to_demo, one_line, run
from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.demo.server import Faults


@pytest.fixture
def demo_env(data_dir):
    with connected_to_demo(data_dir, seed=93, workflows=12) as (demo, env):
        yield demo, env


def _edit(demo, hub_id, flow_id, **changes):
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    body.update(changes)
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


def _contact_flow(demo, hub_id):
    return next(f for f in demo.flow_ids(hub_id)
                if demo.get_flow(hub_id, f)["objectTypeId"] == "0-1")


def _two_versions(demo, env):
    hub_id = demo.portal_ids[0]
    assert run(["sync"], env).returncode == 0
    flow_id = _contact_flow(demo, hub_id)
    original = demo.get_flow(hub_id, flow_id)
    _edit(demo, hub_id, flow_id, name="Renamed by someone", isEnabled=False)
    assert run(["sync"], env).returncode == 0
    return hub_id, flow_id, original


def test_plan_only_without_yes_then_apply_and_undo(demo_env):
    demo, env = demo_env
    hub_id, flow_id, original = _two_versions(demo, env)
    edited = demo.get_flow(hub_id, flow_id)

    plan = run(["restore", flow_id, "1"], env)
    assert plan.returncode == 0, plan.stderr
    assert "Restore 'Renamed by someone'" in plan.stdout
    assert "Changes from live:" in plan.stdout and "add --yes" in plan.stdout
    assert demo.get_flow(hub_id, flow_id) == edited           # nothing sent

    applied = run(["restore", flow_id, "1", "--yes", "--disabled"], env)
    assert applied.returncode == 0, applied.stderr
    live = demo.get_flow(hub_id, flow_id)
    assert live["name"] == original["name"] and live["isEnabled"] is False
    assert "Restored" in applied.stdout and "turned off" in applied.stdout
    undo_line = next(line for line in applied.stdout.splitlines() if line.startswith("To undo:"))
    undo = undo_line.removeprefix("To undo: ").split()
    assert undo[:2] == ["wg-desktop", "restore"] and "--yes" in undo

    undone = run(undo[1:], env)
    assert undone.returncode == 0, undone.stderr
    assert demo.get_flow(hub_id, flow_id)["name"] == "Renamed by someone"
    history = json.loads(run(["history", flow_id, "--json"], env).stdout)
    assert [v["origin"] for v in history][:2] == ["restore", "restore"]
    audit = json.loads(run(["audit", "list", "--action", "restore", "--json"], env).stdout)
    assert len(audit) == 2


def test_json_output_and_a_recreated_workflow(demo_env):
    demo, env = demo_env
    hub_id = demo.portal_ids[0]
    assert run(["sync"], env).returncode == 0
    flow_id = _contact_flow(demo, hub_id)
    token = demo.private_app_token(hub_id)
    assert httpx.delete(f"{demo.base_url}/automation/v4/flows/{flow_id}",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert run(["sync"], env).returncode == 0
    result = run(["restore", flow_id, "1", "--yes", "--json"], env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["applied"] is True and answer["plan"]["mode"] == "recreate"
    new_id = answer["result"]["flow_id"]
    assert answer["result"]["old_flow_id"] == flow_id and new_id in demo.flow_ids(hub_id)
    assert answer["undo"] is None
    # The old id still names the workflow.
    again = run(["restore", flow_id, "1", "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["plan"]["flow_id"] == new_id


def test_reconnect_needed_is_one_line_and_exit_3(demo_env):
    demo, env = demo_env
    hub_id, flow_id, _ = _two_versions(demo, env)
    edited = demo.get_flow(hub_id, flow_id)
    demo.set_faults(Faults(unauthorized_rate=1.0))
    result = run(["restore", flow_id, "1", "--yes"], env)
    assert result.returncode == 3, result.stderr
    assert "reconnect" in one_line(result)
    demo.set_faults(Faults())
    assert demo.get_flow(hub_id, flow_id) == edited


def test_unknown_version_fails_inone_line(demo_env):
    demo, env = demo_env
    hub_id, flow_id, _ = _two_versions(demo, env)
    missing = run(["restore", flow_id, "9", "--yes"], env)
    assert missing.returncode != 0 and "no version '9'" in one_line(missing)
