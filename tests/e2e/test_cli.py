"""The command line as a user runs it: a real subprocess per command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wg_desktop", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


@pytest.fixture
def base_env(data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    env["WG_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
def file_env(base_env) -> dict[str, str]:
    """The opt-in passphrase file instead of a keychain."""
    return {**base_env, "WG_SECURITY_SECRET_BACKEND": "file",
            "WG_SECRETS_PASSPHRASE": "correct horse battery"}


def test_help_lists_commands(base_env):
    result = run(["--help"], base_env)
    assert result.returncode == 0
    for command in ("paths", "settings", "audit", "retention", "jobs"):
        assert command in result.stdout


def test_no_keychain_gives_one_clear_line_and_writes_no_secret(base_env, data_dir):
    # This machine has no D-Bus secret service: keyring picks its fail backend.
    env = {**base_env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run(["settings", "list"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No usable keychain" in lines[0]
    assert "WG_SECURITY_SECRET_BACKEND=file" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (data_dir / "workflowguard.db").exists()
    assert not (data_dir / "config" / "secrets.enc").exists()


def test_keyring_backend_chosen_by_environment_is_honoured(base_env):
    env = {**base_env, "PYTHON_KEYRING_BACKEND": "tests.support.memory_keyring.MemoryKeyring"}
    result = run(["settings", "list", "--json"], env)
    assert result.returncode == 0, result.stderr
    keys = {row["key"] for row in json.loads(result.stdout)}
    assert "hubspot.client_id" in keys


def test_settings_set_get_invalid_and_secret(file_env, data_dir):
    assert run(["settings", "set", "ratelimit.per_hour", "500"], file_env).returncode == 0
    got = run(["settings", "get", "ratelimit.per_hour"], file_env)
    assert got.stdout.strip() == "500"

    bad = run(["settings", "set", "ratelimit.per_hour", "lots"], file_env)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("wg-desktop: error: Setting 'ratelimit.per_hour': "
                                  "expected a whole number, got 'lots'")

    argv_secret = run(["settings", "set", "hubspot.client_secret", "s3cr3t-value"], file_env)
    assert argv_secret.returncode == 2 and "never taken from the command line" in argv_secret.stderr
    piped = run(["settings", "set", "hubspot.client_secret", "-"], file_env,
                stdin="s3cr3t-value-from-stdin\n")
    assert piped.returncode == 0, piped.stderr
    assert run(["settings", "get", "hubspot.client_secret"], file_env).stdout.strip() == "(set)"
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"s3cr3t-value-from-stdin" not in path.read_bytes(), path


def test_wrong_passphrase_is_one_line(file_env):
    assert run(["paths"], file_env).returncode == 0
    assert run(["audit", "list"], file_env).returncode == 0
    wrong = run(["audit", "list"], {**file_env, "WG_SECRETS_PASSPHRASE": "nope"})
    assert wrong.returncode == 1
    assert wrong.stderr.strip().startswith("wg-desktop: error: Wrong passphrase")


def test_invalid_environment_setting_is_named(file_env):
    result = run(["audit", "list"], {**file_env, "HUBSPOT_LOG_LEVEL": "loud"})
    assert result.returncode == 2
    assert "Setting 'logging.level' (from environment)" in result.stderr
    assert "Traceback" not in result.stderr


def test_audit_list_json_and_export(file_env, tmp_path):
    run(["settings", "set", "retention.audit_days", "400"], file_env)
    listed = run(["audit", "list", "--json"], file_env)
    entries = json.loads(listed.stdout)
    assert entries[0]["action"] == "settings_change"
    assert "retention.audit_days" in entries[0]["details"]
    out = tmp_path / "audit.csv"
    exported = run(["audit", "export", "--out", str(out)], file_env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["action"] == "settings_change"
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_retention_run_and_jobs_json(file_env):
    result = run(["retention", "run", "--json"], file_env)
    assert result.returncode == 0, result.stderr
    assert "audit log" in json.loads(result.stdout)
    jobs = run(["jobs", "--json"], file_env)
    assert jobs.returncode == 0 and json.loads(jobs.stdout) == []


def test_data_dir_option_keeps_every_file_in_one_folder(file_env, tmp_path):
    folder = tmp_path / "elsewhere"
    env = {k: v for k, v in file_env.items() if k != "WG_DATA_DIR"}
    result = run(["--data-dir", str(folder), "paths", "--json"], env)
    paths = json.loads(result.stdout)
    assert all(value.startswith(str(folder)) for value in paths.values())


def test_api_access_feature_off_blocks_scripting_and_the_cli_cannot_undo_it(file_env):
    # More cases in tests/e2e/test_feature_flags.py; this one runs the real process.
    assert run(["settings", "set", "features.api_access", "false"], file_env).returncode == 0
    blocked = run(["audit", "list"], file_env)
    assert blocked.returncode == 2 and "API access" in blocked.stderr
    undo = run(["settings", "set", "features.api_access", "true"], file_env)
    assert undo.returncode == 2 and "cannot turn it back on" in undo.stderr
    assert run(["audit", "list"], file_env).returncode == 2
    assert run(["settings", "get", "features.api_access"], file_env).stdout.strip() == "false"


def test_database_key_override_is_environment_only(file_env):
    refused = run(["settings", "set", "security.token_encryption_key", "-"], file_env,
                  stdin="a" * 64 + "\n")
    assert refused.returncode == 2
    assert "HUBSPOT_TOKEN_ENCRYPTION_KEY" in refused.stderr
