"""The weekly report job in the window's scheduler: registered only when
``notify.weekly_report`` is on, every 7 days from the last successful send,
so a week missed while the app was closed is sent at the next start; a run
mails the report through a real local SMTP server."""

from __future__ import annotations

import datetime as dt

from tests.unit.test_notifiers import smtp_server  # noqa: F401 - fixture
from wg_desktop.services.schedule import Interval, JobOutcome, JobRun
from wg_desktop.services.weekly_report import JOB_NAME
from wg_desktop.store.models import utcnow
from wg_desktop.ui.app import build_scheduler
from wg_desktop.ui.jobs import SynchronousPool


def _success(ctx, days_ago: float) -> dt.datetime:
    started = utcnow() - dt.timedelta(days=days_ago)
    ctx.job_runs.record(JobRun(JOB_NAME, started, started + dt.timedelta(seconds=2),
                               JobOutcome.SUCCESS, "sent"))
    return started


def test_off_by_default_and_registered_when_on(ctx, hubspot):
    assert JOB_NAME not in {s.name for s in build_scheduler(ctx, SynchronousPool(),
                                                            hubspot).specs()}
    ctx.settings.updated({"notify.weekly_report": True})
    specs = {s.name: s for s in build_scheduler(ctx, SynchronousPool(), hubspot).specs()}
    assert specs[JOB_NAME].schedule == Interval(7 * 24 * 3600)


def test_a_missed_week_is_due_at_start_and_a_recent_one_waits(ctx, hubspot):
    ctx.settings.updated({"notify.weekly_report": True})
    _success(ctx, days_ago=9)
    scheduler = build_scheduler(ctx, SynchronousPool(), hubspot)
    assert scheduler.next_due(JOB_NAME) <= utcnow()                       # overdue: now
    last = _success(ctx, days_ago=2)
    scheduler = build_scheduler(ctx, SynchronousPool(), hubspot)
    assert abs(scheduler.next_due(JOB_NAME) - (last + dt.timedelta(days=7))) \
        < dt.timedelta(seconds=1)


def test_a_run_mails_the_report_and_is_recorded(qtbot, ctx, hubspot, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    ctx.settings.updated({"notify.weekly_report": True, "notify.smtp_host": "127.0.0.1",
                          "notify.smtp_port": controller.port,
                          "notify.email_from": "wg@example.com",
                          "notify.email_to": ["admin@example.com"]})
    scheduler = build_scheduler(ctx, SynchronousPool(), hubspot)
    with qtbot.waitSignal(scheduler.finished, timeout=10_000,
                          check_params_cb=lambda name, message: name == JOB_NAME) as done:
        scheduler.run_now(JOB_NAME)
    assert done.args[1].startswith("Weekly health report sent to 1 recipient(s)")
    assert len(inbox.messages) == 1
    qtbot.waitUntil(lambda: ctx.job_runs.last_success(JOB_NAME) is not None, timeout=5_000)


def test_a_failed_run_is_a_failed_job_and_an_alert(qtbot, ctx, hubspot):
    from tests.unit.test_notifiers import free_port
    from wg_desktop.services.alerts import AlertService

    ctx.settings.updated({"notify.weekly_report": True, "notify.smtp_host": "127.0.0.1",
                          "notify.smtp_port": free_port(), "notify.email_from": "wg@example.com",
                          "notify.email_to": ["admin@example.com"]})
    scheduler = build_scheduler(ctx, SynchronousPool(), hubspot)
    with qtbot.waitSignal(scheduler.failed, timeout=10_000,
                          check_params_cb=lambda name, message: name == JOB_NAME) as done:
        scheduler.run_now(JOB_NAME)
    assert "The health report was not sent: Cannot reach the mail server" in done.args[1]
    [alert] = AlertService(ctx.store, ctx.settings, ctx.audit).alerts(open_only=True)
    assert alert.rule == "weekly_report_failed"
