"""Feature flags gate what they name, on the command line as a user runs it
(in-process: run_command is the same entry point __main__ uses)."""

from __future__ import annotations

import json
import os

import pytest

from wg_desktop.cli.base import ALWAYS_AVAILABLE, COMMAND_FEATURES
from wg_desktop.cli.main import build_parser, run_command
from wg_desktop.config import Settings
from wg_desktop.paths import Paths


@pytest.fixture
def environ(data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    return {**env, "WG_DATA_DIR": str(data_dir), "WG_SECURITY_SECRET_BACKEND": "file",
            "WG_SECRETS_PASSPHRASE": "correct horse battery"}


def cli(environ, capsys, *argv: str) -> tuple[int, str, str]:
    code = run_command(build_parser().parse_args(list(argv)), environ)
    out, err = capsys.readouterr()
    return code, out, err


def switch(environ, **flags: bool) -> None:
    """Change flags the way the window's settings dialog does: through the
    settings file, not through the command line."""
    Settings.load(Paths.resolve(None, environ).ensure().settings_file, environ).updated(
        {f"features.{name}": value for name, value in flags.items()})


HISTORY_COMMANDS = [
    ["history", "123"], ["show", "123"], ["describe", "123"], ["search", "lead"],
    ["restore", "123", "1"], ["changes"], ["diff", "123"],
]


@pytest.mark.parametrize("argv", HISTORY_COMMANDS, ids=[a[0] for a in HISTORY_COMMANDS])
def test_version_history_off_refuses_history_browsing_in_one_line(environ, capsys, argv):
    switch(environ, version_history=False)
    code, out, err = cli(environ, capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "features.version_history" in lines[0]
    assert "settings set features.version_history true" in lines[0]


def test_version_history_off_leaves_other_commands_alone(environ, capsys):
    switch(environ, version_history=False)
    code, out, _ = cli(environ, capsys, "workflows", "--json")
    assert code == 0 and json.loads(out) == []


def test_history_browsing_works_with_the_flag_on(environ, capsys):
    code, out, err = cli(environ, capsys, "changes", "--json")
    assert code == 0, err
    assert "turned off" not in err


def test_workflow_comparison_off_refuses_diff_only(environ, capsys):
    switch(environ, workflow_comparison=False)
    code, _, err = cli(environ, capsys, "diff", "123")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "features.workflow_comparison" in err
    # history itself is not comparison: it gets past the gate (to an unknown workflow).
    code, _, err = cli(environ, capsys, "history", "123")
    assert "turned off" not in err


def test_advanced_analytics_off_refuses_reports(environ, capsys, tmp_path):
    switch(environ, advanced_analytics=False)
    code, _, err = cli(environ, capsys, "report", "--out", str(tmp_path / "r.html"))
    assert code == 2 and "features.advanced_analytics" in err


def test_every_gated_command_exists():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(COMMAND_FEATURES) <= set(commands)
    assert {"paths", "settings get", "settings list"} <= ALWAYS_AVAILABLE


def test_api_access_off_blocks_the_cli_and_the_cli_cannot_undo_it(environ, capsys):
    assert cli(environ, capsys, "settings", "set", "features.api_access", "false")[0] == 0
    for argv in (["audit", "list"], ["jobs"], ["workflows"], ["portals"],
                 ["settings", "set", "features.api_access", "true"]):
        code, _, err = cli(environ, capsys, *argv)
        assert code == 2, argv
        assert "features.api_access" in err and "Settings dialog" in err, argv
        assert "command line cannot turn it back on" in err
    # Still refused: the attempt above changed nothing.
    assert not Settings.load(Paths.resolve(None, environ).settings_file,
                             environ).feature_enabled("api_access")
    # Reading the settings and the paths still works, to see why.
    code, out, _ = cli(environ, capsys, "settings", "get", "features.api_access")
    assert code == 0 and out.strip() == "false"
    assert cli(environ, capsys, "settings", "list", "--json")[0] == 0
    assert cli(environ, capsys, "paths")[0] == 0
    # The window's way (the settings file, through the same service) turns it back on.
    switch(environ, api_access=True)
    assert cli(environ, capsys, "audit", "list")[0] == 0


def test_api_access_off_from_the_environment_says_which_variable(environ, capsys):
    environ = {**environ, "WG_FEATURES_API_ACCESS": "false"}
    code, _, err = cli(environ, capsys, "audit", "list")
    assert code == 2 and "unset WG_FEATURES_API_ACCESS" in err


def test_settings_list_shows_the_demo_portal_in_force(environ, capsys):
    code, out, _ = cli(environ, capsys, "settings", "list", "--json")
    rows = {row["key"]: row for row in json.loads(out)}
    assert rows["hubspot.mock_mode"]["value"] is True
    assert rows["hubspot.mock_mode"]["source"] == "effective: demo portal in use"
    code, out, err = cli(environ, capsys, "settings", "get", "hubspot.mock_mode")
    assert out.strip() == "true" and "demo portal in use" in err
    configured = {**environ, "HUBSPOT_CLIENT_ID": "my-app"}
    _, out, _ = cli(configured, capsys, "settings", "list", "--json")
    row = next(r for r in json.loads(out) if r["key"] == "hubspot.mock_mode")
    assert (row["value"], row["source"]) == (False, "default")
