"""``wg-desktop doctor [--quick] [--repair] [--json]``: check the database for
damage and, with --repair, save every readable row into a new file beside it.

The damaged file is never changed, and the switch to the salvaged file is left
to the user: replacing a database another running instance has open would lose
that instance's writes, and the old file may still be wanted for a restore.
When the store is damaged it also names the newest backup that verifies now
and the exact command that restores it (a restore brings back everything up to
that backup; a salvage keeps what is readable now, including later changes).

Exit 0: healthy, or repaired. Exit 1: damage found (without --repair), or the
repair failed.
"""

from __future__ import annotations

import argparse
import sys

from wg_desktop.cli.base import CliEnv, CliError, emit_json
from wg_desktop.config import Settings
from wg_desktop.context import open_secret_store
from wg_desktop.security.keys import database_key
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import SecretStore
from wg_desktop.services.backups import VerifyResult, newest_restorable, restore_command
from wg_desktop.store import doctor
from wg_desktop.store.db import StoreError, damaged_message

SHOWN_PROBLEMS = 10


def _key(env: CliEnv) -> tuple[bytes, SecretStore]:
    """The database key, and the keychain that also holds the backup key."""
    path = env.paths.database
    if not path.exists():
        raise CliError(f"there is no database at {path}")
    try:
        ctx = env.context()
        return ctx.store.key, ctx.secrets
    except StoreError:
        # The store would not open at all; the keys are all the doctor needs.
        settings = Settings.load(env.paths.settings_file, env.environ)
        secrets = open_secret_store(env.paths, settings, SecretRegistry(), env.environ)
        return database_key(settings, secrets, path), secrets


def _restore_offer(backup: VerifyResult | None, env: CliEnv) -> str:
    if backup is None:
        return f"No backup in {env.paths.backups_dir} verifies, so none can be restored."
    # The doctor's own connection is gone by the time the user runs this.
    return (f"Newest verified backup: {backup.path} of "
            f"{backup.created_at:%Y-%m-%d %H:%M:%S}Z (it decrypts and passes its "
            f"integrity check). Changes made after it are not in it. To restore it (quit the "
            f"window first; the damaged store is kept aside as "
            f"{env.paths.database.name}.before-restore-<time>):\n"
            f"  {restore_command(backup.path, env.paths)}")


def _print_report(report: doctor.IntegrityReport) -> None:
    version = "unreadable" if report.schema_version is None else str(report.schema_version)
    print(f"database  {report.path} (schema {version})")
    check = "full integrity check" if report.mode == "full" else "quick check"
    print(f"check     {check}: {'ok' if report.ok else 'DAMAGED'}")
    if report.damaged_pages:
        print(f"pages     {len(report.damaged_pages)} unreadable: "
              + ", ".join(str(p) for p in report.damaged_pages))
    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"  {problem}")
    if len(report.problems) > SHOWN_PROBLEMS:
        print(f"  ... and {len(report.problems) - SHOWN_PROBLEMS} more")
    print("rows per table:")
    for table in report.tables:
        rows = str(table.rows) if table.rows is not None else f"unreadable ({table.error})"
        print(f"  {table.name:<28} {rows}")


def _print_salvage(result: doctor.SalvageReport) -> None:
    print(f"salvaged into {result.target}")
    for table in result.tables:
        if table.lost is None:
            lost = "an unknown number lost"
        else:
            lost = f"{table.lost} lost" + ("" if table.lost_exact else " at most")
        print(f"  {table.name:<28} {table.recovered} recovered, {lost}")
    if result.orphans:
        print(f"  {result.orphans} recovered rows belong to a row that was lost")
    for name in result.emptied_indexes:
        print(f"  the index {name} was damaged and is empty in the new file")
    print(f"new file  integrity check: {'ok' if result.check_ok else result.check_problem}")


def _switch_hint(result: doctor.SalvageReport) -> str:
    db = result.source
    return (f"To use it: quit WorkflowGuard (window and commands), then in {db.parent} "
            f"rename {db.name} to {db.name}.damaged and {result.target.name} to {db.name}. "
            f"{db.name} was not changed; or restore a backup instead.")


def cmd_doctor(args: argparse.Namespace, env: CliEnv) -> int:
    key, secrets = _key(env)
    path = env.paths.database
    report = doctor.check_file(path, key, full=not args.quick)
    backup = None if report.ok else newest_restorable(env.paths, secrets)
    result: doctor.SalvageReport | None = None
    error: str | None = None
    if args.repair and not report.ok:
        try:
            result = doctor.salvage(path, key)
        except doctor.SalvageFailed as exc:
            error = str(exc)
        else:
            if not result.check_ok:
                error = (f"The salvaged file {result.target} does not pass its own check "
                         f"({result.check_problem}); restore a backup.")
    if args.json:
        emit_json({"report": report.to_dict(),
                   "repair": result.to_dict() if result else None,
                   "switch": _switch_hint(result) if result and not error else None,
                   "restore": None if report.ok else {
                       "file": str(backup.path) if backup else None,
                       "created_at": backup.created_at.isoformat() if backup else None,
                       "command": restore_command(backup.path, env.paths) if backup else None},
                   "error": error})
    else:
        _print_report(report)
        if result is not None:
            _print_salvage(result)
            if not error:
                print(_switch_hint(result))
        if not report.ok:
            print(_restore_offer(backup, env))
    if error:
        print(f"wg-desktop: error: {error}", file=sys.stderr)
        return 1
    if not report.ok and result is None:
        print(f"wg-desktop: error: {damaged_message(path, 'see the report above')}",
              file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor", help="check the database for damage; --repair saves what is readable",
        description="Check the database for damage (a full integrity check unless --quick). "
                    "With --repair, copy every readable row into a new file beside it; "
                    "the damaged file is never changed.")
    parser.add_argument("--quick", action="store_true", help="a quick check instead of a full one")
    parser.add_argument("--repair", action="store_true",
                        help="salvage every readable row into a new file beside the old one")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=cmd_doctor)
