"""``wg-desktop backup open FILE``: browse a backup read-only from the command line.

The backup (own or portable) is opened beside the store as the window's
backup browser opens it (services/backup_browse.py: decrypted, checked and
migrated into a private copy that is removed afterwards), then read with the
same commands that read the live store — so the output has the same shape:

    backup open FILE [--json]                         its workflows ('workflows')
    backup open FILE --workflow W [--json]            one history ('history')
    backup open FILE --workflow W --version V         one version ('show')

The live store is never written; nothing here is audited as a change.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from wg_desktop.cli.backup import PASSPHRASE_ENV, find_in_backup, opened_backup
from wg_desktop.cli.base import CliEnv, CliError
from wg_desktop.cli.workflows import cmd_history, cmd_show, cmd_workflows
from wg_desktop.services.portals import find_portal


class _BackupEnv:
    """The command's environment with the opened backup in place of the store:
    the read commands ask ``env.context()`` for a store and an audit log."""

    def __init__(self, env: CliEnv, store: Any) -> None:
        self._context = SimpleNamespace(store=store, audit=env.context().audit)

    def context(self) -> Any:
        return self._context


def cmd_backup_open(args: argparse.Namespace, env: CliEnv) -> int:
    if args.version is not None and args.workflow is None:
        raise CliError("--version needs --workflow (which workflow's version to show)")
    with opened_backup(env, Path(args.file)) as opened:
        # Every read below runs with the models bound to the backup (this thread only).
        with opened.store.session():
            hub_id = find_portal(args.portal).hub_id if args.portal else None
            if args.workflow is not None:
                # Looked up first, so a workflow not in the backup is named as such.
                find_in_backup(opened, args.workflow, hub_id)
            if not args.json and args.workflow is None:
                # First line of the listing, as 'backup list' names its folder;
                # stderr stays for the one line a failure prints.
                print(f"{opened.title}: {opened.counts().text()}")
            latest = str(args.version).lower() == "latest"
            read = argparse.Namespace(json=args.json, portal=hub_id, workflow=args.workflow,
                                      version=None if latest else args.version)
            backup_env = _BackupEnv(env, opened.store)
            if args.workflow is None:
                return cmd_workflows(read, backup_env)  # type: ignore[arg-type]
            if args.version is None:
                return cmd_history(read, backup_env)  # type: ignore[arg-type]
            return cmd_show(read, backup_env)  # type: ignore[arg-type]


def register_open(actions: argparse._SubParsersAction) -> None:
    opener = actions.add_parser(
        "open", help="browse a backup read-only: its workflows, a history, a version",
        description="Open a backup (own or portable) read-only and print what it holds, "
                    "in the shape of 'workflows', 'history' and 'show'. The current store "
                    f"is not touched. A portable backup's passphrase comes from "
                    f"{PASSPHRASE_ENV} or stdin.")
    opener.add_argument("file")
    opener.add_argument("--portal", metavar="P", help="only this portal (hub id or name)")
    opener.add_argument("--workflow", metavar="WORKFLOW",
                        help="show this workflow's history (flow id or name)")
    opener.add_argument("--version", metavar="V",
                        help="with --workflow: print this version (number; latest if 'latest')")
    opener.add_argument("--json", action="store_true", help="machine-readable output")
    opener.set_defaults(handler=cmd_backup_open)
