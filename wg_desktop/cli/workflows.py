"""CLI commands for workflows: sync, list, history, show, export, import.
Everything but sync reads the local store and works offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wg_desktop.cli.base import CliEnv, CliError, ExitCode, emit_json, error_line, exit_code_for
from wg_desktop.services.portals import find_portal
from wg_desktop.services.schedule import CancelToken
from wg_desktop.services.sync import SyncFailed, SyncPaused, SyncProgress, describe_changes
from wg_desktop.services.workflows import WorkflowQueries


def _queries(env: CliEnv) -> WorkflowQueries:
    ctx = env.context()
    return WorkflowQueries(ctx.store, ctx.audit)


def cmd_sync(args: argparse.Namespace, env: CliEnv) -> int:
    hub = env.hubspot()
    # Every portal that is not disconnected: one that needs a reconnect is a
    # failure to report, never silently left out.
    portals = ([hub.connection.portal(args.portal)] if args.portal
               else hub.connection.portals())
    if not portals:
        raise CliError("no portal is connected: connect one with 'wg-desktop connect'")
    results, failures = [], []
    for portal in portals:
        def progress(p: SyncProgress, name: str = portal.name) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{name}: {p.phase} — listed {p.listed}, changed {p.changed}, "
                      f"stored {p.stored}   ", end="", file=sys.stderr, flush=True)
        try:
            result = hub.sync.sync(portal.hub_id, cancel=CancelToken(), progress=progress,
                                   interactive=True)
        except (SyncPaused, SyncFailed) as exc:
            if not args.json and sys.stderr.isatty():
                print(file=sys.stderr)
            failures.append((portal, exc))
            print(error_line(exc, env.context().registry), file=sys.stderr)
            continue
        results.append(result)
        if not args.json:
            if sys.stderr.isatty():
                print(file=sys.stderr)
            changes = describe_changes(result.changes)
            print(f"{portal.name}: {result.summary()}" + (f" ({changes})" if changes else ""))
            for skipped in result.skipped:
                print(f"  skipped {skipped}")
    if args.json:
        emit_json([{"hub_id": r.hub_id, "ok": True, "listed": r.listed, "changed": r.changed,
                    "stored": r.stored, "deleted": r.deleted, "skipped": r.skipped,
                    "untracked": r.untracked,
                    "changes": [{"kind": str(c.kind), "flow_id": c.flow_id, "name": c.name}
                                for c in r.changes]} for r in results]
                  + [{"hub_id": p.hub_id, "ok": False, "error": str(exc),
                      "exit_code": int(exit_code_for(exc))} for p, exc in failures])
    # The most specific reason wins: busy, then reconnect, then plain failure.
    return max((exit_code_for(exc) for _, exc in failures), default=ExitCode.DONE)


def cmd_workflows(args: argparse.Namespace, env: CliEnv) -> int:
    queries = _queries(env)
    if args.portal is not None:
        find_portal(args.portal)          # an unknown portal is an error, not an empty list
    rows = queries.list(args.portal)
    if args.json:
        emit_json([{"hub_id": r.hub_id, "flow_id": r.flow_id, "name": r.name,
                    "object_type_id": r.object_type_id, "enabled": r.is_enabled,
                    "versions": r.versions, "deleted": r.deleted, "source": r.source,
                    "last_changed": r.last_changed.isoformat() if r.last_changed else None,
                    "last_synced": r.last_synced.isoformat() if r.last_synced else None}
                   for r in rows])
    else:
        for r in rows:
            state = "deleted" if r.deleted else ("on" if r.is_enabled else "off")
            print(f"{r.flow_id:<14} {state:<8} {r.versions:>5} v  {r.name}")
    return 0


def cmd_history(args: argparse.Namespace, env: CliEnv) -> int:
    queries = _queries(env)
    workflow = queries.find(args.workflow, args.portal)
    versions = queries.history(workflow)
    if args.json:
        emit_json([{"number": len(versions) - i, "id": v.id,
                    "captured_at": v.captured_at.isoformat(), "origin": v.origin,
                    "revision_id": v.revision_id, "hubspot_updated_at": v.remote_updated_at,
                    "summary": v.summary, "bytes_stored": v.stored_size}
                   for i, v in enumerate(versions)])
    else:
        count = len(versions)
        print(f"{workflow.name} ({workflow.flow_id}): {count} version{'s' if count != 1 else ''}")
        for i, v in enumerate(versions):
            print(f"  v{len(versions) - i:<5} {v.captured_at.astimezone():%Y-%m-%d %H:%M}  "
                  f"{v.origin:<8} {v.summary}")
    return 0


def cmd_show(args: argparse.Namespace, env: CliEnv) -> int:
    queries = _queries(env)
    _, definition = queries.version(queries.find(args.workflow, args.portal), args.version)
    json.dump(definition, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def cmd_export(args: argparse.Namespace, env: CliEnv) -> int:
    queries = _queries(env)
    # Resolved once, so the file reported is the file written (--out may be a folder).
    target = queries.export_destination(Path(args.out))
    count = queries.export_zip(target, args.portal)
    print(f"wrote {count} workflows to {target}")
    return 0


def cmd_import(args: argparse.Namespace, env: CliEnv) -> int:
    portal, stored = _queries(env).import_file(Path(args.file))
    print(f"imported into '{portal.name}': {stored} new versions (read-only, offline)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="capture workflow changes from HubSpot now")
    sync.add_argument("portal", nargs="?", help="hub id or name (default: every portal)")
    sync.add_argument("--json", action="store_true", help="machine-readable output")
    sync.set_defaults(handler=cmd_sync)

    workflows = sub.add_parser("workflows", help="list stored workflows (offline)")
    workflows.add_argument("--portal", type=int, metavar="HUB_ID", help="only this portal")
    workflows.add_argument("--json", action="store_true", help="machine-readable output")
    workflows.set_defaults(handler=cmd_workflows)

    hist = sub.add_parser("history", help="the stored versions of one workflow (offline)")
    hist.add_argument("workflow", help="flow id or exact name")
    hist.add_argument("--portal", type=int, metavar="HUB_ID",
                      help="the portal, when the same flow id is stored for several")
    hist.add_argument("--json", action="store_true", help="machine-readable output")
    hist.set_defaults(handler=cmd_history)

    show = sub.add_parser("show", help="print a stored version as JSON (default: latest)")
    show.add_argument("workflow", help="flow id or exact name")
    show.add_argument("version", nargs="?", help="version number as 'history' prints it "
                                                 "(1 = oldest; default: the latest)")
    show.add_argument("--portal", type=int, metavar="HUB_ID",
                      help="the portal, when the same flow id is stored for several")
    show.set_defaults(handler=cmd_show)

    export = sub.add_parser("export", help="current workflows as a zip of JSON + manifest")
    export.add_argument("--out", required=True, help="zip file to write")
    export.add_argument("--portal", type=int, metavar="HUB_ID", help="only this portal")
    export.set_defaults(handler=cmd_export)

    imp = sub.add_parser("import", help="import an export zip or a JSON file for offline "
                                        "browsing (read-only)")
    imp.add_argument("file")
    imp.set_defaults(handler=cmd_import)
