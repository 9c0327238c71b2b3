"""``wg-desktop demo-portal``: run the demo portal standalone until Ctrl-C or
SIGTERM. Also runnable as ``python -m wg_desktop.demo.command``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from wg_desktop.demo.config import DEFAULT_REDIRECT_URIS, DemoConfig
from wg_desktop.demo.faults import Faults
from wg_desktop.demo.server import DemoPortal

_FAULT_FLAGS = (
    ("latency_ms", float, "fixed latency added to every API answer, in ms"),
    ("latency_jitter_ms", float, "uniform random +/- jitter around --latency-ms, in ms"),
    ("error_5xx_rate", float, "probability of a 500/502/503/504 answer"),
    ("slow_rate", float, "probability of an answer delayed by --slow-seconds"),
    ("slow_seconds", float, "delay of a slow answer, in seconds (default 35, past a 30-s client timeout)"),
    ("drop_rate", float, "probability of closing the connection without an answer"),
    ("unauthorized_rate", float, "probability of a 401 for a valid token"),
    ("malformed_json_rate", float, "probability of a body that is not valid JSON"),
    ("truncated_rate", float, "probability of a body cut short (Content-Length says more)"),
    ("cut_off_rate", float, "probability of a 2xx JSON body cut off mid-way (Content-Length fits the cut)"),
    ("oversized_rate", float, "probability of a valid but huge JSON body"),
    ("oversized_bytes", int, "size of an oversized body, in bytes"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "localhost"),
                   help="loopback host name to bind and print")
    p.add_argument("--workflows", type=int, default=50, help="workflows per portal that has them (max 20000)")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated data and demo credentials")
    p.add_argument("--extra-portals", type=int, default=0,
                   help="additional Enterprise portals with workflows (for multi-portal setups)")
    p.add_argument("--token-ttl", type=float, default=1800, help="access-token lifetime in seconds")
    p.add_argument("--code-ttl", type=float, default=300, help="authorization-code lifetime in seconds")
    p.add_argument("--redirect-uri", action="append", dest="redirect_uris", metavar="URI",
                   help=f"registered redirect URI (repeatable; default {DEFAULT_REDIRECT_URIS[0]})")
    p.add_argument("--rotate-refresh-tokens", action="store_true",
                   help="issue a new refresh token on every refresh and invalidate the old one")
    p.add_argument("--burst-limit", type=int, default=100, help="requests per burst window per app per portal")
    p.add_argument("--burst-window", type=float, default=10.0, help="burst window in seconds (rolling)")
    p.add_argument("--daily-limit", type=int, default=None, help="requests per day per app per portal")
    p.add_argument("--no-retry-after", action="store_true", help="do not send Retry-After on 429")
    p.add_argument("--drift-interval", type=float, default=None,
                   help="every N seconds a colleague changes a few workflows (default off)")
    p.add_argument("--drift-changes", type=int, default=3, help="workflows changed per drift step")
    p.add_argument("--creation-pending", type=float, default=0.0,
                   help="seconds a new flow stays crmObjectCreationStatus PENDING")
    p.add_argument("--lenient-put", action="store_true",
                   help="ignore read-only keys in PUT bodies instead of rejecting them")
    group = p.add_argument_group("faults (probabilities are 0..1)")
    for name, kind, text in _FAULT_FLAGS:
        group.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None, help=text)
    p.add_argument("--json", action="store_true", help="print the start-up information as one JSON line")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    fault_values = {name: getattr(args, name) for name, _, _ in _FAULT_FLAGS if getattr(args, name) is not None}
    return DemoConfig(
        seed=args.seed, workflows=args.workflows, port=args.port, host=args.host,
        token_ttl=args.token_ttl, code_ttl=args.code_ttl,
        burst_limit=args.burst_limit, burst_window_s=args.burst_window, daily_limit=args.daily_limit,
        send_retry_after=not args.no_retry_after, rotate_refresh_tokens=args.rotate_refresh_tokens,
        drift_interval=args.drift_interval, drift_changes=args.drift_changes,
        faults=Faults(**fault_values),
        redirect_uris=tuple(args.redirect_uris) if args.redirect_uris else DEFAULT_REDIRECT_URIS,
        extra_portals=args.extra_portals, creation_pending_s=args.creation_pending,
        strict_put_keys=not args.lenient_put)


def startup_info(portal: DemoPortal) -> dict[str, Any]:
    return {
        "baseUrl": portal.base_url,
        "authorizeUrl": f"{portal.base_url}/oauth/authorize",
        "tokenUrl": f"{portal.base_url}/oauth/v1/token",
        "clientId": portal.client_id,
        "clientSecret": portal.client_secret,
        "redirectUris": list(portal.redirect_uris),
        "portals": [{"portalId": pid, "name": portal.portal_profile(pid).name,
                     "hasWorkflows": portal.portal_profile(pid).has_workflows,
                     "workflows": portal.workflow_count(pid),
                     "privateAppToken": portal.private_app_token(pid)} for pid in portal.portal_ids],
        "faults": {k: v for k, v in portal.faults.as_dict().items() if v != getattr(Faults(), k)},
    }


def _print_banner(info: dict[str, Any]) -> None:
    print("WorkflowGuard demo portal — a local HubSpot look-alike (not HubSpot; demo credentials only)")
    print(f"  base URL:       {info['baseUrl']}")
    print(f"  authorize URL:  {info['authorizeUrl']}")
    print(f"  token URL:      {info['tokenUrl']}")
    print(f"  client id:      {info['clientId']}")
    print(f"  client secret:  {info['clientSecret']}")
    for uri in info["redirectUris"]:
        print(f"  redirect URI:   {uri}")
    print("  portals:")
    for p in info["portals"]:
        what = f"{p['workflows']} workflows" if p["hasWorkflows"] else "plan without workflows"
        print(f"    {p['portalId']}  {p['name']}  ({what})")
        print(f"             private-app token: {p['privateAppToken']}")
    faults = ", ".join(f"{k}={v}" for k, v in info["faults"].items()) or "none"
    print(f"  faults:         {faults}  (change at runtime: POST {info['baseUrl']}/__demo__/faults)")
    print("Press Ctrl-C to stop.", flush=True)


def run(args: argparse.Namespace, env: Any = None) -> int:
    try:
        config = config_from_args(args)
    except (TypeError, ValueError) as exc:
        print(f"demo-portal: {exc}", file=sys.stderr)
        return 2
    try:
        portal = DemoPortal(config).start()
    except OSError as exc:
        print(f"demo-portal: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = startup_info(portal)
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            _print_banner(info)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        portal.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("demo portal stopped", flush=True)
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo-portal", help="run the built-in demo HubSpot portal until Ctrl-C",
                              description="Serve a local HubSpot look-alike (OAuth, account and workflow "
                                          "APIs) for trying the app, tests and benchmarks.")
    add_arguments(p)
    p.set_defaults(handler=run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wg-desktop demo-portal",
                                     description="Serve a local HubSpot look-alike.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
