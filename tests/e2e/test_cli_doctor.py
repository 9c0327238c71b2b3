"""``wg-desktop doctor`` as a user runs it, on a real store damaged on disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_doctor import AUDIT_ROWS, WORKFLOWS, build_store, damage_an_audit_page
from wg_desktop.store.db import open_store

ROOT = Path(__file__).resolve().parents[2]
# 64 hex characters: the key is used as is, so the test and the CLI share it.
KEY_HEX = "ab" * 32


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wg_desktop", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def env(data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    return {**env, "WG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
            "WG_SECURITY_SECRET_BACKEND": "file", "WG_SECRETS_PASSPHRASE": "doctor test",
            "HUBSPOT_TOKEN_ENCRYPTION_KEY": KEY_HEX}


@pytest.fixture
def database(data_dir) -> Path:
    path = data_dir / "workflowguard.db"
    build_store(path, bytes.fromhex(KEY_HEX))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_healthy_store_exits_0(env, database):
    result = run(["doctor", "--json"], env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    assert report["ok"] and report["damaged_pages"] == []
    rows = {t["name"]: t["rows"] for t in report["tables"]}
    assert rows["audit_event"] == AUDIT_ROWS and rows["workflow"] == WORKFLOWS


def test_damage_is_reported_in_one_line_and_exits_1(env, database):
    key = bytes.fromhex(KEY_HEX)
    page = damage_an_audit_page(database, key)
    before = _sha(database)
    result = run(["doctor"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(database) in lines[0] and "--repair" in lines[0] and "restore a backup" in lines[0]
    assert f"1 unreadable: {page + 1}" in result.stdout
    assert _sha(database) == before
    assert not list(database.parent.glob("*.salvaged-*"))


def test_repair_salvages_into_a_new_file_and_leaves_the_old_one(env, database):
    key = bytes.fromhex(KEY_HEX)
    damage_an_audit_page(database, key)
    before = _sha(database)
    result = run(["doctor", "--repair", "--json"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert not out["report"]["ok"]
    repair = out["repair"]
    tables = {t["name"]: t for t in repair["tables"]}
    audit = tables["audit_event"]
    assert audit["recovered"] + audit["lost"] == AUDIT_ROWS and audit["lost"] > 0
    assert repair["check_ok"]
    assert "rename" in out["switch"] and "restore a backup" in out["switch"]
    assert _sha(database) == before

    target = Path(repair["target"])
    assert target.parent == database.parent
    store = open_store(target, key, check="full")
    try:
        assert not store.read_only and not store.damage
    finally:
        store.close()
