"""``wg-desktop report --period 7d [--portal P] --format pdf|html|csv|json --out FILE``,
and ``wg-desktop report --email [--period 7d]``: the weekly report's mail, sent now.

The report's data and its text formats come from the Qt-free core; Qt is
imported only for charts and PDF (HTML and PDF), through the same renderer
the Health page uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wg_desktop.cli.base import CliEnv, CliError, ExitCode
from wg_desktop.services.reports import (Period, PeriodError, ReportFormat, TargetStatus,
                                         build_report, parse_period, render_text,
                                         resolve_portal)


def _check_writable(out: Path) -> None:
    """Fail before the work, in one line, when the file cannot be written."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise OSError(f"cannot write the report to {out}: it is a folder")
    if not folder.exists():
        raise OSError(f"cannot write the report to {out}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OSError(f"cannot write the report to {out}: {folder} is not a folder")


def cmd_report(args: argparse.Namespace, env: CliEnv) -> int:
    try:
        period = parse_period(args.period)
    except PeriodError as exc:
        raise CliError(str(exc)) from None
    if args.email:
        return _email_report(args, env, period)
    if not args.out:
        raise CliError("say where to write the report with --out FILE (or mail it with --email)")
    fmt = ReportFormat(args.format or ReportFormat.PDF)
    out = Path(args.out)
    _check_writable(out)
    ctx = env.context()
    portal_keys = None
    if args.portal:
        try:
            portal_keys = [resolve_portal(p).key for p in args.portal]
        except LookupError as exc:
            raise CliError(str(exc)) from None
    report = build_report(ctx.audit, period, portal_keys)
    if fmt in (ReportFormat.PDF, ReportFormat.HTML):
        from wg_desktop.ui.report_render import (ensure_gui_app, render_charts, report_bytes,
                                                 write_report)
        ensure_gui_app()
        data = report_bytes(report, fmt, render_charts(report))
        write_report(out, data)
    else:
        from wg_desktop.paths import write_private_atomic
        try:
            write_private_atomic(out, render_text(report, fmt).encode("utf-8"))
        except OSError as exc:
            raise OSError(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
    missed = [t.name for t in report.targets if t.status is TargetStatus.MISSED]
    summary = ("no health checks in the period" if not report.has_samples else
               f"targets missed: {', '.join(missed)}" if missed else "every measured target met")
    print(f"Wrote the {period.label} health report ({fmt}) to {out}: {summary}")
    return ExitCode.DONE


def _email_report(args: argparse.Namespace, env: CliEnv, period: Period) -> int:
    """The weekly report's mail (every portal, HTML body, HTML and CSV attached)."""
    from wg_desktop.services.weekly_report import send_weekly_report

    if args.out or args.portal or args.format:
        raise CliError("--email mails the HTML and CSV report of every portal; it takes no "
                       "--out, --portal or --format")
    ctx = env.context()
    # A delivery that fails raises WeeklyReportFailed: one line, exit 1 (cli/base.py).
    sent = send_weekly_report(ctx.settings, ctx.store, ctx.audit, period=period)
    print(f"Mailed the {period.label} health report to {', '.join(sent.recipients)}: "
          f"{sent.summary}")
    return ExitCode.DONE


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report", help="write a health report (PDF, HTML, CSV or JSON)",
        description="Write a health report for a period: the reliability targets met or "
                    "missed, incidents and alerts, API usage per endpoint, sync and backup "
                    "history and workflow changes (PDF and HTML with charts).")
    report.add_argument("--period", default="7d",
                        help="1h, 24h, 7d, 30d (or e.g. 12h, 3d); default 7d")
    report.add_argument("--portal", action="append", metavar="P",
                        help="only this portal (hub id or name); repeat for several")
    report.add_argument("--format", choices=[str(f) for f in ReportFormat],
                        help="default pdf")
    report.add_argument("--out", metavar="FILE", help="the file to write")
    report.add_argument("--email", action="store_true",
                        help="mail the report now to the alert recipients (notify.email_to), "
                             "as the weekly report is: HTML, with the CSV attached")
    report.set_defaults(handler=cmd_report)
