"""What every command shares: exit statuses, one-line errors, the feature
gates, the environment a handler gets (:class:`CliEnv`) and JSON output.

Each command is ``handler(args, env) -> int``. Listing commands take
``--json``. A failure prints one clear line on stderr and exits non-zero.
No Qt is imported here.
"""

from __future__ import annotations

import argparse
import enum
import getpass
import json
import logging
import sys
from typing import Any, Callable, Mapping

from wg_desktop.config import BY_KEY, FeatureOff, Settings, SettingError
from wg_desktop.context import AppContext, SetupError, build_context
from wg_desktop.logging_setup import configure_logging
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import redact
from wg_desktop.security.keys import DatabaseKeyMissing
from wg_desktop.security.secrets import KeychainUnavailable, WrongPassphrase
from wg_desktop.services.backups import BackupBusy, StoreInUse
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.services.connection import ConnectError
from wg_desktop.demo.embedded import start_demo_portal
from wg_desktop.services.demo_choice import wants_demo
from wg_desktop.services.hubspot_setup import (HubSpotServices, build_hubspot_services,
                                               ensure_demo_portal_connected)
from wg_desktop.services.loopback import LoopbackError
from wg_desktop.services.oauth_flow import RedirectError
from wg_desktop.instance import InstanceBusy
from wg_desktop.hubspot.errors import ReauthenticationNeeded
from wg_desktop.services.portals import PortalNotFound
from wg_desktop.services.sync import PortalNeedsReconnect, SyncBusy, SyncFailed, SyncPaused
from wg_desktop.services.workflows import ImportRejected, WorkflowNotFound
from wg_desktop.services.weekly_report import WeeklyReportFailed
from wg_desktop.store.versions import VersionCorrupt
from wg_desktop.store.db import StoreError


# Errors whose message is written for the user: shown as one line, no traceback.
USER_ERRORS = (SettingError, SetupError, KeychainUnavailable, WrongPassphrase,
               DatabaseKeyMissing, StoreError, ConnectError, LoopbackError, RedirectError,
               SyncPaused, SyncFailed, WorkflowNotFound, ImportRejected, VersionCorrupt,
               PortalNotFound, InstanceBusy, WeeklyReportFailed, OSError)


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
        if isinstance(seen, (SyncBusy, InstanceBusy, BackupBusy, StoreInUse)):
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


def command_name(args: argparse.Namespace) -> str:
    if args.command == "settings":
        return f"settings {args.settings_command}"
    return args.command or ""


def check_features(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse a command whose feature flag is off, with one line naming the flag."""
    name = command_name(args)
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
        return self._context

    def say_notice(self) -> None:
        """After a command that did its job: the store's notice (opened
        read-only, and why), so the user knows what the output came from. A
        command that failed prints its one error line instead."""
        notice = self._context.store.notice if self._context is not None else None
        if notice:
            print(f"wg-desktop: note: {notice}", file=sys.stderr)

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


# -- registering a command -----------------------------------------------------


def add_command(sub: argparse._SubParsersAction, name: str, handler: Callable[..., int],
                help: str, *, json_flag: bool = False) -> argparse.ArgumentParser:
    """A subcommand whose help is also its description, with ``--json`` when
    it lists data."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser
