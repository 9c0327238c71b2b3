"""``wg-desktop backup now|list|verify|restore|export``: encrypted local backups.

A portable backup's passphrase comes from ``WG_BACKUP_PASSPHRASE`` or the
first line of stdin (a prompt on a terminal); it is never stored. ``restore``
prints what it will do and does nothing without ``--yes``.

:func:`opened_backup` and :func:`find_in_backup` are shared with ``backup
open`` and ``backup restore --workflow`` (cli/backup_open.py,
cli/backup_workflow.py), which read a backup beside the live store.
"""

from __future__ import annotations

import argparse
import getpass
import re
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wg_desktop.cli.base import CliEnv, CliError, emit_json
from wg_desktop.instance import holding_window_lock
from wg_desktop.services.audit import AuditAction
from wg_desktop.services.backup_browse import OpenedBackup, is_portable, open_backup
from wg_desktop.services.backup_format import read_header
from wg_desktop.services.backups import restore_backup
from wg_desktop.services.workflows import WorkflowNotFound
from wg_desktop.store.models import Outcome

PASSPHRASE_ENV = "WG_BACKUP_PASSPHRASE"


def backup_passphrase(env: CliEnv, *, confirm: bool = False) -> str:
    value = env.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if sys.stdin.isatty():
        value = getpass.getpass("Backup passphrase: ")
        if confirm and getpass.getpass("Repeat the passphrase: ") != value:
            raise CliError("the passphrases differ; nothing was written")
        return value
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError(f"a passphrase is needed: set {PASSPHRASE_ENV} or give it on stdin")
    return value


def _passphrase_for(env: CliEnv, path: Path) -> str | None:
    """The passphrase ``path`` needs (asked only for a portable backup). A
    missing or foreign file fails here, as the backup services word it."""
    return backup_passphrase(env) if is_portable(path) else None


@contextmanager
def opened_backup(env: CliEnv, path: Path) -> Iterator[OpenedBackup]:
    """``path`` opened read-only beside the live store (its passphrase asked
    when it is portable); closed and its private copy removed afterwards."""
    passphrase = _passphrase_for(env, path)
    ctx = env.context()
    with open_backup(ctx.paths, path, secrets=ctx.secrets, passphrase=passphrase) as opened:
        yield opened


# The live store's lookup points at 'wg-desktop workflows'; in a backup, the
# workflows to choose from are the backup's.
_LIVE_LISTING_HINT = re.compile(r"\s*\(see 'wg-desktop workflows'\)")


def find_in_backup(opened: OpenedBackup, ref: str, hub_id: int | None) -> int:
    """The backup's workflow ``ref`` (flow id or name); one that is not there
    (or is ambiguous) names the backup and how to list its workflows."""
    from wg_desktop.services.history_merge import find_backup_workflow   # not for every command

    try:
        return find_backup_workflow(opened.store, ref, hub_id)
    except WorkflowNotFound as exc:
        reason = _LIVE_LISTING_HINT.sub("", str(exc)).rstrip(". ")
        listing = shlex.quote(str(opened.source))
        raise WorkflowNotFound(f"{reason} (in the backup {opened.source}; see "
                               f"'wg-desktop backup open {listing}').") from None


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def cmd_backup_now(args: argparse.Namespace, env: CliEnv) -> int:
    from wg_desktop.services.alerts import build_alert_service

    ctx = env.context()
    # A scripted backup that fails is heard like the window's: the "backup
    # failed" alert goes out on the e-mail and webhook channels.
    if not ctx.store.read_only:
        build_alert_service(ctx.settings, ctx.store, ctx.audit).subscribe(backups=ctx.backups)
    info = ctx.backups.backup_now()
    if args.json:
        emit_json(info.as_dict())
    else:
        print(f"backed up to {info.path} ({_size(info.size)}, verified, "
              f"{info.duration_s:.2f} s)")
    return 0


def cmd_backup_list(args: argparse.Namespace, env: CliEnv) -> int:
    service = env.context().backups
    backups = service.list()
    if args.json:
        emit_json([b.as_dict() for b in backups])
        return 0
    print(f"backup folder: {service.folder}")
    if not backups:
        print("no backups yet ('wg-desktop backup now' makes one)")
    for b in backups:       # one from an earlier folder setting shows its whole path
        shown = b.path.name if b.path.parent == service.folder else b.path
        print(f"{b.created_at:%Y-%m-%d %H:%M:%S}Z  {_size(b.size):>10}  {b.status:<11}  "
              f"schema {b.schema_version}  {shown}")
    return 0


def cmd_backup_verify(args: argparse.Namespace, env: CliEnv) -> int:
    path = Path(args.file)
    passphrase = _passphrase_for(env, path)
    result = env.context().backups.verify(path, passphrase)
    kind = "portable backup" if result.portable else "backup"
    print(f"{path}: {kind} of {result.created_at:%Y-%m-%d %H:%M:%S}Z is intact "
          f"(schema {result.schema_version}, {_size(result.plain_size)} database, "
          f"integrity check ok)")
    return 0


def cmd_backup_export(args: argparse.Namespace, env: CliEnv) -> int:
    passphrase = backup_passphrase(env, confirm=True)
    result = env.context().backups.export_portable(Path(args.out), passphrase)
    print(f"exported a portable backup to {result.path} (verified; keep the passphrase: "
          "it is not stored anywhere)")
    return 0


# What a restore refused beside a running window tells the user to do.
QUIT_WINDOW_FIRST = ("the whole store cannot be replaced under it. Restore from the window's "
                     "Backups page, or Quit it (File > Quit, or Quit in the tray menu) and run "
                     "this command again. Nothing was changed.")


def cmd_backup_restore(args: argparse.Namespace, env: CliEnv) -> int:
    if args.workflow:                       # one workflow's history, not the whole store
        from wg_desktop.cli.backup_workflow import cmd_backup_restore_workflow
        return cmd_backup_restore_workflow(args, env)
    if args.portal:
        # Never a whole-store restore that quietly ignored what was asked.
        raise CliError("--portal needs --workflow (whose history to restore from that "
                       "portal); without them the whole store is replaced. Nothing was "
                       "restored.")
    path = Path(args.file)
    portable = is_portable(path)
    # Held to the end: no window can open the folder while its store is replaced.
    with holding_window_lock(env.paths, QUIT_WINDOW_FIRST):
        return _restore_whole_store(args, env, path, portable)


def _restore_whole_store(args: argparse.Namespace, env: CliEnv, path: Path,
                         portable: bool) -> int:
    ctx = env.context()
    paths, key, secrets = ctx.paths, ctx.store.key, ctx.secrets
    with open(path, "rb") as handle:
        header = read_header(handle)
    print(f"This replaces the store {paths.database} with the backup {path} of "
          f"{header.metadata.created_at:%Y-%m-%d %H:%M:%S}Z (schema "
          f"{header.metadata.schema_version}). The backup is verified first; the current "
          f"store is kept as {paths.database.name}.before-restore-<time>.")
    if not args.yes:
        raise CliError("nothing was restored: add --yes to go ahead")
    passphrase = backup_passphrase(env) if portable else None
    # This command's own connection must go: the restore refuses a store that
    # any connection (the window, another command, or this one) holds open.
    env.close()
    try:
        result = restore_backup(paths, key, path, secrets=secrets, passphrase=passphrase)
    except Exception as exc:
        _audit_restore(env, Outcome.FAILURE, {"file": str(path), "error": str(exc)})
        raise
    _audit_restore(env, Outcome.SUCCESS, {
        "file": str(path), "schema": result.restored_schema,
        "kept_aside": str(result.kept_aside) if result.kept_aside else None})
    kept = f"; the previous store is kept as {result.kept_aside}" if result.kept_aside else ""
    print(f"restored from {path} in {result.duration_s:.1f} s{kept}")
    return 0


def _audit_restore(env: CliEnv, outcome: Outcome, details: dict) -> None:
    # Recorded in the store as it is after the attempt: the restored one on
    # success, the untouched current one on failure.
    try:
        ctx = env.context()
    except Exception:
        return            # the failure itself is what the user must see
    ctx.audit.record(AuditAction.BACKUP_RESTORE, outcome=outcome, details=details)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backup", help="encrypted local backups: now, list, verify, "
                                           "restore, export a portable copy, open")
    actions = parser.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    now = actions.add_parser("now", help="back up the store now (verified before it counts)")
    now.add_argument("--json", action="store_true", help="machine-readable output")
    now.set_defaults(handler=cmd_backup_now)
    listing = actions.add_parser("list", help="the backups in the backups folder, newest first")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_backup_list)
    verify = actions.add_parser("verify", help="decrypt a backup and check its database")
    verify.add_argument("file")
    verify.set_defaults(handler=cmd_backup_verify)
    restore = actions.add_parser(
        "restore", help="replace the whole store with a backup (needs --yes)",
        description="Replace the whole store with a backup: verified first, the current "
                    "store kept aside, switched in one step. Refused (exit 4) while the window "
                    f"or another command has the store open. A portable backup's passphrase "
                    f"comes from {PASSPHRASE_ENV} or stdin.")
    restore.add_argument("file")
    restore.add_argument("--yes", action="store_true", help="go ahead")
    restore.add_argument("--workflow", metavar="WORKFLOW",
                         help="restore only this workflow's history (flow id or name) into "
                              "the current store, keeping its own versions")
    restore.add_argument("--portal", metavar="P", help="with --workflow: the portal "
                                                       "(hub id or name) in the backup")
    restore.set_defaults(handler=cmd_backup_restore)
    export = actions.add_parser(
        "export", help="write a passphrase-protected portable backup",
        description=f"Write a portable backup protected by a passphrase ({PASSPHRASE_ENV} "
                    "or stdin), restorable on another machine. The passphrase is not stored.")
    export.add_argument("--out", required=True, help="file (or folder) to write")
    export.set_defaults(handler=cmd_backup_export)
    from wg_desktop.cli.backup_open import register_open

    register_open(actions)
