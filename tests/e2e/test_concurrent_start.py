"""First starts at the same moment, as users cause them: several processes,
one shared keychain (each call atomic, sequences not, with IPC latency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.file_keyring import DELAY_ENV, FILE_ENV

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_keychain_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    env.update(PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
               **{FILE_ENV: str(tmp_path / "keychain.json"), DELAY_ENV: "0.05"})
    return env


def _start(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wg_desktop", "--data-dir", str(folder),
                             "settings", "list"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _reopens(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wg_desktop", "--data-dir", str(folder),
                           "jobs"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_four_new_folders_started_at_once_all_reopen(tmp_path, shared_keychain_env):
    folders = [tmp_path / f"folder{i}" for i in range(4)]
    starts = [_start(folder, shared_keychain_env) for folder in folders]
    for process in starts:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    for folder in folders:
        result = _reopens(folder, shared_keychain_env)
        assert result.returncode == 0, f"{folder.name}: {result.stderr}"


def test_three_first_starts_on_one_folder_leave_one_store_that_reopens(
        tmp_path, shared_keychain_env):
    folder = tmp_path / "shared"
    starts = [_start(folder, shared_keychain_env) for _ in range(3)]
    for process in starts:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    result = _reopens(folder, shared_keychain_env)
    assert result.returncode == 0, result.stderr
    from tests.support.file_keyring import entries
    keys = [user for (_, user), _ in entries(tmp_path / "keychain.json").items()
            if user.endswith("database-key")]
    assert len(keys) == 1          # one key for the one folder, created once
