"""The backup folder setting from the command line: chosen, validated, used,
shown by ``backup list``; a vanished folder fails with one line."""

from __future__ import annotations

import json

from tests.support.cli import base_env, run


def test_backup_folder_setting_end_to_end(data_dir, tmp_path):
    env = base_env(data_dir)
    relative = run(["settings", "set", "backup.folder", "not/absolute"], env)
    assert relative.returncode != 0
    assert relative.stderr.count("\n") == 1 and "expected an absolute path" in relative.stderr

    chosen = tmp_path / "usb" / "wg-backups"
    made_setting = run(["settings", "set", "backup.folder", str(chosen)], env)
    assert made_setting.returncode == 0, made_setting.stderr
    assert chosen.is_dir()

    made = run(["backup", "now", "--json"], env)
    assert made.returncode == 0, made.stderr
    path = json.loads(made.stdout)["file"]
    assert path.startswith(str(chosen) + "/")
    listed = run(["backup", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == f"backup folder: {chosen}"
    assert [b["file"] for b in json.loads(run(["backup", "list", "--json"], env).stdout)] \
        == [path]

    (tmp_path / "usb").rename(tmp_path / "unplugged")
    failed = run(["backup", "now"], env)
    assert failed.returncode != 0 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1
    assert f"the backup folder {chosen} is not there" in failed.stderr
    assert not chosen.exists()
    gone = json.loads(run(["backup", "list", "--json"], env).stdout)
    assert [(b["file"], b["status"]) for b in gone] == [(path, "unreachable")]


def test_a_scripted_backup_that_fails_raises_the_alert_and_the_next_good_one_resolves_it(
        data_dir, tmp_path):
    env = base_env(data_dir)
    drive = tmp_path / "usb"
    assert run(["settings", "set", "backup.folder", str(drive / "wg")], env).returncode == 0
    drive.rename(tmp_path / "unplugged")
    assert run(["backup", "now"], env).returncode == 1
    assert run(["backup", "now"], env).returncode == 1
    alerts = json.loads(run(["alerts", "list", "--json"], env).stdout)
    assert [(a["rule"], a["severity"], a["count"]) for a in alerts] == [
        ("backup_failed", "critical", 2)]
    assert "is not there" in alerts[0]["message"]

    (tmp_path / "unplugged").rename(drive)                 # plugged back in
    assert run(["backup", "now"], env).returncode == 0
    assert json.loads(run(["alerts", "list", "--json"], env).stdout) == []
    history = json.loads(run(["alerts", "list", "--all", "--json"], env).stdout)
    assert history[0]["rule"] == "backup_failed" and history[0]["resolved_at"]
