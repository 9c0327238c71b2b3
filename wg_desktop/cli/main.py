"""The ``wg-desktop`` command line: the parser (every command group registers
its own subcommands) and :func:`run_command`, which turns any failure into
one line on stderr and an exit status (see ``cli/base.py``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from typing import Mapping

from wg_desktop.config import Settings
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import redact
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.store.db import explain_database_error
from wg_desktop.cli.base import (ALWAYS_AVAILABLE, EXIT_CODES_HELP, USER_ERRORS, CliEnv,
                                 CliError, ExitCode, check_features, command_name, error_line,
                                 exit_code_for)

# The command groups, each a module with ``register(subparsers)`` adding its commands.
COMMAND_MODULES: tuple[str, ...] = (
    "wg_desktop.cli.settings", "wg_desktop.cli.audit", "wg_desktop.cli.portals",
    "wg_desktop.cli.workflows", "wg_desktop.cli.search", "wg_desktop.demo.command",
    "wg_desktop.cli.diff", "wg_desktop.cli.doctor", "wg_desktop.cli.backup",
    "wg_desktop.cli.restore", "wg_desktop.cli.health", "wg_desktop.cli.report",
    "wg_desktop.cli.changes")


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
        if command_name(args) not in ALWAYS_AVAILABLE:
            # The settings file alone, not the context: no keychain or store is
            # opened for a command that is about to be refused.
            check_features(args, Settings.load(env.paths.settings_file, env.environ))
        code = args.handler(args, env)
        env.say_notice()
        return code
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
