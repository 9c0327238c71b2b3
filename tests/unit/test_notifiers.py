"""Channels against real local servers: email through an aiosmtpd SMTP server
on 127.0.0.1, webhooks through a local HTTP receiver that checks the HMAC
signature. A down or hanging channel does not delay the others."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from wg_desktop.services.notifiers import (SIGNATURE_HEADER, TIMESTAMP_HEADER, DesktopChannel,
                                           Dispatcher, EmailChannel, EmailConfig, Notification,
                                           NoticeKind, SmtpSecurity, WebhookChannel,
                                           channels_from_settings, delivery_log, safe_url,
                                           probe_notification)

NOTE = Notification(NoticeKind.RAISED, "error_rate", "warning", "Portal 1: 9% failed",
                    "9 of 100 calls failed", "1", 12, count=3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- SMTP ------------------------------------------------------------------------------

class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alerts" and auth_data.password == b"s3cret"
    # handled=False: aiosmtpd then answers 535 itself, as a real server does.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=_auth, auth_require_tls=False)
    controller.start()
    yield controller, inbox
    controller.stop()


def _config(controller, **kw):
    base = dict(host="127.0.0.1", port=controller.port, sender="wg@example.com",
                recipients=("admin@example.com", "boss@example.com"), user="alerts",
                password="s3cret", timeout=5)
    base.update(kw)
    return EmailConfig(**base)


def test_email_is_delivered_with_login(smtp_server):
    controller, inbox = smtp_server
    result = EmailChannel(_config(controller)).send(NOTE)
    assert result.ok, result.error
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["admin@example.com", "boss@example.com"]
    body = envelope.content.decode()
    assert "Subject: [WorkflowGuard" in body and "Warning: Portal 1: 9% failed" in body
    assert "9 of 100 calls failed" in body


def test_a_wrong_smtp_password_is_one_clear_line(smtp_server):
    controller, inbox = smtp_server
    result = EmailChannel(_config(controller, password="wrong")).send(NOTE)
    assert not result.ok and "rejected the user name or password" in result.error
    assert inbox.messages == []


def test_an_unreachable_smtp_server_is_one_clear_line():
    channel = EmailChannel(EmailConfig("127.0.0.1", free_port(), "a@example.com",
                                       ("b@example.com",), timeout=2))
    result = channel.send(NOTE)
    assert not result.ok and result.error.startswith("Cannot reach the mail server 127.0.0.1:")


def test_a_remote_server_without_starttls_is_refused(smtp_server, monkeypatch):
    controller, inbox = smtp_server
    # The same server under a non-loopback name: a password must not go in clear.
    cfg = _config(controller, host="mail.localtest")
    import smtplib
    real = smtplib.SMTP.__init__

    def connect_locally(self, host="", port=0, *a, **kw):
        real(self, "127.0.0.1" if host == "mail.localtest" else host, port, *a, **kw)
    monkeypatch.setattr(smtplib.SMTP, "__init__", connect_locally)
    result = EmailChannel(cfg).send(NOTE)
    assert not result.ok and "does not offer STARTTLS" in result.error
    assert inbox.messages == []


def test_email_not_set_up_says_what_is_missing():
    result = EmailChannel(EmailConfig("", 587, "", ())).send(NOTE)
    assert not result.ok and "notify.smtp_host" in result.error


# -- webhooks --------------------------------------------------------------------------

SECRET = "hook-secret"


class Receiver:
    """A local HTTP server; ``behaviour(path)`` -> (status, delay, headers)."""

    def __init__(self, behaviour=lambda path: (200, 0, {})):
        self.requests = []
        self.behaviour = behaviour
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers.get(TIMESTAMP_HEADER, "")
                expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)
                outer.requests.append((self.path, json.loads(body), valid, time.monotonic()))
                status, delay, headers = outer.behaviour(self.path)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status if valid or status != 200 else 401)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass          # the client gave up (a hanging receiver)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    def behaviour(path):
        return {"/hang": (200, 3, {}), "/fail": (500, 0, {}),
                "/moved": (302, 0, {"Location": "http://elsewhere.example/x?token=abc"}),
                "/bad": (400, 0, {})}.get(path, (200, 0, {}))
    r = Receiver(behaviour)
    yield r
    r.close()


def test_webhook_payload_and_hmac_signature(receiver):
    result = WebhookChannel(receiver.url(), secret=SECRET).send(NOTE)
    assert result.ok and result.status == 200 and result.attempts == 1
    [(path, payload, valid, _)] = receiver.requests
    assert valid
    assert payload["schema"] == "workflowguard.alert/1" and payload["event"] == "raised"
    assert payload["alert"]["rule"] == "error_rate" and payload["alert"]["count"] == 3
    assert payload["alert"]["portal"] == "1" and payload["alert"]["id"] == 12


def test_a_wrong_secret_is_caught_by_the_receiver(receiver):
    result = WebhookChannel(receiver.url(), secret="not-the-secret").send(NOTE)
    assert not result.ok and result.status == 401
    assert receiver.requests[0][2] is False


def test_webhook_retries_5xx_with_backoff_and_not_4xx_or_redirects(receiver):
    waits = []
    result = WebhookChannel(receiver.url("/fail"), secret=SECRET, attempts=3, backoff=0.25,
                            sleep=waits.append).send(NOTE)
    assert not result.ok and result.attempts == 3 and result.error == "answered 500"
    assert waits == [0.25, 0.5]
    result = WebhookChannel(receiver.url("/bad"), secret=SECRET, sleep=waits.append).send(NOTE)
    assert not result.ok and result.attempts == 1
    result = WebhookChannel(receiver.url("/moved"), secret=SECRET).send(NOTE)
    assert not result.ok and result.attempts == 1 and "redirect" in result.error
    assert "token=abc" not in result.error                    # no query in messages


def test_a_hanging_webhook_does_not_delay_the_others(receiver, ctx):
    desktop = []
    hanging = WebhookChannel(receiver.url("/hang"), secret=SECRET, timeout=0.5, attempts=2,
                             backoff=0.1)
    good = [WebhookChannel(receiver.url(f"/ok{i}"), secret=SECRET) for i in range(3)]
    down = WebhookChannel(f"http://127.0.0.1:{free_port()}/down", attempts=2, backoff=0.05)
    started = time.monotonic()
    results = Dispatcher([hanging, *good, down, DesktopChannel(desktop.append)],
                         ctx.store).send(NOTE)
    elapsed = time.monotonic() - started
    by_target = {r.target: r for r in results}
    assert all(by_target[safe_url(g.url)].ok for g in good)
    assert desktop == [NOTE]
    hang = by_target[safe_url(hanging.url)]
    assert not hang.ok and hang.attempts == 2 and "no answer within 0.5 s" in hang.error
    assert not by_target[safe_url(down.url)].ok
    ok_arrivals = [t for p, _, _, t in receiver.requests if p.startswith("/ok")]
    assert len(ok_arrivals) == 3 and max(ok_arrivals) - started < 0.5   # not queued behind
    assert elapsed < 2.5                         # the hanging one costs its timeouts only
    logged = delivery_log()
    assert len(logged) == 6 and sum(e.ok for e in logged) == 4


def test_fifty_webhooks_all_down_finish_quickly(ctx):
    port = free_port()
    channels = [WebhookChannel(f"http://127.0.0.1:{port}/h{i}", attempts=2, backoff=0.05)
                for i in range(50)]
    started = time.monotonic()
    results = Dispatcher(channels, ctx.store).send(probe_notification())
    assert len(results) == 50 and not any(r.ok for r in results)
    assert time.monotonic() - started < 5


def test_dispatcher_deadline_bounds_the_wait(receiver):
    slow = WebhookChannel(receiver.url("/hang"), timeout=10, attempts=1)
    started = time.monotonic()
    [result] = Dispatcher([slow], deadline=0.5).send(NOTE)
    assert time.monotonic() - started < 1.5
    assert not result.ok and "still running" in result.error


def test_a_raising_channel_is_a_failed_delivery():
    class Broken:
        name, target = "desktop", "desktop"

        def send(self, n):
            raise RuntimeError("no tray")
    [result] = Dispatcher([Broken()]).send(NOTE)
    assert not result.ok and "no tray" in result.error


def test_channels_from_settings(ctx):
    ctx.settings.updated({"notify.email_enabled": True, "notify.smtp_host": "mail.example.com",
                          "notify.email_to": ["a@example.com"],
                          "notify.webhook_urls": ["https://hooks.example.com/a",
                                                  "https://user:pw@hooks.example.com/b?k=1"]})
    channels = channels_from_settings(ctx.settings, desktop=lambda n: None)
    assert [c.name for c in channels] == ["desktop", "email", "webhook", "webhook"]
    assert channels[3].target == "https://hooks.example.com/b"      # no credentials
    assert channels[1].config.port == 587
    assert channels[1].config.security is SmtpSecurity.AUTO
    assert channels[2].secret is None                               # no secret set: unsigned
    ctx.settings.updated({"notify.desktop": False, "limits.webhooks": 1})
    assert [c.name for c in channels_from_settings(ctx.settings, desktop=print)] == [
        "email", "webhook"]
