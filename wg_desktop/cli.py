"""The command-line face of the app: every job the GUI can do, scriptable.

Each command is ``handler(args, env) -> int``. Listing commands take
``--json``. A failure prints one clear line on stderr and exits non-zero.
No Qt is imported here.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from wg_desktop.config import BY_KEY, REGISTRY, SettingError, Source
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.context import AppContext, SetupError, build_context
from wg_desktop.logging_setup import configure_logging
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import redact
from wg_desktop.security.keys import DatabaseKeyMissing
from wg_desktop.security.secrets import KeychainUnavailable, WrongPassphrase
from wg_desktop.services.audit import AuditQuery
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.services.connection import ConnectError
from wg_desktop.services.hubspot_setup import (HubSpotServices, build_hubspot_services,
                                               ensure_demo_portal_connected, start_demo_portal,
                                               wants_demo)
from wg_desktop.services.loopback import LoopbackError
from wg_desktop.services.oauth_flow import RedirectError
from wg_desktop.services.sync import SyncPaused
from wg_desktop.services.workflows import ImportRejected, WorkflowNotFound
from wg_desktop.store.versions import VersionCorrupt
from wg_desktop.store.db import StoreError

# Modules that add their own subcommands: each has ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("wg_desktop.cli_portals", "wg_desktop.cli_workflows",
                                     "wg_desktop.demo.command")

# Errors whose message is written for the user: shown as one line, no traceback.
USER_ERRORS = (SettingError, SetupError, KeychainUnavailable, WrongPassphrase,
               DatabaseKeyMissing, StoreError, ConnectError, LoopbackError, RedirectError,
               SyncPaused, WorkflowNotFound, ImportRejected, VersionCorrupt, OSError)


# Commands that work even with the api_access feature off: they are how it is turned on.
ALWAYS_AVAILABLE = frozenset({"settings", "paths", "demo-portal"})


class CliError(RuntimeError):
    """A command failed in a way the user can act on."""


class CliEnv:
    """What a command handler gets: the paths, the environment, and the
    application context, opened on first use."""

    def __init__(self, paths: Paths, environ: Mapping[str, str]) -> None:
        self.paths = paths
        self.environ = dict(environ)
        self._context: AppContext | None = None
        self._hubspot: HubSpotServices | None = None

    def hubspot(self) -> HubSpotServices:
        """The HubSpot side, opened on first use: the embedded demo portal when
        no HubSpot app is configured (its portal connected automatically)."""
        if self._hubspot is None:
            ctx = self.context()
            demo = start_demo_portal(ctx.registry) if wants_demo(ctx.settings) else None
            self._hubspot = build_hubspot_services(ctx.settings, ctx.store, ctx.audit,
                                                   ctx.secrets, registry=ctx.registry,
                                                   demo=demo)
            if demo is not None:
                ensure_demo_portal_connected(self._hubspot)
        return self._hubspot

    def context(self) -> AppContext:
        if self._context is None:
            self._context = build_context(self.paths, self.environ, prompt=_prompt_passphrase)
            configure_logging(self.paths, self._context.settings, self._context.registry)
        return self._context

    def close(self) -> None:
        if self._hubspot is not None:
            self._hubspot.close()
            self._hubspot = None
        if self._context is not None:
            self._context.close()
            self._context = None


def _prompt_passphrase(creating: bool) -> str | None:
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Passphrase for the secrets file: ")
    if creating and getpass.getpass("Repeat the passphrase: ") != first:
        raise SetupError("The passphrases differ; nothing was created.")
    return first


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# -- foundation commands --------------------------------------------------------

def cmd_paths(args: argparse.Namespace, env: CliEnv) -> int:
    info = {"data": env.paths.data_dir, "database": env.paths.database,
            "config": env.paths.settings_file, "logs": env.paths.log_file,
            "backups": env.paths.backups_dir, "cache": env.paths.cache_dir}
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
            value = "(set)" if source is not Source.DEFAULT else "(not set)"
        else:
            value = settings.get(setting.key)
        rows.append({"key": setting.key, "value": list(value) if isinstance(value, tuple)
                     else value, "source": str(source), "env": setting.env_var,
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
        value = settings.get(setting.key)
        print(json.dumps(list(value) if isinstance(value, tuple) else value))
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


def cmd_audit_list(args: argparse.Namespace, env: CliEnv) -> int:
    ctx = env.context()
    entries = ctx.audit.entries(AuditQuery(text=args.search or "", action=args.action,
                                           outcome=args.outcome, limit=args.limit))
    if args.json:
        emit_json([{"id": e.id, "timestamp": e.timestamp.isoformat(), "action": e.action,
                    "portal": e.portal_hub_id, "outcome": e.outcome, "details": e.details}
                   for e in entries])
    else:
        for e in entries:
            portal = "" if e.portal_hub_id is None else str(e.portal_hub_id)
            print(f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.action:<16} {e.outcome:<8} "
                  f"{portal:<10} {e.details}")
    return 0


def cmd_audit_export(args: argparse.Namespace, env: CliEnv) -> int:
    count = env.context().audit.export_csv(Path(args.out), AuditQuery(
        text=args.search or "", action=args.action))
    print(f"wrote {count} entries to {args.out}")
    return 0


def cmd_retention_run(args: argparse.Namespace, env: CliEnv) -> int:
    ctx = env.context()
    removed = ctx.retention.run()
    if args.json:
        emit_json(removed)
    else:
        print(ctx.retention.summary(removed))
    return 0


def cmd_jobs(args: argparse.Namespace, env: CliEnv) -> int:
    runs = env.context().job_runs.recent(args.limit)
    rows = [{"job": r.job_name, "started_at": r.started_at.isoformat(),
             "ended_at": r.ended_at.isoformat() if r.ended_at else None,
             "outcome": str(r.outcome), "message": r.message} for r in runs]
    if args.json:
        emit_json(rows)
    else:
        for row in rows:
            print(f"{row['started_at'][:19]}  {row['job']:<20} {row['outcome']:<10} "
                  f"{row['message']}")
    return 0


# -- parser ---------------------------------------------------------------------

def _add(sub, name: str, handler: Callable[..., int], help: str, *, json_flag: bool = False):
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wg-desktop",
        description=f"{APP_DISPLAY_NAME}: versioned, encrypted history of your HubSpot "
                    "workflows. Without a command, opens the app window.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {APP_VERSION}")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="keep every file of this instance in DIR (also WG_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add(sub, "paths", cmd_paths, "show where data, settings and logs live", json_flag=True)

    settings = sub.add_parser("settings", help="list, read and change settings")
    settings_sub = settings.add_subparsers(dest="settings_command", metavar="ACTION",
                                           required=True)
    _add(settings_sub, "list", cmd_settings_list, "every setting with its value and source",
         json_flag=True)
    _add(settings_sub, "get", cmd_settings_get, "print one setting").add_argument("key")
    set_parser = _add(settings_sub, "set", cmd_settings_set,
                      "change a setting ('-' reads a secret from stdin into the keychain)")
    set_parser.add_argument("key")
    set_parser.add_argument("value")

    audit = sub.add_parser("audit", help="the audit log: list or export")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    for action_parser in (_add(audit_sub, "list", cmd_audit_list, "list audit entries",
                               json_flag=True),
                          _add(audit_sub, "export", cmd_audit_export, "export as CSV")):
        action_parser.add_argument("--search", help="text to look for")
        action_parser.add_argument("--action", help="only this action (e.g. sync)")
    audit_sub.choices["list"].add_argument("--outcome", help="success, failure, ...")
    audit_sub.choices["list"].add_argument("--limit", type=int, default=200)
    audit_sub.choices["export"].add_argument("--out", required=True, help="CSV file to write")

    retention = sub.add_parser("retention", help="apply the retention policies")
    retention_sub = retention.add_subparsers(dest="retention_command", metavar="ACTION",
                                             required=True)
    _add(retention_sub, "run", cmd_retention_run, "delete data older than its retention period",
         json_flag=True)

    jobs = _add(sub, "jobs", cmd_jobs, "recent background job runs", json_flag=True)
    jobs.add_argument("--limit", type=int, default=50)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def run_command(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    env = CliEnv(Paths.resolve(args.data_dir, environ), environ)
    try:
        if args.command not in ALWAYS_AVAILABLE and not env.context().settings.feature_enabled(
                "api_access"):
            raise CliError("API access (command line and scripting) is turned off; turn it on "
                           "in the app's settings or with 'wg-desktop settings set "
                           "features.api_access true'.")
        return args.handler(args, env)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except HubSpotError as exc:
        print(f"wg-desktop: error: {exc.user_message} ({exc})", file=sys.stderr)
        return 1
    except USER_ERRORS + (CliError,) as exc:
        print(f"wg-desktop: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (CliError, SettingError)) else 1
    except Exception as exc:
        # Unexpected: the (redacted) traceback goes to the log, one line to the user.
        registry = env._context.registry if env._context is not None else None
        logging.getLogger("wg_desktop.cli").error(
            "unexpected error\n%s", redact("".join(traceback.format_exception(exc)), registry))
        print(f"wg-desktop: error: unexpected {type(exc).__name__}: "
              f"{redact(str(exc), registry)} (details in {env.paths.log_file})",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wg-desktop: interrupted", file=sys.stderr)
        return 130
    finally:
        env.close()
