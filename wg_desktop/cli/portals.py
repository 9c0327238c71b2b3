"""CLI commands for portals: connect (browser + loopback, pasted code, or a
private-app token), list, test, disconnect."""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser

from wg_desktop.cli.base import CliEnv, CliError, ExitCode, emit_json
from wg_desktop.services.hubspot_setup import describe_target
from wg_desktop.services.loopback import LoopbackReceiver
from wg_desktop.services.oauth_flow import code_from_pasted_text
from wg_desktop.store.models import Portal, PortalStatus

PRIVATE_APP_TOKEN_ENV = "WG_PRIVATE_APP_TOKEN"
LOOPBACK_TIMEOUT_S = 600


def _portal_row(portal: Portal) -> dict[str, object]:
    return {"hub_id": portal.hub_id, "name": portal.name, "domain": portal.domain,
            "status": portal.status, "auth": portal.auth_kind, "user": portal.user_email,
            "demo": portal.is_demo,
            "token_expires_at": portal.token_expires_at.isoformat()
            if portal.token_expires_at else None,
            "last_refresh_at": portal.last_refresh_at.isoformat()
            if portal.last_refresh_at else None,
            "scopes": portal.scopes.split()}


def cmd_connect(args: argparse.Namespace, env: CliEnv) -> int:
    hub = env.hubspot()
    connection = hub.connection
    if args.private_app_token:
        token = os.environ.get(PRIVATE_APP_TOKEN_ENV) or sys.stdin.readline().strip()
        if not token:
            raise CliError(f"no token: pipe it on standard input or set {PRIVATE_APP_TOKEN_ENV}")
        portal = connection.connect_private_app(token)
    else:
        request = connection.authorization_request()
        if args.paste:
            print(f"Open this address in a browser and allow access:\n\n  {request.url}\n")
            print("Then paste the address the browser ended on (or the code):", flush=True)
            code = code_from_pasted_text(request, sys.stdin.readline())
        else:
            receiver = LoopbackReceiver(request)
            print(f"Open this address in a browser and allow access:\n\n  {request.url}\n")
            print(f"Waiting for the browser on {request.redirect_uri} …", flush=True)
            if not args.no_browser:
                webbrowser.open(request.url)
            code = receiver.wait(timeout=LOOPBACK_TIMEOUT_S)
        portal = connection.complete_oauth(request, code)
    print(f"Connected {portal.name} (portal {portal.hub_id}, {portal.auth_kind}).")
    return 0


def cmd_portals(args: argparse.Namespace, env: CliEnv) -> int:
    rows = [_portal_row(p) for p in env.hubspot().connection.portals()]
    if args.json:
        emit_json(rows)
    elif not rows:
        print("No portals connected. Connect one with 'wg-desktop connect'.")
    else:
        for row in rows:
            demo = " [demo]" if row["demo"] else ""
            print(f"{row['hub_id']:<12} {row['name']:<32} {row['status']:<17} "
                  f"{row['auth']}{demo}")
    return 0


def cmd_status(args: argparse.Namespace, env: CliEnv) -> int:
    connection = env.hubspot().connection
    portals = [connection.portal(args.portal)] if args.portal else connection.portals()
    if not portals:
        raise CliError("no portal is connected: connect one with 'wg-desktop connect'")
    results = [connection.test_connection(p.hub_id) for p in portals]
    if not args.json:
        print(f"Talking to {describe_target(env.hubspot())}.")
    if args.json:
        emit_json([{"hub_id": r.hub_id, "state": str(r.state), "ok": r.ok,
                    "response_ms": round(r.response_ms, 1), "message": r.message}
                   for r in results])
    else:
        for portal, result in zip(portals, results):
            print(f"{portal.hub_id:<12} {portal.name:<32} {result.message}")
    if any(r.state == PortalStatus.RECONNECT_NEEDED for r in results):
        return ExitCode.NEEDS_RECONNECT
    return ExitCode.DONE if all(r.ok for r in results) else ExitCode.FAILED


def cmd_disconnect(args: argparse.Namespace, env: CliEnv) -> int:
    connection = env.hubspot().connection
    portal = connection.portal(args.portal)
    # Refused (PortalBusy: exit status 4) while a sync or restore of it runs.
    steps = connection.disconnect(portal.hub_id, keep_history=not args.delete_history)
    for step in steps:
        print(step)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    connect = sub.add_parser("connect", help="connect a HubSpot portal",
                             description="Connect a portal: sign in through the browser "
                             "(the answer comes back to a loopback listener on the redirect "
                             "URI's port), paste the answer, or use a private app token.")
    how = connect.add_mutually_exclusive_group()
    how.add_argument("--private-app-token", action="store_true",
                     help=f"read a private app token from stdin or {PRIVATE_APP_TOKEN_ENV} "
                          "(never from the command line)")
    how.add_argument("--paste", action="store_true",
                     help="print the sign-in address and read the answer from stdin")
    connect.add_argument("--no-browser", action="store_true",
                         help="only print the address (headless machines)")
    connect.set_defaults(handler=cmd_connect)

    portals = sub.add_parser("portals", help="list connected portals")
    portals.add_argument("--json", action="store_true", help="machine-readable output")
    portals.set_defaults(handler=cmd_portals)

    status = sub.add_parser("status", help="test the connection of portals (response time)")
    status.add_argument("portal", nargs="?", help="hub id or name (default: all)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    disconnect = sub.add_parser("disconnect", help="revoke a portal's access and forget its "
                                "tokens (history kept unless --delete-history)")
    disconnect.add_argument("portal", help="hub id or name")
    disconnect.add_argument("--delete-history", action="store_true",
                            help="also delete the portal's local workflow history")
    disconnect.set_defaults(handler=cmd_disconnect)
