"""The command-line face of the app: every job the GUI can do, scriptable.

Each command is ``handler(args, env) -> int``. Listing commands take
``--json``. A failure prints one clear line on stderr and exits non-zero.
No Qt is imported here.
"""

from __future__ import annotations

import argparse
import enum
import getpass
import importlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from wg_desktop.config import BY_KEY, REGISTRY, FeatureOff, Settings, SettingError, Source
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.context import AppContext, SetupError, build_context
from wg_desktop.logging_setup import configure_logging
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import redact
from wg_desktop.security.keys import DatabaseKeyMissing
from wg_desktop.security.secrets import KeychainUnavailable, WrongPassphrase
from wg_desktop.services.audit import AuditQuery
from wg_desktop.services.settings_service import SettingsService, effective
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.services.connection import ConnectError
from wg_desktop.demo.embedded import start_demo_portal
from wg_desktop.services.hubspot_setup import (HubSpotServices, build_hubspot_services,
                                               ensure_demo_portal_connected, wants_demo)
from wg_desktop.services.loopback import LoopbackError
from wg_desktop.services.oauth_flow import RedirectError
from wg_desktop.instance import InstanceBusy
from wg_desktop.hubspot.errors import ReauthenticationNeeded
from wg_desktop.services.portals import PortalNotFound
from wg_desktop.services.sync import PortalNeedsReconnect, SyncBusy, SyncFailed, SyncPaused
from wg_desktop.services.workflows import ImportRejected, WorkflowNotFound
from wg_desktop.store.versions import VersionCorrupt
from wg_desktop.store.db import StoreError, explain_database_error

# Modules that add their own subcommands: each has ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("wg_desktop.cli_portals", "wg_desktop.cli_workflows",
                                     "wg_desktop.cli_search", "wg_desktop.demo.command",
                                     "wg_desktop.cli_diff", "wg_desktop.cli_doctor",
                                     "wg_desktop.cli_backup", "wg_desktop.cli_restore",
                                     "wg_desktop.cli_health", "wg_desktop.cli_report",
                                     "wg_desktop.cli_changes")

# Errors whose message is written for the user: shown as one line, no traceback.
USER_ERRORS = (SettingError, SetupError, KeychainUnavailable, WrongPassphrase,
               DatabaseKeyMissing, StoreError, ConnectError, LoopbackError, RedirectError,
               SyncPaused, SyncFailed, WorkflowNotFound, ImportRejected, VersionCorrupt,
               PortalNotFound, InstanceBusy, OSError)


class ExitCode(enum.IntEnum):
    """What a command's exit status means (listed in --help)."""
    DONE = 0
    FAILED = 1
    USAGE = 2             # a wrong argument, setting or name
    NEEDS_RECONNECT = 3   # HubSpot needs the user to connect (or authorise) again
    BUSY = 4              # another process is doing the same job on this data folder


EXIT_CODES_HELP = ("exit status: 0 done, 1 failed, 2 usage (a wrong argument, setting or "
                   "name), 3 a portal needs a reconnect or authorisation, 4 busy (another "
                   "process is doing the same job on this data folder). Errors are one line "
                   "on stderr; -v shows warnings and details, and the log file has "
                   "everything.")


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit status a failure maps to (the cause chain counts: a sync that
    stopped because HubSpot refused the token needs a reconnect)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (PortalNeedsReconnect, ReauthenticationNeeded)):
            return ExitCode.NEEDS_RECONNECT
        if isinstance(seen, (SyncBusy, InstanceBusy)):
            return ExitCode.BUSY
        seen = seen.__cause__
    if isinstance(exc, (CliError, SettingError, PortalNotFound)):
        return ExitCode.USAGE
    return ExitCode.FAILED


def error_line(exc: BaseException, registry=None) -> str:
    """The one line a failure prints on stderr."""
    if isinstance(exc, HubSpotError):
        text = f"{exc.user_message} ({exc})"
    else:
        text = str(exc)
    return "wg-desktop: error: " + redact(" ".join(text.split()), registry)


# Commands that work with the api_access feature off: reading the settings (to see
# why the rest is refused) and where the files are. 'settings set' is not among
# them, so the command line cannot switch itself back on; the window can. doctor
# stays too: it is the way out when the store is too damaged for the window to
# open, which is where api_access would be switched back on.
ALWAYS_AVAILABLE = frozenset({"paths", "settings get", "settings list", "doctor"})

# The feature flags each command needs. Browsing stored versions is what
# version_history names; capturing them ('sync') goes on while it is off, so the
# history is whole when it is turned back on (background sync follows realtime_sync).
COMMAND_FEATURES: dict[str, tuple[str, ...]] = {
    "history": ("version_history",),
    "show": ("version_history",),
    "describe": ("version_history",),
    "search": ("version_history",),
    "restore": ("version_history",),
    "changes": ("version_history",),
    "diff": ("version_history", "workflow_comparison"),
    "report": ("advanced_analytics",),
}


def _command_name(args: argparse.Namespace) -> str:
    if args.command == "settings":
        return f"settings {args.settings_command}"
    return args.command or ""


def check_features(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse a command whose feature flag is off, with one line naming the flag."""
    name = _command_name(args)
    if name in ALWAYS_AVAILABLE:
        return
    if not settings.feature_enabled("api_access"):
        if settings.overridden_by_env("features.api_access"):
            how = f"unset {BY_KEY['features.api_access'].env_var} to turn it on"
        else:
            how = ("turn it on in the app's Settings dialog (Features): the command line "
                   "cannot turn it back on, only 'settings get', 'settings list', 'paths' "
                   "and 'doctor' work")
        raise FeatureOff("api_access", how)
    for feature in COMMAND_FEATURES.get(name, ()):
        settings.require_feature(feature)


class CliError(RuntimeError):
    """A command failed in a way the user can act on."""


class CliEnv:
    """What a command handler gets: the paths, the environment, and the
    application context, opened on first use."""

    def __init__(self, paths: Paths, environ: Mapping[str, str], verbosity: int = 0) -> None:
        self.paths = paths
        self.environ = dict(environ)
        self.verbosity = verbosity
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
            # stderr is for the one line a failure prints; warnings (retries,
            # rate-limit waits) and details go to the log file unless -v.
            stderr_level = {0: logging.CRITICAL + 1, 1: logging.WARNING}.get(
                self.verbosity, logging.DEBUG)
            configure_logging(self.paths, self._context.settings, self._context.registry,
                              stderr_level=stderr_level)
            notice = self._context.store.notice
            if notice:
                print(f"wg-desktop: note: {notice}", file=sys.stderr)
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


def cmd_audit_verify(args: argparse.Namespace, env: CliEnv) -> int:
    """Walk the audit hash chain: 0 when intact, 1 naming the first broken entry."""
    report = env.context().audit.verify()
    if args.json:
        emit_json(report.as_dict())
    elif report.intact:
        print(report.summary())
    else:
        print(f"wg-desktop: {report.summary()}", file=sys.stderr)
    return 0 if report.intact else 1


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
                    "workflows. Without a command, opens the app window.",
        epilog=EXIT_CODES_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {APP_VERSION}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="show warnings on stderr (-vv: everything, and tracebacks)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="keep every file of this instance in DIR (also WG_DATA_DIR)")
    parser.add_argument("--minimized", action="store_true",
                        help="open the app in the tray, without its window (as the login "
                             "entry does); window only, not with a COMMAND")
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

    audit = sub.add_parser("audit", help="the audit log: list, export or verify")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    for action_parser in (_add(audit_sub, "list", cmd_audit_list, "list audit entries",
                               json_flag=True),
                          _add(audit_sub, "export", cmd_audit_export,
                               "export as CSV (with each entry's hash and the trail's head)")):
        action_parser.add_argument("--search", help="text to look for")
        action_parser.add_argument("--action", help="only this action (e.g. sync)")
    audit_sub.choices["list"].add_argument("--outcome", help="success, failure, ...")
    audit_sub.choices["list"].add_argument("--limit", type=int, default=200)
    audit_sub.choices["export"].add_argument("--out", required=True, help="CSV file to write")
    _add(audit_sub, "verify", cmd_audit_verify, "check the audit trail's hash chain: exit 0 "
         "when intact, 1 naming the first edited, inserted or deleted entry", json_flag=True)

    retention = sub.add_parser("retention", help="apply the retention policies")
    retention_sub = retention.add_subparsers(dest="retention_command", metavar="ACTION",
                                             required=True)
    _add(retention_sub, "run", cmd_retention_run, "delete data older than its retention period",
         json_flag=True)

    jobs = _add(sub, "jobs", cmd_jobs, "recent background job runs", json_flag=True)
    jobs.add_argument("--limit", type=int, default=50)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    _accept_verbose_anywhere(sub)
    return parser


def _accept_verbose_anywhere(sub: argparse._SubParsersAction) -> None:
    """'wg-desktop sync -v' works like 'wg-desktop -v sync'. SUPPRESS keeps a
    subcommand from resetting the count given before it."""
    for parser in set(sub.choices.values()):
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            for inner in nested:
                _accept_verbose_anywhere(inner)
        elif "--verbose" not in parser._option_string_actions:
            parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                help="show warnings on stderr (-vv: everything)")


def run_command(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    verbosity = getattr(args, "verbose", 0)
    env = CliEnv(Paths.resolve(args.data_dir, environ), environ, verbosity)
    try:
        if _command_name(args) not in ALWAYS_AVAILABLE:
            # The settings file alone, not the context: no keychain or store is
            # opened for a command that is about to be refused.
            check_features(args, Settings.load(env.paths.settings_file, env.environ))
        return args.handler(args, env)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.DONE
    except (HubSpotError, CliError) + USER_ERRORS as exc:
        registry = env._context.registry if env._context is not None else None
        print(error_line(exc, registry), file=sys.stderr)
        if verbosity >= 2:
            print(redact("".join(traceback.format_exception(exc)), registry), file=sys.stderr)
        return exit_code_for(exc)
    except Exception as exc:
        explained = (explain_database_error(exc, env._context.store)
                     if env._context is not None else None)
        if explained is not None:
            # A damaged or read-only store: one line that says what to do.
            print(error_line(explained, env._context.registry), file=sys.stderr)
            return exit_code_for(explained)
        # Unexpected: the (redacted) traceback goes to the log, one line to the user.
        registry = env._context.registry if env._context is not None else None
        detail = redact("".join(traceback.format_exception(exc)), registry)
        logging.getLogger("wg_desktop.cli").error("unexpected error\n%s", detail)
        print(f"wg-desktop: error: unexpected {type(exc).__name__}: "
              f"{redact(' '.join(str(exc).split()), registry)} (details in "
              f"{env.paths.log_file})", file=sys.stderr)
        if verbosity >= 2:
            print(detail, file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("wg-desktop: interrupted", file=sys.stderr)
        return 130
    finally:
        env.close()
