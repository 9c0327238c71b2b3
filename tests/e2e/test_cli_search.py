"""``wg-desktop search`` against a synced demo portal, run as a subprocess:
hits with version numbers and marked snippets, JSON, portal filter, hostile
input, rebuild, and the index emptied with a portal's deleted history."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import connected_to_demo, run
from wg_desktop.demo.server import DemoPortal


@pytest.fixture
def synced(data_dir):
    with connected_to_demo(data_dir, seed=31, workflows=40) as (demo, env):
        hub_id = demo.portal_ids[0]
        synced = run(["sync", "--json"], env)
        assert synced.returncode == 0, synced.stderr
        yield demo, env, hub_id


def _webhook(demo: DemoPortal, hub_id: int) -> tuple[str, str, str]:
    """(flow id, name, webhook URL) of the first demo flow with a webhook."""
    for flow_id in demo.flow_ids(hub_id):
        flow = demo.get_flow(hub_id, flow_id)
        for action in flow.get("actions", []):
            if action.get("type") == "WEBHOOK":
                return str(flow_id), flow["name"], action["webhookUrl"]
    raise AssertionError("the demo portal has no webhook flow")


def test_search_history_from_the_command_line(synced):
    demo, env, hub_id = synced
    flow_id, name, url = _webhook(demo, hub_id)

    found = run(["search", url, "--json"], env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    mine = [h for h in hits if h["flow_id"] == flow_id]
    assert mine and mine[0]["version"] == 1 and mine[0]["hub_id"] == hub_id
    assert mine[0]["name"] == name and mine[0]["where"].endswith(".webhookUrl")
    assert f"[{url}]" in mine[0]["snippet"]
    assert found.stderr == ""                                  # the index is complete

    text = run(["search", url], env)
    assert text.returncode == 0
    line = next(line for line in text.stdout.splitlines() if f"  {flow_id}  " in line)
    assert line.startswith(f"{hub_id}  {flow_id}  v1  ") and name in line

    # After a drift and a second sync, a changed flow's id finds both its
    # versions, numbered as 'history' numbers them.
    changed = next(c.flow_id for c in demo.drift_once(5) if c.kind == "changed")
    assert run(["sync"], env).returncode == 0
    numbers = [h["version"] for h in json.loads(run(["search", changed, "--json"], env).stdout)
               if h["flow_id"] == changed]
    history = json.loads(run(["history", changed, "--json"], env).stdout)
    assert numbers == [v["number"] for v in history] == [2, 1]

    by_name = json.loads(run(["search", name, "--portal", str(hub_id), "--json"], env).stdout)
    assert flow_id in {h["flow_id"] for h in by_name}

    other_portal = run(["search", url, "--portal", "999"], env)
    assert other_portal.returncode == 2 and other_portal.stderr.startswith("wg-desktop: error:")

    nothing = run(["search", "zzqqxxnotthere"], env)
    assert (nothing.returncode, nothing.stdout.strip()) == (0, "no matches")
    empty_json = run(["search", "zzqqxxnotthere", "--json"], env)
    assert (empty_json.returncode, json.loads(empty_json.stdout)) == (0, [])

    for hostile in ('"unbalanced', "NEAR(", "*", "a OR", "-x", "'", ")(", "AND"):
        result = run(["search", "--", hostile], env)
        assert result.returncode == 0, (hostile, result.stderr)
        assert result.stderr == "" and result.stdout.strip(), hostile

    no_text = run(["search"], env)
    assert no_text.returncode == 2 and "search for" in no_text.stderr

    before = json.loads(run(["search", url, "--json"], env).stdout)
    rebuilt = run(["search", "--rebuild"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("indexed ") and " versions in " in rebuilt.stdout
    assert json.loads(run(["search", url, "--json"], env).stdout) == before

    gone = run(["disconnect", str(hub_id), "--delete-history"], env)
    assert gone.returncode == 0, gone.stderr
    after = run(["search", url], env)
    assert (after.returncode, after.stdout.strip(), after.stderr) == (0, "no matches", "")
