"""Commands that write coordinate with a running window through the same locks:
a whole-store restore refuses while a window has the folder open, one backup
runs at a time (window or command line), and a portal is not disconnected
under a running sync. Real subprocesses: the window offscreen, the CLI as
users run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.cli import ROOT, base_env, connected_to_demo, run
from tests.support.context import make_context
from wg_desktop.instance import sync_lock_path, window_lock_path
from wg_desktop.portable import FileLock, read_holder_pid
from wg_desktop.services.backups import BackupService

pytestmark = pytest.mark.skipif(os.name == "nt", reason="stops the window with SIGINT")


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _backup_now(env: dict[str, str]) -> Path:
    made = run(["backup", "now", "--json"], env)
    assert made.returncode == 0, made.stderr
    return Path(json.loads(made.stdout)["file"])


def test_restore_is_refused_while_a_window_has_the_folder_open(data_dir):
    env = base_env(data_dir)
    backup = _backup_now(env)
    database = data_dir / "workflowguard.db"
    assert database.is_file()
    window = subprocess.Popen([sys.executable, "-m", "wg_desktop"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: read_holder_pid(window_lock_path(data_dir)) == window.pid
                  or window.poll() is not None, "the window to claim its data folder")
        assert window.poll() is None, window.communicate()[1]
        refused = run(["backup", "restore", str(backup), "--yes"], env)
        assert refused.returncode == 4, refused.stderr
        line = _one_line(refused)
        assert f"open in a window (pid {window.pid})" in line
        assert "Quit it" in line and "Backups page" in line and "Nothing was changed" in line
        # Nothing was touched: no store set aside, no staged copy, the store in place.
        assert not list(data_dir.glob("*before-restore*"))
        assert not list(data_dir.glob(".tmp-restore-*"))
        assert database.is_file()
    finally:
        window.send_signal(signal.SIGINT)           # File > Quit, from the terminal
        _, err = window.communicate(timeout=60)
    assert window.returncode == 0, err
    # Once the window has quit, the same command goes ahead.
    restored = run(["backup", "restore", str(backup), "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    assert list(data_dir.glob("*before-restore*"))


# A real `wg-desktop backup now` whose backup waits (holding the backup lock)
# until the file named by WG_TEST_RELEASE exists; it creates WG_TEST_HOLDING
# once it holds the lock.
_SLOW_BACKUP = """
import os, sys, time
from pathlib import Path
from wg_desktop.services import backups
make = backups.BackupService._make
def slow_make(self, *args):
    Path(os.environ["WG_TEST_HOLDING"]).touch()
    while not Path(os.environ["WG_TEST_RELEASE"]).exists():
        time.sleep(0.05)
    return make(self, *args)
backups.BackupService._make = slow_make
from wg_desktop.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_backups_at_once_one_runs_the_other_says_busy(data_dir, tmp_path):
    env = base_env(data_dir)
    assert run(["paths"], env).returncode == 0
    holding, release = tmp_path / "holding", tmp_path / "release"
    first = subprocess.Popen([sys.executable, "-c", _SLOW_BACKUP, "backup", "now"],
                             env={**env, "WG_TEST_HOLDING": str(holding),
                                  "WG_TEST_RELEASE": str(release)},
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: holding.exists() or first.poll() is not None,
                  "the first backup to start")
        second = run(["backup", "now"], env)
    finally:
        release.touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "backed up to" in out
    assert second.returncode == 4, second.stderr
    assert f"a backup is already running (pid {first.pid})" in _one_line(second)
    listed = json.loads(run(["backup", "list", "--json"], env).stdout)
    assert len(listed) == 1


def test_a_command_line_backup_waits_for_nobody_while_the_windows_backup_runs(
        data_dir, monkeypatch):
    """The window's scheduled backup (its job function, on a worker thread of
    this process) holds the lock: the command line says busy and names us."""
    from wg_desktop.ui.app import backup_job

    env = base_env(data_dir)
    ctx = make_context(data_dir, env)
    holding, release = threading.Event(), threading.Event()
    make = BackupService._make

    def slow_make(self, *args):
        holding.set()
        assert release.wait(60)
        return make(self, *args)

    monkeypatch.setattr(BackupService, "_make", slow_make)
    outcome: list[object] = []
    job = threading.Thread(target=lambda: outcome.append(
        backup_job(ctx)(cancel=None, progress=None)))
    job.start()
    try:
        assert holding.wait(30)
        busy = run(["backup", "now"], env)
    finally:
        release.set()
        job.join(60)
        ctx.close()
    assert busy.returncode == 4, busy.stderr
    assert f"a backup is already running (pid {os.getpid()})" in _one_line(busy)
    assert outcome and str(outcome[0]).startswith("Backed up to")


def test_disconnect_waits_for_no_sync_it_refuses_while_one_runs(data_dir):
    with connected_to_demo(data_dir, seed=47, workflows=3) as (demo, env):
        hub_id = demo.portal_ids[0]
        # What the window's sync job holds while it syncs the portal.
        syncing = FileLock(sync_lock_path(data_dir, hub_id)).acquire(timeout=0)
        try:
            refused = run(["disconnect", str(hub_id)], env)
        finally:
            syncing.release()
        assert refused.returncode == 4, refused.stderr
        line = _one_line(refused)
        assert f"(pid {os.getpid()})" in line and "nothing was changed" in line
        portals = json.loads(run(["portals", "--json"], env).stdout)
        assert [(p["hub_id"], p["status"]) for p in portals] == [(hub_id, "connected")]
        done = run(["disconnect", str(hub_id)], env)
        assert done.returncode == 0, done.stderr
        portals = json.loads(run(["portals", "--json"], env).stdout)
        assert not [p for p in portals if p["status"] == "connected"]
