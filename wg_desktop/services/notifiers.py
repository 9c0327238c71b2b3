"""Notification channels: the desktop (a callback the UI hands in), email over
SMTP, and webhooks.

A failing channel never blocks the others: the dispatcher runs every channel
in its own thread, each with a bounded time (timeouts on every socket,
bounded retries), and waits for them together; a channel that raises is
reported as a failed delivery. Every delivery is written to the delivery log.

Webhook payload (``Content-Type: application/json``), schema
``workflowguard.alert/1``::

    {"schema": "workflowguard.alert/1",
     "event": "raised" | "repeated" | "resolved" | "test",
     "sent_at": "2026-11-28T12:00:00+00:00",
     "alert": {"id": 12, "rule": "error_rate", "severity": "warning",
               "portal": "12345678", "title": "...", "message": "...",
               "first_seen": "...", "last_seen": "...", "count": 3,
               "resolved_at": null, "details": {...}}}

With a secret, the request carries ``X-WorkflowGuard-Timestamp`` (epoch
seconds) and ``X-WorkflowGuard-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"<timestamp>." + body`` keyed with the secret. A receiver recomputes it
over the raw body and rejects old timestamps, so a captured request cannot be
replayed later.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from wg_desktop.config import Settings
from wg_desktop.constants import APP_DISPLAY_NAME
from wg_desktop.store.db import Store
from wg_desktop.store.health_models import NotificationDelivery
from wg_desktop.store.models import utcnow

log = logging.getLogger(__name__)

PAYLOAD_SCHEMA = "workflowguard.alert/1"
SIGNATURE_HEADER = "X-WorkflowGuard-Signature"
TIMESTAMP_HEADER = "X-WorkflowGuard-Timestamp"
MAX_WEBHOOKS = 50
WEBHOOK_TIMEOUT_S = 5.0          # per attempt; a hanging receiver costs at most this
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF_S = 0.5          # doubled after each failed attempt
SMTP_TIMEOUT_S = 10.0
SMTP_SSL_PORT = 465              # implicit TLS when notify.smtp_security is auto
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class NoticeKind(enum.StrEnum):
    RAISED = "raised"
    REPEATED = "repeated"
    RESOLVED = "resolved"
    TEST = "test"


class SmtpSecurity(enum.StrEnum):
    """``notify.smtp_security``: how the SMTP connection is encrypted."""

    AUTO = "auto"           # SSL on port 465, else STARTTLS when offered (loopback may skip)
    STARTTLS = "starttls"   # STARTTLS required, whatever the server
    SSL = "ssl"             # implicit TLS from the first byte
    NONE = "none"           # plain: refused with a password except to this machine


@dataclass(frozen=True)
class Notification:
    kind: NoticeKind
    rule: str
    severity: str
    title: str
    message: str
    portal_key: str | None = None
    alert_id: int | None = None
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    count: int = 1
    resolved_at: dt.datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        prefix = {NoticeKind.RESOLVED: "Resolved", NoticeKind.TEST: "Test"}.get(
            self.kind, self.severity.capitalize())
        return f"[{APP_DISPLAY_NAME}] {prefix}: {self.title}"

    def payload(self, sent_at: dt.datetime | None = None) -> dict[str, Any]:
        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None
        return {"schema": PAYLOAD_SCHEMA, "event": str(self.kind),
                "sent_at": (sent_at or utcnow()).isoformat(),
                "alert": {"id": self.alert_id, "rule": self.rule, "severity": self.severity,
                          "portal": self.portal_key, "title": self.title,
                          "message": self.message, "first_seen": iso(self.first_seen),
                          "last_seen": iso(self.last_seen), "count": self.count,
                          "resolved_at": iso(self.resolved_at), "details": dict(self.details)}}

    def text(self) -> str:
        lines = [self.title, "", self.message, ""]
        if self.portal_key:
            lines.append(f"Portal: {self.portal_key}")
        lines.append(f"Severity: {self.severity}")
        if self.first_seen:
            lines.append(f"First seen: {self.first_seen.isoformat(timespec='seconds')}")
        if self.last_seen and self.count > 1:
            lines.append(f"Last seen: {self.last_seen.isoformat(timespec='seconds')} "
                         f"({self.count} times)")
        if self.resolved_at:
            lines.append(f"Resolved: {self.resolved_at.isoformat(timespec='seconds')}")
        return "\n".join(lines) + "\n"


def probe_notification() -> Notification:
    now = utcnow()
    return Notification(NoticeKind.TEST, "test", "info", "Test notification",
                        "This is a test of an alert channel. If you can read it, the channel "
                        "works.", first_seen=now, last_seen=now)


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    target: str
    ok: bool
    attempts: int = 1
    status: int | None = None
    error: str = ""
    elapsed_ms: float = 0.0


class Channel(Protocol):
    name: str
    target: str

    def send(self, notification: Notification) -> DeliveryResult: ...


# -- desktop ----------------------------------------------------------------------------

class DesktopChannel:
    """Hands the notification to the UI (tray message, or an in-app banner
    where there is no tray). The callback must only post to the GUI thread."""

    name = "desktop"
    target = "desktop"

    def __init__(self, callback: Callable[[Notification], None]) -> None:
        self.callback = callback

    def send(self, notification: Notification) -> DeliveryResult:
        self.callback(notification)
        return DeliveryResult(self.name, self.target, True)


# -- email ------------------------------------------------------------------------------

class EmailError(RuntimeError):
    """One line for the user: what went wrong with the mail server."""


@dataclass(frozen=True)
class EmailConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = SMTP_TIMEOUT_S
    security: SmtpSecurity = SmtpSecurity.AUTO

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmailConfig":
        return cls(str(settings.get("notify.smtp_host")), int(settings.get("notify.smtp_port")),
                   str(settings.get("notify.email_from")),
                   tuple(settings.get("notify.email_to")),
                   str(settings.get("notify.smtp_user")),
                   # Read from the keychain through the settings' secret reader.
                   str(settings.get("notify.smtp_password") or ""),
                   security=SmtpSecurity(settings.get("notify.smtp_security")))

    @property
    def implicit_tls(self) -> bool:
        return self.security is SmtpSecurity.SSL or (self.security is SmtpSecurity.AUTO
                                                     and self.port == SMTP_SSL_PORT)

    @property
    def is_loopback(self) -> bool:
        return self.host.lower() in LOOPBACK_HOSTS

    def problem(self) -> str | None:
        if not self.host:
            return "no SMTP host is set (notify.smtp_host)"
        if not self.recipients:
            return "no recipients are set (notify.email_to)"
        if not self.sender and not self.user:
            return "no sender address is set (notify.email_from)"
        return None


class EmailChannel:
    """SMTP encrypted as ``notify.smtp_security`` says. "auto" is implicit TLS
    on port 465 and STARTTLS on every other port, where only a server on this
    machine (loopback) may be talked to without it. "none" never sends a
    password in clear to another machine: a relay that needs no login may be
    plain, one that does is refused rather than handed the password."""

    name = "email"

    def __init__(self, config: EmailConfig, *, ssl_context: ssl.SSLContext | None = None
                 ) -> None:
        self.config = config
        self.ssl_context = ssl_context or ssl.create_default_context()

    @property
    def target(self) -> str:
        return ", ".join(self.config.recipients)

    def send(self, notification: Notification) -> DeliveryResult:
        started = time.monotonic()
        try:
            self.deliver(notification)
        except EmailError as exc:
            return DeliveryResult(self.name, self.target, False, error=str(exc),
                                  elapsed_ms=(time.monotonic() - started) * 1000)
        return DeliveryResult(self.name, self.target, True,
                              elapsed_ms=(time.monotonic() - started) * 1000)

    def message(self, notification: Notification) -> EmailMessage:
        msg = self.new_message(notification.subject)
        msg.set_content(notification.text())
        return msg

    def deliver(self, notification: Notification) -> None:
        """Send, or raise EmailError with one line that says what to fix."""
        self.deliver_message(self.message(notification))

    def new_message(self, subject: str) -> EmailMessage:
        """An empty message with this channel's sender and recipients."""
        cfg = self.config
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = cfg.sender or cfg.user
        msg["To"] = ", ".join(cfg.recipients)
        return msg

    def deliver_message(self, message: EmailMessage) -> None:
        """Send any message (an alert, the weekly report), or raise EmailError
        with one line that says what to fix."""
        cfg = self.config
        problem = cfg.problem()
        if problem:
            raise EmailError(f"Email is not set up: {problem}.")
        where = f"{cfg.host}:{cfg.port}"
        if cfg.security is SmtpSecurity.NONE and cfg.user and not cfg.is_loopback:
            raise EmailError(f"notify.smtp_security is none, so the password for {where} "
                             "would travel unencrypted; choose starttls or ssl.")
        try:
            if cfg.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                                      context=self.ssl_context)
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            with smtp:
                smtp.ehlo()
                if not cfg.implicit_tls and cfg.security is not SmtpSecurity.NONE:
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self.ssl_context)
                        smtp.ehlo()
                    elif cfg.security is SmtpSecurity.STARTTLS or not cfg.is_loopback:
                        raise EmailError(f"The mail server {where} does not offer STARTTLS; "
                                         "use ssl (usually port 465) or a server that "
                                         "encrypts (notify.smtp_security).")
                if cfg.user:
                    smtp.login(cfg.user, cfg.password)
                refused = smtp.send_message(message)
                if refused:
                    raise EmailError(f"The mail server {where} refused "
                                     f"{', '.join(sorted(refused))}.")
        except EmailError:
            raise
        except smtplib.SMTPAuthenticationError:
            raise EmailError(f"The mail server {where} rejected the user name or password "
                             "(notify.smtp_user, notify.smtp_password).") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise EmailError(f"The mail server {where} does not support this: {exc}") from None
        except smtplib.SMTPException as exc:
            raise EmailError(f"The mail server {where} failed: {exc}") from None
        except ssl.SSLError as exc:
            raise EmailError(f"TLS with the mail server {where} failed: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise EmailError(f"Cannot reach the mail server {where}: "
                             f"{exc.strerror or exc}") from None


# -- webhooks ---------------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value (see the module docstring)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def safe_url(url: str) -> str:
    """The URL for logs and the delivery log: no user info, no query (both may
    hold a token some services put in webhook URLs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, *, secret: str | None = None,
                 timeout: float = WEBHOOK_TIMEOUT_S, attempts: int = WEBHOOK_ATTEMPTS,
                 backoff: float = WEBHOOK_BACKOFF_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.secret = secret or None
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep

    @property
    def target(self) -> str:
        return safe_url(self.url)

    def request(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(notification.payload(), sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"{APP_DISPLAY_NAME} alerts"}
        if self.secret:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(self.secret, stamp, body)
        return body, headers

    def send(self, notification: Notification) -> DeliveryResult:
        started = time.monotonic()
        body, headers = self.request(notification)
        status: int | None = None
        error = ""
        attempt = 0
        # Redirects are not followed: a signed alert must not be handed to
        # whatever host a receiver points at.
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
            for attempt in range(1, self.attempts + 1):
                retry = False
                try:
                    answer = http.post(self.url, content=body, headers=headers)
                    status = answer.status_code
                    if 200 <= status < 300:
                        return DeliveryResult(self.name, self.target, True, attempt, status,
                                              elapsed_ms=(time.monotonic() - started) * 1000)
                    if 300 <= status < 400:
                        error = (f"answered {status} (a redirect to "
                                 f"{safe_url(answer.headers.get('location', '?'))}); webhooks "
                                 "are not redirected, use the final address")
                    else:
                        error = f"answered {status}"
                        retry = status >= 500 or status in (408, 429)
                except httpx.TimeoutException:
                    status, error, retry = None, f"no answer within {self.timeout:g} s", True
                except httpx.HTTPError as exc:
                    status, error, retry = None, f"unreachable ({exc})", True
                if not retry or attempt == self.attempts:
                    break
                self.sleep(self.backoff * 2 ** (attempt - 1))
        return DeliveryResult(self.name, self.target, False, attempt, status, error,
                              (time.monotonic() - started) * 1000)


# -- building channels and dispatching ------------------------------------------------

def channels_from_settings(settings: Settings, *,
                           desktop: Callable[[Notification], None] | None = None
                           ) -> list[Channel]:
    """The channels the settings turn on. Every webhook is signed with
    ``notify.webhook_secret`` (from the keychain) when one is set."""
    channels: list[Channel] = []
    webhook_secret = str(settings.get("notify.webhook_secret") or "") or None
    if desktop is not None and settings.get("notify.desktop"):
        channels.append(DesktopChannel(desktop))
    if settings.get("notify.email_enabled"):
        channels.append(EmailChannel(EmailConfig.from_settings(settings)))
    limit = min(MAX_WEBHOOKS, int(settings.get("limits.webhooks")))
    for url in list(settings.get("notify.webhook_urls"))[:limit]:
        channels.append(WebhookChannel(url, secret=webhook_secret))
    return channels


class Dispatcher:
    """Sends one notification to every channel at once and logs each delivery.

    ``deadline`` bounds the wait for all of them together; a channel still
    running then is logged as failed ("still running") and left to finish
    on its own thread, so the caller (a job, a command) is never held longer.
    """

    def __init__(self, channels: Sequence[Channel], store: Store | None = None, *,
                 deadline: float = WEBHOOK_ATTEMPTS * (WEBHOOK_TIMEOUT_S + 2 * WEBHOOK_BACKOFF_S),
                 max_workers: int = 16) -> None:
        self.channels = list(channels)
        self.store = store
        self.deadline = deadline
        self.max_workers = max_workers

    def send(self, notification: Notification,
             channels: Iterable[Channel] | None = None) -> list[DeliveryResult]:
        chosen = list(self.channels if channels is None else channels)
        if not chosen:
            return []
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(chosen)), thread_name_prefix="notify")
        futures = {pool.submit(_safe_send, ch, notification): ch for ch in chosen}
        done, pending = concurrent.futures.wait(futures, timeout=self.deadline)
        # Do not join the pool's threads: a stuck channel must not hold the caller.
        pool.shutdown(wait=False, cancel_futures=True)
        results = [f.result() for f in futures if f in done]
        for future in pending:
            ch = futures[future]
            results.append(DeliveryResult(ch.name, ch.target, False,
                                          error=f"still running after {self.deadline:g} s"))
        self._log(notification, results)
        return results

    def _log(self, notification: Notification, results: list[DeliveryResult]) -> None:
        log_deliveries(self.store, results, str(notification.kind), notification.alert_id)


def log_deliveries(store: Store | None, results: Sequence[DeliveryResult], event: str,
                   alert_id: int | None = None) -> None:
    """Write deliveries to the delivery log (and failures to the app log)."""
    for r in results:
        if not r.ok:
            log.warning("delivery (%s) by %s to %s failed: %s", event, r.channel, r.target,
                        r.error)
    if store is None or store.read_only:
        return
    with store.session(), store.writing():
        for r in results:
            NotificationDelivery.create(channel=r.channel, target=r.target, alert_id=alert_id,
                                        event=event, ok=r.ok, attempts=r.attempts,
                                        status=r.status, error=r.error[:500],
                                        elapsed_ms=r.elapsed_ms)


def _safe_send(channel: Channel, notification: Notification) -> DeliveryResult:
    started = time.monotonic()
    try:
        return channel.send(notification)
    except Exception as exc:  # a broken channel is a failed delivery, never a crash
        log.exception("the %s channel failed", channel.name)
        return DeliveryResult(channel.name, channel.target, False,
                              error=f"{type(exc).__name__}: {exc}",
                              elapsed_ms=(time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class DeliveryLogEntry:
    timestamp: dt.datetime
    channel: str
    target: str
    alert_id: int | None
    event: str
    ok: bool
    attempts: int
    status: int | None
    error: str


def delivery_log(limit: int = 200, channel: str | None = None) -> list[DeliveryLogEntry]:
    query = NotificationDelivery.select().order_by(NotificationDelivery.id.desc()).limit(limit)
    if channel is not None:
        query = query.where(NotificationDelivery.channel == channel)
    return [DeliveryLogEntry(r.timestamp, r.channel, r.target, r.alert_id, r.event, r.ok,
                             r.attempts, r.status, r.error) for r in query]

