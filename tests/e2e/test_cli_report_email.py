"""``wg-desktop report --email`` as a subprocess: the weekly report mailed now
through a real local SMTP server; an unreachable server and misused options
are one line on stderr and a non-zero exit."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.support.cli import base_env, run
from tests.support.context import make_context
from tests.unit.test_notifiers import free_port, smtp_server  # noqa: F401 - fixture
from tests.support.health_samples import seed_samples
from wg_desktop.store.models import utcnow


def _env(data_dir, port):
    env = base_env(data_dir)
    ctx = make_context(data_dir, env)
    try:
        seed_samples(ctx.store, portals=1, days=1, now=utcnow())
        ctx.settings.updated({"notify.smtp_host": "127.0.0.1", "notify.smtp_port": port,
                              "notify.email_from": "wg@example.com",
                              "notify.email_to": ["admin@example.com"]})
    finally:
        ctx.close()
    return env


def test_report_email_sends_the_weekly_report_now(data_dir, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    env = _env(data_dir, controller.port)
    done = run(["report", "--email"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Mailed the 7d health report to admin@example.com: ")
    [envelope] = inbox.messages
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert "<h2>Reliability targets</h2>" in message.get_body(("html",)).get_content()
    assert len(list(message.iter_attachments())) == 2


def test_an_unreachable_server_is_one_line_and_exit_1(data_dir):
    env = _env(data_dir, free_port())
    done = run(["report", "--email", "--period", "24h"], env)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("wg-desktop: error: The health report was not sent: Cannot reach "
                           "the mail server 127.0.0.1:")


@pytest.mark.parametrize("args, says", [
    (["report"], "--out FILE"),
    (["report", "--email", "--out", "x.pdf"], "takes no --out, --portal or --format"),
    (["report", "--email", "--format", "csv"], "takes no --out, --portal or --format"),
])
def test_misused_options_are_one_line(data_dir, args, says):
    done = run(args, base_env(data_dir))
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert says in line
