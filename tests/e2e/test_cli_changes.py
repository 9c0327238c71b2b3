"""``wg-desktop changes`` as a subprocess against a synced demo portal."""

from __future__ import annotations

import json

from tests.support.cli import connected_to_demo, run


def test_changes_lists_each_sync_newest_first(data_dir):
    with connected_to_demo(data_dir, seed=37, workflows=10) as (demo, env):
        hub_id = demo.portal_ids[0]
        assert run(["sync"], env).returncode == 0
        drifted = demo.drift_once(3)
        assert run(["sync"], env).returncode == 0

        listed = run(["changes", "--json"], env)
        assert listed.returncode == 0, listed.stderr
        entries = json.loads(listed.stdout)
        assert entries[-1]["kind"] == "first_capture"
        found = {e["flow_id"] for e in entries[:-1]}
        assert {str(c.flow_id) for c in drifted} <= found
        assert all(e["hub_id"] == hub_id for e in entries)
        edited = [e for e in entries if e["kind"] == "edited"]
        assert all(e["summary"] for e in edited)

        text = run(["changes", "--portal", str(hub_id), "--since", "1h"], env)
        assert text.returncode == 0 and "First capture" in text.stdout
        assert run(["changes", "--since", "1h", "--portal", "4242"], env).stdout.strip() == \
            "no changes in the last 1h"

        bad = run(["changes", "--since", "soon"], env)
        assert bad.returncode != 0 and "--since" in bad.stderr and "Traceback" not in bad.stderr
