"""Recovering a real store from a backup, as a user does, one process per command:
``doctor`` on a damaged store names the newest backup that verifies and the
exact restore command, which then works; and a restore killed at any moment
leaves a store that opens with its data intact."""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import ROOT, base_env, run
from tests.unit.test_doctor import AUDIT_ROWS, WORKFLOWS, build_store, damage_an_audit_page
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal, Workflow

KEY_HEX = "cd" * 32   # used as is by the CLI, so the test opens the same store


@pytest.fixture
def env(data_dir) -> dict[str, str]:
    return {**base_env(data_dir), "HUBSPOT_TOKEN_ENCRYPTION_KEY": KEY_HEX}


@pytest.fixture
def database(data_dir) -> Path:
    path = data_dir / "workflowguard.db"
    build_store(path, bytes.fromhex(KEY_HEX))
    return path


def _backup(env) -> Path:
    made = run(["backup", "now", "--json"], env)
    assert made.returncode == 0, made.stderr
    return Path(json.loads(made.stdout)["file"])


def _as_argv(command: str) -> list[str]:
    """The printed ``wg-desktop ...`` command, run through this interpreter."""
    words = shlex.split(command)
    assert words[0] == "wg-desktop"
    return words[1:]


def _workflows(path: Path) -> int:
    store = open_store(path, bytes.fromhex(KEY_HEX))
    try:
        assert not store.read_only and not store.damage
        with store.session():
            return Workflow.select().count()
    finally:
        store.close()


def _add_workflow(path: Path, flow_id: str) -> None:
    store = open_store(path, bytes.fromhex(KEY_HEX))
    try:
        with store.writing():
            Workflow.create(portal=Portal.get(Portal.hub_id == 77), flow_id=flow_id,
                            name=flow_id)
    finally:
        store.close()


def test_doctor_offers_the_newest_verified_backup_and_its_command_restores(env, database):
    good = _backup(env)
    tampered = _backup(env)          # newer, but it no longer verifies
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    damage_an_audit_page(database, bytes.fromhex(KEY_HEX))

    checked = run(["doctor"], env)
    assert checked.returncode == 1
    assert f"Newest verified backup: {good}" in checked.stdout
    command = checked.stdout.strip().splitlines()[-1].strip()
    assert command.startswith("wg-desktop --data-dir ")
    assert command.endswith(f"backup restore {shlex.quote(str(good))} --yes")
    as_json = json.loads(run(["doctor", "--json"], env).stdout)
    assert as_json["restore"]["file"] == str(good) and as_json["restore"]["command"] == command

    restored = run(_as_argv(command), env)
    assert restored.returncode == 0, restored.stderr
    healthy = json.loads(run(["doctor", "--json"], env).stdout)
    assert healthy["report"]["ok"] and healthy["restore"] is None
    rows = {t["name"]: t["rows"] for t in healthy["report"]["tables"]}
    assert rows["workflow"] == WORKFLOWS and rows["audit_event"] >= AUDIT_ROWS
    kept = list(database.parent.glob("workflowguard.db.before-restore-*"))
    assert len([k for k in kept if not k.name.endswith("-wal")]) == 1


def test_doctor_without_a_usable_backup_says_so(env, database):
    damage_an_audit_page(database, bytes.fromhex(KEY_HEX))
    checked = run(["doctor"], env)
    assert checked.returncode == 1
    assert "No backup in " in checked.stdout and "so none can be restored" in checked.stdout


def test_restore_killed_at_random_points_leaves_a_store_that_opens(env, database, data_dir):
    backup = _backup(env)
    argv = [sys.executable, "-m", "wg_desktop", "backup", "restore", str(backup), "--yes"]
    # How long a whole restore takes here, so the kills land across all of it.
    _add_workflow(database, "probe")
    started = time.perf_counter()
    full = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    duration = time.perf_counter() - started
    assert full.returncode == 0, full.stderr
    assert _workflows(database) == WORKFLOWS

    rng = random.Random(1234)
    outcomes = []
    for attempt in range(6):
        _add_workflow(database, f"after-backup-{attempt}")
        before = _workflows(database)
        aside = set(data_dir.glob("workflowguard.db.before-restore-*"))
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.0) * duration)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        now = _workflows(database)               # opens, read-write, undamaged
        if now == before:
            outcomes.append("kept")
        else:
            # Killed after the switch: the backup is live, the previous store kept aside.
            assert now == WORKFLOWS
            new = [p for p in set(data_dir.glob("workflowguard.db.before-restore-*")) - aside
                   if not p.name.endswith("-wal")]
            assert len(new) == 1 and _workflows(new[0]) == before
            outcomes.append("switched")
    print("kill outcomes:", outcomes)
    # A later restore clears what the killed ones left, plain-text staging included.
    assert subprocess.run(argv, env=env, cwd=ROOT, capture_output=True,
                          timeout=120).returncode == 0
    assert not list(data_dir.glob(".tmp-restore-*"))
    assert _workflows(database) == WORKFLOWS
