"""The weekly health report by email, against a real local SMTP server
(aiosmtpd on 127.0.0.1): HTML body, HTML and CSV attached, logged and
audited; an unreachable server is one line, a failed delivery, an audit
entry and an alert heard on the other channels."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from tests.unit.test_notifiers import free_port, smtp_server  # noqa: F401 - fixture
from tests.unit.test_reports import seed_samples
from wg_desktop.services.alerts import AlertService, Rule
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.notifiers import (DeliveryResult, Dispatcher, EmailChannel, EmailConfig,
                                           delivery_log)
from wg_desktop.services.weekly_report import (WeeklyReportFailed, send_weekly_report,
                                               weekly_report_job)
from wg_desktop.store.health_models import PortalHealthSample
from wg_desktop.store.models import utcnow


def _set_up_email(ctx, port):
    ctx.settings.updated({"notify.smtp_host": "127.0.0.1", "notify.smtp_port": port,
                          "notify.email_from": "wg@example.com",
                          "notify.email_to": ["admin@example.com", "boss@example.com"]})


def test_the_report_is_mailed_with_html_body_and_attachments(ctx, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    now = utcnow()
    seed_samples(ctx.store, portals=2, days=8, now=now, failed=lambda p, i: 2 if p else 0)
    _set_up_email(ctx, controller.port)
    sent = send_weekly_report(ctx.settings, ctx.store, ctx.audit, now=now)
    assert sent.recipients == ("admin@example.com", "boss@example.com")
    assert sent.summary == "targets missed: Error rate"
    [envelope] = inbox.messages
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert "Health report" in message["Subject"] and "Error rate" in message["Subject"]
    body = message.get_body(("html",)).get_content()
    assert "<h2>Reliability targets</h2>" in body and "Portal 2" in body
    assert "Result: targets missed: Error rate." in message.get_body(("plain",)).get_content()
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    since = f"{now - dt.timedelta(days=7):%Y-%m-%d}"
    names = sorted(attachments)
    assert names == [f"health-report-{since}-to-{now:%Y-%m-%d}.csv",
                     f"health-report-{since}-to-{now:%Y-%m-%d}.html"]
    csv_text = attachments[names[0]]
    # 7 days of 5-minute samples per portal, both ends included: the 8th day is not.
    assert "portal,1001,samples,2017," in csv_text and "≥ 99.9 %" in csv_text
    assert "≥ 99.9 %" in attachments[names[1]]
    [logged] = delivery_log()
    assert (logged.channel, logged.event, logged.ok) == ("email", "weekly_report", True)
    [entry] = ctx.audit.entries(AuditQuery(action=str(AuditAction.EXPORT)))
    assert entry.outcome == "success" and "health report by email" in entry.details


def test_an_unreachable_server_is_one_line_logged_and_audited(ctx):
    _set_up_email(ctx, free_port())
    seed_samples(ctx.store, portals=1, days=1, now=utcnow())
    before = PortalHealthSample.select().count()
    with pytest.raises(WeeklyReportFailed) as info:
        send_weekly_report(ctx.settings, ctx.store, ctx.audit)
    message = str(info.value)
    assert message.startswith("The health report was not sent: Cannot reach the mail server "
                              "127.0.0.1:") and "\n" not in message
    [logged] = delivery_log()
    assert not logged.ok and logged.event == "weekly_report" and "Cannot reach" in logged.error
    [entry] = ctx.audit.entries(AuditQuery(action=str(AuditAction.EXPORT)))
    assert entry.outcome == "failure"
    assert PortalHealthSample.select().count() == before            # data intact


def test_email_not_set_up_says_what_is_missing(ctx):
    with pytest.raises(WeeklyReportFailed, match="notify.smtp_host"):
        send_weekly_report(ctx.settings, ctx.store, ctx.audit)


class Desktop:
    name = target = "desktop"

    def __init__(self):
        self.sent = []

    def send(self, notification):
        self.sent.append(notification)
        return DeliveryResult(self.name, self.target, True)


def test_a_failing_job_raises_an_alert_on_the_other_channels(ctx):
    _set_up_email(ctx, free_port())
    desktop = Desktop()
    alerts = AlertService(ctx.store, ctx.settings, ctx.audit,
                          dispatcher=Dispatcher([desktop], ctx.store))
    job = weekly_report_job(ctx.settings, ctx.store, ctx.audit, alerts)
    with pytest.raises(WeeklyReportFailed):
        job(None, None)
    [alert] = alerts.alerts(open_only=True)
    assert alert.rule == Rule.WEEKLY_REPORT_FAILED and alert.severity == "warning"
    assert "Cannot reach the mail server" in alert.message
    assert [n.title for n in desktop.sent] == ["Weekly health report not sent"]
    with pytest.raises(WeeklyReportFailed):
        job(None, None)                              # next failure: counted, not re-sent
    assert alerts.get(alert.id).count == 2 and len(desktop.sent) == 1


def test_the_job_says_what_it_sent(ctx, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    _set_up_email(ctx, controller.port)
    job = weekly_report_job(ctx.settings, ctx.store, ctx.audit, alerts=None)
    assert job(None, None) == ("Weekly health report sent to 2 recipient(s): no health checks "
                               "in the period")
    assert len(inbox.messages) == 1


def test_a_channel_can_be_handed_in(ctx, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    channel = EmailChannel(EmailConfig("127.0.0.1", controller.port, "wg@example.com",
                                       ("x@example.com",), "alerts", "s3cret", timeout=5))
    send_weekly_report(ctx.settings, ctx.store, ctx.audit, channel=channel)
    assert inbox.messages[0].rcpt_tos == ["x@example.com"]
