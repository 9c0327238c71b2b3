"""``audit list|export|verify``, ``retention run`` and ``jobs``: the record of
what the app did."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wg_desktop.services.audit import AuditQuery
from wg_desktop.cli.base import CliEnv, add_command, emit_json


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


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the audit log: list, export or verify")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    for action_parser in (add_command(audit_sub, "list", cmd_audit_list, "list audit entries",
                                      json_flag=True),
                          add_command(audit_sub, "export", cmd_audit_export,
                                      "export as CSV (with each entry's hash and the trail's "
                                      "head)")):
        action_parser.add_argument("--search", help="text to look for")
        action_parser.add_argument("--action", help="only this action (e.g. sync)")
    audit_sub.choices["list"].add_argument("--outcome", help="success, failure, ...")
    audit_sub.choices["list"].add_argument("--limit", type=int, default=200)
    audit_sub.choices["export"].add_argument("--out", required=True, help="CSV file to write")
    add_command(audit_sub, "verify", cmd_audit_verify, "check the audit trail's hash chain: "
                "exit 0 when intact, 1 naming the first edited, inserted or deleted entry",
                json_flag=True)

    retention = sub.add_parser("retention", help="apply the retention policies")
    retention_sub = retention.add_subparsers(dest="retention_command", metavar="ACTION",
                                             required=True)
    add_command(retention_sub, "run", cmd_retention_run,
                "delete data older than its retention period", json_flag=True)

    jobs = add_command(sub, "jobs", cmd_jobs, "recent background job runs", json_flag=True)
    jobs.add_argument("--limit", type=int, default=50)
