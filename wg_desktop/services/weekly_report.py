"""The optional weekly health report, mailed through the email channel.

Turned on by ``notify.weekly_report``; the window's scheduler runs
:func:`weekly_report_job` every 7 days (start-to-start from the last
successful send, so a week missed while the app was closed is sent at the
next start), and ``wg-desktop report --email`` sends one now.

The mail is the report of the last 7 days as its HTML body, with the same
HTML and the metrics' CSV attached. Not the PDF: Qt's PDF writer prints
charts that are graphics items, drawn on the GUI thread only, and this runs
on a worker (or a command with no window); the HTML carries every table and
the targets verdict, and the app's "Export report…" makes the PDF.

Every send is in the delivery log (event ``weekly_report``) and the audit
log (export, success or failure). A failed send is one line (the email
channel's own message) and, through the alert service, a warning alert on
the other channels; nothing else waits for it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Callable

from wg_desktop.config import Settings
from wg_desktop.constants import APP_DISPLAY_NAME
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.notifiers import (DeliveryResult, EmailChannel, EmailConfig, EmailError,
                                           log_deliveries)
from wg_desktop.services.reports import (HealthReport, Period, TargetStatus, build_report,
                                         to_csv, to_html)
from wg_desktop.store.db import Store
from wg_desktop.store.models import Outcome, utcnow

JOB_NAME = "weekly-report"
WEEK = dt.timedelta(days=7)
DELIVERY_EVENT = "weekly_report"


class WeeklyReportFailed(RuntimeError):
    """The report could not be mailed; the message is the one line to show."""


def last_week(now: dt.datetime | None = None) -> Period:
    now = now or utcnow()
    return Period(now - WEEK, now, "last 7 days")


def summary(report: HealthReport) -> str:
    """One line: the verdict on the reliability targets."""
    if not report.has_samples:
        return "no health checks in the period"
    missed = [t.name for t in report.targets if t.status is TargetStatus.MISSED]
    return f"targets missed: {', '.join(missed)}" if missed else "every measured target met"


def report_message(channel: EmailChannel, report: HealthReport) -> EmailMessage:
    """The mail: a plain-text summary, the HTML report as the body shown, the
    same HTML and the metrics' CSV attached."""
    since = f"{report.period.since:%Y-%m-%d}"
    until = f"{report.period.until:%Y-%m-%d}"
    verdict = summary(report)
    msg = channel.new_message(f"[{APP_DISPLAY_NAME}] Health report {since} to {until}: "
                              f"{verdict}")
    lines = [f"{APP_DISPLAY_NAME} health report, {since} to {until} (UTC).", "",
             f"Result: {verdict}.", ""]
    lines += [f"- {t.name}: {t.measured} ({t.status})" for t in report.targets]
    lines += ["", "The full report is attached (HTML), with its metrics as CSV."]
    msg.set_content("\n".join(lines) + "\n")
    page = to_html(report)
    msg.add_alternative(page, subtype="html")
    stem = f"health-report-{since}-to-{until}"
    # As text: the parts then say charset=utf-8 (the targets' "≥" survives).
    msg.add_attachment(page, subtype="html", filename=f"{stem}.html")
    msg.add_attachment(to_csv(report), subtype="csv", filename=f"{stem}.csv")
    return msg


@dataclass(frozen=True)
class WeeklyReportSent:
    period: Period
    recipients: tuple[str, ...]
    summary: str


def send_weekly_report(settings: Settings, store: Store, audit: AuditLog, *,
                       now: dt.datetime | None = None, period: Period | None = None,
                       channel: EmailChannel | None = None) -> WeeklyReportSent:
    """Build the report of ``period`` (default: the last 7 days) and mail it;
    raise WeeklyReportFailed (one line) when it cannot be sent. Logged and
    audited either way."""
    channel = channel or EmailChannel(EmailConfig.from_settings(settings))
    period = period or last_week(now)
    report = build_report(audit, period)
    started = time.monotonic()
    error = ""
    try:
        channel.deliver_message(report_message(channel, report))
    except EmailError as exc:
        error = str(exc)
    elapsed = (time.monotonic() - started) * 1000
    log_deliveries(store, [DeliveryResult(channel.name, channel.target, not error,
                                          error=error, elapsed_ms=elapsed)], DELIVERY_EVENT)
    details: dict[str, Any] = {"what": "health report by email", "channel": "email",
                               "since": period.since.isoformat(),
                               "until": period.until.isoformat(),
                               "recipients": len(channel.config.recipients)}
    if error:
        audit.record(AuditAction.EXPORT, outcome=Outcome.FAILURE,
                     details={**details, "error": error})
        raise WeeklyReportFailed(f"The health report was not sent: {error}")
    audit.record(AuditAction.EXPORT, outcome=Outcome.SUCCESS,
                 details={**details, "summary": summary(report)})
    return WeeklyReportSent(period, channel.config.recipients, summary(report))


def weekly_report_job(settings: Settings, store: Store, audit: AuditLog,
                      alerts: Any) -> Callable[..., str]:
    """The scheduler's job. A failure raises an alert (heard on the other
    channels) and fails the run, so the scheduler records it and a run that
    never succeeded this week is due again at the next start."""
    from wg_desktop.services.alerts import report_failed_condition

    def run(cancel: Any, progress: Any) -> str:
        try:
            sent = send_weekly_report(settings, store, audit)
        except WeeklyReportFailed as exc:
            alerts.raise_event(report_failed_condition(str(exc)))
            raise
        return (f"Weekly health report sent to {len(sent.recipients)} recipient(s): "
                f"{sent.summary}")
    return run
