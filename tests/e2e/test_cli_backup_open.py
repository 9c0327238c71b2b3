"""``wg-desktop backup open FILE``: a backup browsed read-only from the
command line, in the shape of 'workflows', 'history' and 'show', while the
live store has moved on."""

from __future__ import annotations

import json

from tests.support.cli import connected_to_demo, one_line, run


def test_a_backup_reads_as_it_was_while_the_store_moves_on(data_dir, tmp_path):
    with connected_to_demo(data_dir, seed=11, workflows=5) as (demo, env):
        assert run(["sync", "--json"], env).returncode == 0
        made = run(["backup", "now", "--json"], env)
        assert made.returncode == 0, made.stderr
        backup = json.loads(made.stdout)["file"]
        then = json.loads(run(["workflows", "--json"], env).stdout)

        changed = [c for c in demo.drift_once(4) if c.kind == "changed"]
        assert changed
        assert run(["sync", "--json"], env).returncode == 0
        flow_id = changed[0].flow_id
        live_history = json.loads(run(["history", flow_id, "--json"], env).stdout)
        assert len(live_history) == 2

        listed = run(["backup", "open", backup, "--json"], env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == then            # the backup, not today's store
        text = run(["backup", "open", backup], env)
        assert text.returncode == 0 and text.stderr == ""
        assert text.stdout.startswith("Viewing backup of") and "(read-only)" in text.stdout
        unknown = run(["backup", "open", backup, "--workflow", "no-such-flow"], env)
        assert unknown.returncode == 1
        line = one_line(unknown)
        assert line.startswith("wg-desktop: error: No stored workflow 'no-such-flow'")
        assert f"in the backup {backup}" in line and f"'wg-desktop backup open {backup}'" in line
        assert "'wg-desktop workflows'" not in line

        history = json.loads(run(["backup", "open", backup, "--workflow", flow_id, "--json"],
                                 env).stdout)
        assert len(history) == 1
        assert history[0]["captured_at"] == live_history[1]["captured_at"]
        shown = run(["backup", "open", backup, "--workflow", flow_id, "--version", "latest"],
                    env)
        assert shown.returncode == 0, shown.stderr
        old = json.loads(shown.stdout)
        live_old = json.loads(run(["show", flow_id, "1"], env).stdout)
        assert old == live_old

        # the live store is untouched by browsing, and no private copy is left behind
        assert json.loads(run(["history", flow_id, "--json"], env).stdout) == live_history
        assert not list((data_dir).rglob("opened-backups/*/*.db"))

        misuse = run(["backup", "open", backup, "--version", "1"], env)
        assert misuse.returncode == 2 and "--version needs --workflow" in misuse.stderr
        garbage = tmp_path / "junk.wgbackup"
        garbage.write_bytes(b"not a backup at all")
        refused = run(["backup", "open", str(garbage)], env)
        assert refused.returncode == 1
        assert len(refused.stderr.strip().splitlines()) == 1
