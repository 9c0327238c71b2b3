"""``wg-desktop backup restore FILE --workflow W``: one workflow's history back
from a backup, as a user runs it, on history synced from the demo portal over
loopback."""

from __future__ import annotations

import json

from tests.support.cli import connected_to_demo, one_line, run
from tests.support.context import make_context
from wg_desktop.store.models import Workflow, WorkflowVersion


def test_restore_one_workflows_history_from_a_backup(data_dir):
    with connected_to_demo(data_dir, seed=7, workflows=6) as (demo, env):
        assert run(["sync", "--json"], env).returncode == 0
        changed = [c for c in demo.drift_once(3) if c.kind == "changed"]
        assert changed
        assert run(["sync", "--json"], env).returncode == 0
        flow_id = changed[0].flow_id
        made = run(["backup", "now", "--json"], env)
        assert made.returncode == 0, made.stderr
        backup = json.loads(made.stdout)["file"]

        # The live store loses the workflow's older version (a mistake, a bad prune).
        ctx = make_context(data_dir, env)
        try:
            workflow = Workflow.get(Workflow.flow_id == flow_id)
            versions = list(WorkflowVersion.select().where(WorkflowVersion.workflow == workflow)
                            .order_by(WorkflowVersion.captured_at))
            assert len(versions) == 2
            with ctx.store.writing():
                WorkflowVersion.delete().where(WorkflowVersion.id == versions[0].id).execute()
        finally:
            ctx.close()
        before = json.loads(run(["history", flow_id, "--json"], env).stdout)
        assert len(before) == 1

        asked = run(["backup", "restore", backup, "--workflow", flow_id], env)
        assert asked.returncode == 2 and "--yes" in asked.stderr
        assert "1 of the backup's 2 versions" in asked.stdout
        assert len(json.loads(run(["history", flow_id, "--json"], env).stdout)) == 1

        done = run(["backup", "restore", backup, "--workflow", flow_id, "--yes"], env)
        assert done.returncode == 0, done.stderr
        assert "Added 1 version" in done.stdout
        after = json.loads(run(["history", flow_id, "--json"], env).stdout)
        assert [v["number"] for v in after] == [2, 1]

        unknown = run(["backup", "restore", backup, "--workflow", "no-such-flow", "--yes"], env)
        assert unknown.returncode != 0
        line = one_line(unknown)
        assert line.startswith("wg-desktop: error: No stored workflow 'no-such-flow'")
        # The backup is where it was looked for, and what lists its workflows:
        # not the live store's 'wg-desktop workflows'.
        assert f"in the backup {backup}" in line and f"'wg-desktop backup open {backup}'" in line
        assert "'wg-desktop workflows'" not in line
        no_portal = run(["backup", "restore", backup, "--workflow", flow_id,
                         "--portal", "999999", "--yes"], env)
        assert no_portal.returncode == 2 and "No portal 999999" in no_portal.stderr
