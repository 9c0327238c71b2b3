"""``wg-desktop diff WORKFLOW V --live`` as a user runs it: a stored version
against what the demo portal holds now, over loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.cli import connected_to_demo, one_line, run, stored_label
from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.demo.server import Faults


@pytest.fixture
def synced(data_dir):
    """A connected, synced demo portal and one contact flow stored once."""
    with connected_to_demo(data_dir, seed=57, workflows=8) as (demo, env):
        assert run(["sync"], env).returncode == 0
        hub_id = demo.portal_ids[0]
        flow_id = next(f for f in demo.flow_ids(hub_id)
                       if demo.get_flow(hub_id, f)["objectTypeId"] == "0-1")
        yield demo, env, hub_id, flow_id


def drift(demo, hub_id, flow_id, **changes):
    """Someone edits the flow in HubSpot (one PUT); the app has not synced since."""
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    body.update(changes)
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


def test_live_diff_shows_the_drift_since_the_sync(synced):
    demo, env, hub_id, flow_id = synced
    same = run(["diff", flow_id, "1", "--live", "--exit-code"], env)
    assert same.returncode == 0, same.stderr
    header, verdict = same.stdout.splitlines()
    stored = stored_label(env, hub_id, flow_id)
    assert header == (f"{stored} v1 of 1 → Live in HubSpot now ({hub_id}:{flow_id}, revision "
                      f"{demo.get_flow(hub_id, flow_id)['revisionId']})")
    assert verdict == "no differences"

    drift(demo, hub_id, flow_id, name="Renamed in HubSpot")
    plain = run(["diff", flow_id, "1", "--live"], env)
    assert plain.returncode == 0, plain.stderr
    assert "Renamed in HubSpot" in plain.stdout and "no differences" not in plain.stdout
    assert run(["diff", flow_id, "--live", "--exit-code"], env).returncode == 1

    as_json = json.loads(run(["diff", flow_id, "--live", "--json"], env).stdout)
    assert not as_json["identical"] and as_json["new"].startswith("Live in HubSpot now")
    assert as_json["old"] == f"{stored} v1 of 1"
    renamed = [f for c in as_json["changes"] for f in c["fields"] if f["path"] == "name"]
    assert renamed and renamed[0]["new"] == "Renamed in HubSpot"
    # Comparing read HubSpot and stored nothing: the history still has one version.
    assert len(json.loads(run(["history", flow_id, "--json"], env).stdout)) == 1


def test_a_workflow_deleted_in_hubspot_is_one_line(synced):
    demo, env, hub_id, flow_id = synced
    token = demo.private_app_token(hub_id)
    assert httpx.delete(f"{demo.base_url}/automation/v4/flows/{flow_id}",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 204
    result = run(["diff", flow_id, "--live"], env)
    assert result.returncode == 1 and result.stdout == ""
    assert "no longer exists in HubSpot" in one_line(result)


def test_reconnect_needed_exits_3(synced):
    demo, env, _, flow_id = synced
    demo.set_faults(Faults(unauthorized_rate=1.0))
    result = run(["diff", flow_id, "--live"], env)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "" and one_line(result).startswith("wg-desktop: error: ")
    # The portal is now marked: the next attempt says so without asking HubSpot.
    demo.set_faults(Faults())
    demo.clear_request_log()
    again = run(["diff", flow_id, "--live"], env)
    assert again.returncode == 3 and "reconnect" in one_line(again)
    assert not [e for e in demo.request_log() if "/automation/v4/flows" in e.path]


def test_hubspot_offline_is_one_line_and_exit_1(synced):
    demo, env, _, flow_id = synced
    demo.set_faults(Faults(error_5xx_rate=1.0))
    result = run(["diff", flow_id, "--live"], env)
    assert result.returncode == 1 and result.stdout == ""
    assert one_line(result).startswith("wg-desktop: error: ")


@pytest.mark.parametrize("args, message", [
    (["diff", "{flow}", "1", "1", "--live"], "one version number"),
    (["diff", "--workflows", "{flow}", "{flow}", "--live"], "not --workflows"),
])
def test_wrong_use_of_live_is_usage(synced, args, message):
    _, env, _, flow_id = synced
    result = run([a.format(flow=flow_id) for a in args], env)
    assert result.returncode == 2 and message in one_line(result)
