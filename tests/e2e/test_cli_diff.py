"""diff / describe from the command line against a demo portal: connect with
a private-app token, sync, drift, sync, then read what changed offline."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli_workflows import base_env, run
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults


@pytest.fixture(scope="module")
def drifted(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("wg-diff")
    with DemoPortal(DemoConfig(seed=31, workflows=20, burst_limit=10_000)) as demo:
        env = {**base_env(data_dir), "HUBSPOT_MOCK_MODE": "false",
               "HUBSPOT_API_BASE": demo.base_url, "HUBSPOT_AUTH_BASE": demo.base_url}
        token = demo.private_app_token(demo.portal_ids[0])
        assert run(["connect", "--private-app-token"], env, stdin=token + "\n").returncode == 0
        assert run(["sync"], env).returncode == 0
        changes = []
        while not changes:
            changes = [c for c in demo.drift_once(3) if c.kind in ("changed", "disabled")]
        assert run(["sync"], env).returncode == 0
        demo.set_faults(Faults(error_5xx_rate=1.0))      # everything below is offline
        yield env, demo, changes[0]


def test_diff_defaults_to_the_last_two_versions(drifted):
    env, demo, change = drifted
    plain = run(["diff", change.flow_id], env)
    assert plain.returncode == 0, plain.stderr
    header, *body = plain.stdout.splitlines()
    assert header.endswith(f"({demo.portal_ids[0]}:{change.flow_id}) v2 of 2")
    assert " v1 of 2 → " in header and body and body[0].endswith(":")
    explicit = run(["diff", change.flow_id, "1", "2"], env)
    assert explicit.stdout == plain.stdout
    history = json.loads(run(["history", change.flow_id, "--json"], env).stdout)
    as_json = json.loads(run(["diff", change.flow_id, "--json"], env).stdout)
    assert not as_json["identical"] and as_json["changes"]
    assert history[0]["summary"] == as_json["summary"]        # one wording, stored and shown


def test_exit_code_only_on_request(drifted):
    env, _, change = drifted
    assert run(["diff", change.flow_id, "--exit-code"], env).returncode == 1
    same = run(["diff", change.flow_id, "2", "2", "--exit-code"], env)
    assert same.returncode == 0 and same.stdout.splitlines()[1] == "no differences"


def test_unified_view(drifted):
    env, _, change = drifted
    unified = run(["diff", change.flow_id, "--unified"], env).stdout.splitlines()
    assert unified[0].startswith("--- ") and unified[1].startswith("+++ ")
    assert any(line.startswith("@@") for line in unified)


def test_two_workflows_across_portal_prefixes(drifted):
    env, demo, change = drifted
    rows = json.loads(run(["workflows", "--json"], env).stdout)
    other = next(r["flow_id"] for r in rows if r["flow_id"] != change.flow_id)
    hub = demo.portal_ids[0]
    result = run(["diff", "--workflows", f"{hub}:{change.flow_id}", other, "--json"], env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert not document["identical"] and f"{hub}:{other}" in document["new"]
    assert any(c["fields"] and c["fields"][0]["path"] == "id" for c in document["changes"])


def test_describe_prints_the_version_in_words(drifted):
    env, _, change = drifted
    text = run(["describe", change.flow_id, "1"], env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1] == "Trigger" and "Actions" in lines and "  1. " in text.stdout
    as_json = json.loads(run(["describe", change.flow_id, "--json"], env).stdout)
    assert as_json[0] == {"indent": 0, "text": "Trigger", "kind": "heading", "action_id": None}


@pytest.mark.parametrize("args, message", [
    (["diff", "no-such-flow"], "No stored workflow 'no-such-flow'"),
    (["diff"], "name a workflow"),
    (["diff", "{flow}", "9"], "no version '9'"),
    (["diff", "{flow}", "1", "2", "3"], "at most two version numbers"),
    (["describe", "{flow}", "7"], "no version '7'"),
])
def test_errors_are_one_line(drifted, args, message):
    env, _, change = drifted
    result = run([a.format(flow=change.flow_id) for a in args], env)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
