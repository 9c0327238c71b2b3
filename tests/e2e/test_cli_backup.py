"""``wg-desktop backup`` as a user runs it: one process per command."""

from __future__ import annotations

import json

from tests.support.cli import base_env, one_line, run


def test_backup_commands_end_to_end(data_dir, tmp_path):
    env = base_env(data_dir)
    made = run(["backup", "now", "--json"], env)
    assert made.returncode == 0, made.stderr
    path = json.loads(made.stdout)["file"]
    listed = json.loads(run(["backup", "list", "--json"], env).stdout)
    assert [b["file"] for b in listed] == [path] and listed[0]["status"] == "verified"
    assert run(["backup", "verify", path], env).returncode == 0

    refused = run(["backup", "restore", path], env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "before-restore" in refused.stdout
    assert not list(data_dir.glob("*.before-restore-*"))
    restored = run(["backup", "restore", path, "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    assert list(data_dir.glob("*.before-restore-*"))

    portable = tmp_path / "copy.wgbackup"
    exported = run(["backup", "export", "--out", str(portable)], env, stdin="long passphrase\n")
    assert exported.returncode == 0, exported.stderr
    wrong = run(["backup", "verify", str(portable)], env, stdin="other passphrase\n")
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "wg-desktop: error: wrong passphrase for this backup"
    other = tmp_path / "other-machine"
    other.mkdir()
    env2 = {**base_env(other), "WG_BACKUP_PASSPHRASE": "long passphrase"}
    moved = run(["backup", "restore", str(portable), "--yes"], env2)
    assert moved.returncode == 0, moved.stderr

    garbage = tmp_path / "foreign.wgbackup"
    garbage.write_bytes(b"PK\x03\x04 not a backup")
    foreign = run(["backup", "verify", str(garbage)], env)
    assert foreign.returncode == 1 and "not a WorkflowGuard backup" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1


def test_portal_without_workflow_is_refused_before_any_restore(data_dir):
    """--portal names the portal of --workflow: alone, it must not fall through
    to replacing the whole store (which --yes would do)."""
    env = base_env(data_dir)
    made = run(["backup", "now", "--json"], env)
    assert made.returncode == 0, made.stderr
    path = json.loads(made.stdout)["file"]
    for args in (["--portal", "123", "--yes"], ["--portal", "123"]):
        refused = run(["backup", "restore", path, *args], env)
        assert refused.returncode == 2 and refused.stdout == "", refused.stdout
        assert "--portal needs --workflow" in one_line(refused)
    assert not list(data_dir.glob("*.before-restore-*"))     # the store was not replaced


def test_a_missing_backup_file_is_the_same_one_line_for_every_command(data_dir, tmp_path):
    env = base_env(data_dir)
    missing = str(tmp_path / "gone.wgbackup")
    for args in (["verify", missing], ["restore", missing, "--yes"],
                 ["restore", missing, "--workflow", "x", "--yes"], ["open", missing]):
        result = run(["backup", *args], env)
        assert result.returncode == 1, (args, result.stderr)
        assert one_line(result) == f"wg-desktop: error: {missing} does not exist", args
