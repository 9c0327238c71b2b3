"""diff / describe from the command line against a demo portal: connect with
a private-app token, sync, drift, sync, then read what changed offline."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import base_env, run, stored_label
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
    side = stored_label(env, demo.portal_ids[0], change.flow_id)
    assert header == f"{side} v1 of 2 → {side} v2 of 2"
    assert body and body[0].endswith(":")
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


# -- diff --file: a stored version against a workflow in a file (offline) --------------------

def shown(env, flow_id: str, *version: str) -> dict:
    result = run(["show", flow_id, *version], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_file_matching_the_store_is_no_differences(drifted, tmp_path):
    env, demo, change = drifted
    export = tmp_path / "export.zip"
    assert run(["export", "--out", str(export)], env).returncode == 0
    result = run(["diff", change.flow_id, "--file", str(export), "--exit-code"], env)
    assert result.returncode == 0, result.stderr
    header, summary = result.stdout.splitlines()
    hub, name = demo.portal_ids[0], shown(env, change.flow_id)["name"]
    assert header.endswith(f"({hub}:{change.flow_id}) v2 of 2 → File export.zip › "
                           f"workflows/{hub}/{change.flow_id}.json: '{name}' ({change.flow_id})")
    assert summary == "no differences"


def test_file_as_hubspot_returns_it_shows_only_real_differences(drifted, tmp_path):
    env, _, change = drifted
    # v1 as HubSpot's API gave it: a revision and an update time the store drops.
    flow = {**shown(env, change.flow_id, "1"), "revisionId": "999",
            "updatedAt": "2030-01-01T00:00:00Z"}
    flow["actions"] = list(reversed(flow.get("actions", [])))     # order carries no meaning
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    against_v1 = run(["diff", change.flow_id, "1", "--file", str(path), "--exit-code"], env)
    assert against_v1.returncode == 0 and against_v1.stdout.splitlines()[1] == "no differences"
    latest = run(["diff", change.flow_id, "--file", str(path), "--json"], env)
    assert latest.returncode == 0, latest.stderr
    document = json.loads(latest.stdout)
    versions = json.loads(run(["diff", change.flow_id, "2", "1", "--json"], env).stdout)
    assert document["new"] == f"File flow.json: '{flow['name']}' ({change.flow_id})"
    assert document["old"].endswith(f":{change.flow_id}) v2 of 2")
    # v2 → the file (v1 as HubSpot returned it) is v2 → v1: the same changes, nothing more.
    assert not document["identical"] and document["changes"] == versions["changes"]
    flagged = run(["diff", change.flow_id, "--file", str(path), "--exit-code"], env)
    assert flagged.returncode == 1 and flagged.stderr == ""


def test_a_file_of_several_workflows_needs_a_choice(drifted, tmp_path):
    env, _, change = drifted
    rows = json.loads(run(["workflows", "--json"], env).stdout)
    others = [r for r in rows if r["flow_id"] != change.flow_id][:2]
    path = tmp_path / "others.json"
    path.write_text(json.dumps({"results": [shown(env, r["flow_id"]) for r in others]}))
    asked = run(["diff", change.flow_id, "--file", str(path)], env)
    assert asked.returncode == 2 and asked.stdout == ""
    assert asked.stderr.count("\n") == 1
    assert f"others.json holds 2 workflows and none has flow id {change.flow_id}" in asked.stderr
    assert "--file-workflow NAME|ID" in asked.stderr and f"({others[0]['flow_id']})" in asked.stderr
    chosen = run(["diff", change.flow_id, "--file", str(path), "--file-workflow",
                  others[1]["flow_id"], "--json"], env)
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["new"].endswith(f"({others[1]['flow_id']})")


@pytest.mark.parametrize("content, message", [
    (b"{ nope", "bad.json: not valid JSON"),
    (b'{"name": "no id"}', "bad.json: not a HubSpot workflow"),
    (b" " * ((32 << 20) + 1), "bad.json: larger than 32 MB; nothing was compared."),
    (b"[" * 200 + b"]" * 200, "bad.json: nests deeper than 128 levels"),
])
def test_a_bad_file_is_one_line_and_non_zero(drifted, tmp_path, content, message):
    env, _, change = drifted
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = run(["diff", change.flow_id, "--file", str(path)], env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


@pytest.mark.parametrize("args, message", [
    (["diff", "{flow}", "--file", "{missing}"], "missing.json: cannot be read"),
    (["diff", "{flow}", "1", "2", "--file", "{missing}"], "takes one version number"),
    (["diff", "{flow}", "--live", "--file", "{missing}"], "--live and --file cannot be combined"),
    (["diff", "--workflows", "{flow}", "{flow}", "--file", "{missing}"],
     "--file compares one workflow"),
    (["diff", "{flow}", "--file-workflow", "x"], "--file-workflow chooses a workflow inside"),
])
def test_file_usage_errors_are_one_line(drifted, tmp_path, args, message):
    env, _, change = drifted
    missing = str(tmp_path / "missing.json")
    result = run([a.format(flow=change.flow_id, missing=missing) for a in args], env)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
