"""A damaged database and a read-only data folder, as a user meets them from
the command line: one line that says what to do, never a traceback, and
whatever can be read stays readable."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.cli import connected_to_demo, run
from tests.unit.test_doctor import flip


@pytest.fixture
def synced_env(data_dir):
    """A data folder holding 60 synced workflows (the store closed cleanly)."""
    with connected_to_demo(data_dir, seed=51, workflows=60) as (_, env):
        assert run(["sync"], env).returncode == 0
    return env


def _clean_failure_or_success(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "doctor" in lines[0], lines[0]


@pytest.mark.parametrize("where", [0.35, 0.6, 0.85])
def test_reading_commands_on_a_damaged_store_fail_in_one_line(synced_env, data_dir,
                                                               tmp_path, where):
    database = data_dir / "workflowguard.db"
    pages = database.stat().st_size // 4096
    flip(database, max(2, int(pages * where)))
    results = [run(["workflows", "--json"], synced_env),
               run(["export", "--out", str(tmp_path / "out.zip")], synced_env)]
    listed = results[0]
    if listed.returncode == 0:
        for row in json.loads(listed.stdout)[:20]:
            results.append(run(["show", row["flow_id"]], synced_env))
    for result in results:
        _clean_failure_or_success(result)
    assert any(r.returncode != 0 for r in results) or run(
        ["doctor"], synced_env).returncode == 1


@pytest.fixture
def read_only_folder(synced_env, data_dir):
    """The data folder made unwritable even for root (chattr +i: immutable)."""
    paths = [p for p in data_dir.rglob("*")] + [data_dir]
    made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {made.stderr.decode().strip()}")
    try:
        yield synced_env
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_folder_is_browsed_read_only(read_only_folder, data_dir, tmp_path):
    env = read_only_folder
    listed = run(["workflows", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 60
    assert "opened read-only" in listed.stderr
    history = run(["history", rows[0]["flow_id"]], env)
    assert history.returncode == 0 and "1 version" in history.stdout
    shown = run(["show", rows[0]["flow_id"]], env)
    assert shown.returncode == 0 and json.loads(shown.stdout)
    exported = run(["export", "--out", str(tmp_path / "copy.zip")], env)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "copy.zip").stat().st_size > 0
    # Writing is refused in one line, not with a traceback.
    sync = run(["sync"], env)
    assert sync.returncode == 1
    errors = sync.stderr.strip().splitlines()
    assert len(errors) == 1 and "read-only" in errors[0] and "Traceback" not in sync.stderr
