"""``paths`` and ``settings list|get|set``: where things live and what is set."""

from __future__ import annotations

import argparse
import json
import sys

from wg_desktop.config import BY_KEY, REGISTRY, Settings, Source
from wg_desktop.services.backups import backup_folder
from wg_desktop.services.settings_service import SettingsService, effective
from wg_desktop.cli.base import CliEnv, CliError, add_command, emit_json


def cmd_paths(args: argparse.Namespace, env: CliEnv) -> int:
    # The settings file alone (no keychain, no store): the backup folder may be chosen.
    backups = backup_folder(env.paths, Settings.load(env.paths.settings_file, env.environ))
    info = {"data": env.paths.data_dir, "database": env.paths.database,
            "config": env.paths.settings_file, "logs": env.paths.log_file,
            "backups": backups, "cache": env.paths.cache_dir}
    if args.json:
        emit_json({k: str(v) for k, v in info.items()})
    else:
        for name, path in info.items():
            print(f"{name:<9} {path}")
    return 0


def cmd_settings_list(args: argparse.Namespace, env: CliEnv) -> int:
    settings = env.context().settings
    rows = []
    for setting in REGISTRY:
        source = settings.source(setting.key)
        if setting.is_secret:
            value, shown_source = ("(set)" if source is not Source.DEFAULT else "(not set)",
                                   str(source))
        else:
            # What is in force, not only what is stored (the demo portal overrules
            # hubspot.mock_mode when nothing else is configured).
            state = effective(settings, setting.key)
            value, shown_source = state.value, state.source
        rows.append({"key": setting.key, "value": list(value) if isinstance(value, tuple)
                     else value, "source": shown_source, "env": setting.env_var,
                     "type": str(setting.kind), "description": setting.description})
    if args.json:
        emit_json(rows)
    else:
        for row in rows:
            print(f"{row['key']:<40} {json.dumps(row['value']):<30} [{row['source']}]")
    return 0


def _setting(key: str):
    setting = BY_KEY.get(key)
    if setting is None:
        raise CliError(f"unknown setting '{key}' (see 'wg-desktop settings list')")
    return setting


def cmd_settings_get(args: argparse.Namespace, env: CliEnv) -> int:
    setting = _setting(args.key)
    settings = env.context().settings
    if setting.is_secret:
        print("(set)" if settings.source(setting.key) is not Source.DEFAULT else "(not set)")
    else:
        state = effective(settings, setting.key)
        value = state.value
        print(json.dumps(list(value) if isinstance(value, tuple) else value))
        if state.source.startswith("effective"):
            print(f"note: {state.source}", file=sys.stderr)
    return 0


def cmd_settings_set(args: argparse.Namespace, env: CliEnv) -> int:
    setting = _setting(args.key)
    ctx = env.context()
    if setting.is_secret:
        if args.value != "-":
            raise CliError("secrets are never taken from the command line; "
                           f"pipe it in: ... settings set {setting.key} - < file")
        value = sys.stdin.readline().rstrip("\n")
        if not value:
            raise CliError("no secret on standard input")
    else:
        value = args.value
    SettingsService(ctx.settings, ctx.secrets, ctx.audit).apply({setting.key: value})
    if ctx.settings.overridden_by_env(setting.key):
        print(f"note: {setting.env_var} is set and overrides this value", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "paths", cmd_paths, "show where data, settings and logs live",
                json_flag=True)
    settings = sub.add_parser("settings", help="list, read and change settings")
    settings_sub = settings.add_subparsers(dest="settings_command", metavar="ACTION",
                                           required=True)
    add_command(settings_sub, "list", cmd_settings_list,
                "every setting with its value and source", json_flag=True)
    add_command(settings_sub, "get", cmd_settings_get, "print one setting").add_argument("key")
    set_parser = add_command(settings_sub, "set", cmd_settings_set,
                             "change a setting ('-' reads a secret from stdin into the keychain)")
    set_parser.add_argument("key")
    set_parser.add_argument("value")
