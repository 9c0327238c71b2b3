"""``wg-desktop health [--json]`` and ``wg-desktop alerts [list|ack|test]``.

``health`` runs a check of every monitored portal now (alerts follow, as
from the scheduled job) and prints each status with its last samples; it
exits 1 when a portal is unhealthy, so a script can act on it.
"""

from __future__ import annotations

import argparse

from wg_desktop.cli.base import CliEnv, CliError, ExitCode, emit_json
from wg_desktop.services.alerts import AlertNotFound, AlertService, build_health_services
from wg_desktop.services.health import HealthStatus, samples
from wg_desktop.services.notifiers import (Dispatcher, EmailChannel, EmailConfig,
                                           WebhookChannel, probe_notification)

LAST_SAMPLES = 5


def cmd_health(args: argparse.Namespace, env: CliEnv) -> int:
    ctx = env.context()
    hub = env.hubspot()
    services = build_health_services(ctx.settings, ctx.store, ctx.audit, hub)
    results = services.monitor.check_all()
    if not results:
        raise CliError("no portal is connected: connect one with 'wg-desktop connect'")
    rows = []
    for sample in results:
        history = samples(sample.portal_key, limit=LAST_SAMPLES)
        rows.append({**sample.to_dict(), "last_samples": [s.to_dict() for s in history]})
    if args.json:
        emit_json(rows)
    else:
        for sample, row in zip(results, rows):
            f = sample.figures
            avg = f"{f.avg_response_ms:.0f} ms" if f.avg_response_ms is not None else "-"
            rate = f"{f.error_rate:.1%}" if f.error_rate is not None else "-"
            left = f.rate_remaining if f.rate_remaining is not None else "-"
            connections = f.active_connections if f.active_connections is not None else "-"
            print(f"portal {sample.portal_key}: {sample.status}")
            for reason in sample.reasons:
                print(f"  {reason}")
            print(f"  calls {f.calls} (failed {f.failed_calls}, error rate {rate}), "
                  f"average response {avg}, rate budget left {left}, "
                  f"open connections {connections}")
            print("  last samples: " + ", ".join(
                f"{s['timestamp'][11:19]} {s['status']}" for s in row["last_samples"]))
    unhealthy = any(s.status is HealthStatus.UNHEALTHY for s in results)
    return ExitCode.FAILED if unhealthy else ExitCode.DONE


def _alerts(env: CliEnv) -> AlertService:
    ctx = env.context()
    return AlertService(ctx.store, ctx.settings, ctx.audit)


def cmd_alerts_list(args: argparse.Namespace, env: CliEnv) -> int:
    found = _alerts(env).alerts(open_only=not args.all, limit=args.limit)
    if args.json:
        emit_json([a.to_dict() for a in found])
    elif not found:
        print("No open alerts." if not args.all else "No alerts.")
    else:
        for a in found:
            state = ("resolved" if a.resolved_at else
                     "acknowledged" if a.acknowledged_at else "open")
            print(f"{a.id:<6} {a.severity:<9} {state:<13} {a.last_seen.isoformat()[:19]}  "
                  f"x{a.count:<4} {a.title}")
    return ExitCode.DONE


def cmd_alerts_ack(args: argparse.Namespace, env: CliEnv) -> int:
    try:
        alert = _alerts(env).acknowledge(args.id)
    except AlertNotFound as exc:
        raise CliError(str(exc)) from None
    print(f"Acknowledged alert {alert.id}: {alert.title}")
    return ExitCode.DONE


def cmd_alerts_test(args: argparse.Namespace, env: CliEnv) -> int:
    ctx = env.context()
    settings = ctx.settings
    if args.channel == "email":
        config = EmailConfig.from_settings(settings)
        channels = [EmailChannel(config)]
    else:
        urls = list(settings.get("notify.webhook_urls"))
        if not urls:
            raise CliError("no webhook is set: 'wg-desktop settings set notify.webhook_urls "
                           "URL[,URL...]'")
        # Signed as the alerts are, so the receiver's signature check is tested too.
        secret = str(settings.get("notify.webhook_secret") or "") or None
        channels = [WebhookChannel(url, secret=secret) for url in urls]
    results = Dispatcher(channels, ctx.store).send(probe_notification())
    for r in results:
        print(f"{r.channel} {r.target}: " + ("sent" if r.ok else f"FAILED: {r.error}"))
    return ExitCode.DONE if all(r.ok for r in results) else ExitCode.FAILED


def register(sub: argparse._SubParsersAction) -> None:
    health = sub.add_parser("health", help="check every portal's connection health now",
                            description="Run a health check of every connected portal now "
                            "and print its status and last samples (exit 1 when a portal "
                            "is unhealthy).")
    health.add_argument("--json", action="store_true", help="machine-readable output")
    health.set_defaults(handler=cmd_health)

    alerts = sub.add_parser("alerts", help="list, acknowledge or test alerts")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    alerts.set_defaults(handler=cmd_alerts_list, json=False, all=False, limit=200)
    listing = alerts_sub.add_parser("list", help="open alerts (--all: every alert)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(handler=cmd_alerts_list)
    ack = alerts_sub.add_parser("ack", help="acknowledge an alert (no more repeats)")
    ack.add_argument("id", type=int)
    ack.set_defaults(handler=cmd_alerts_ack)
    test = alerts_sub.add_parser("test", help="send a test notification through a channel")
    test.add_argument("channel", choices=("email", "webhook"))
    test.set_defaults(handler=cmd_alerts_test)
