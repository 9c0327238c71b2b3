"""The demo portal: a threaded HTTP/1.1 server on the loopback interface that
looks like HubSpot's OAuth, account and workflow APIs.

    with DemoPortal(DemoConfig(seed=7, workflows=50)) as portal:
        tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
        httpx.get(portal.base_url + "/automation/v4/flows",
                  headers={"Authorization": f"Bearer {tokens['access_token']}"})

One base URL serves both the API (api.hubapi.com) and the authorize pages
(app.hubspot.com). Control endpoints under ``/__demo__/`` let a test or the
CLI change faults at runtime and read the state and the request log. Stdlib
only; no Qt.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from wg_desktop.demo.account import AccountApi
from wg_desktop.demo.config import DEMO_APP_SCOPES, DemoConfig, PortalProfile, portal_profiles
from wg_desktop.demo.data import FlowNotFound, FlowStore
from wg_desktop.demo.drift import DriftChange, Drifter
from wg_desktop.demo.faults import (BODY_FAULTS, NO_FAULT, SUCCESS_ONLY_FAULTS, FaultInjector, FaultKind,
                                    FaultPlan, Faults, cut_off, malformed, oversized)
from wg_desktop.demo.flows import Call, FlowsApi
from wg_desktop.demo.framing import FramingError, read_body
from wg_desktop.demo.legacy import LegacyWorkflowsApi
from wg_desktop.demo.oauth import OAuthService, short_token_id
from wg_desktop.demo.ratelimit import RateLimiter, too_many_requests
from wg_desktop.demo.wire import (BadRequestBody, Request, Response, hubspot_error, json_response,
                                  not_found)

__all__ = ["DemoPortal", "DemoConfig", "Faults", "RequestLogEntry", "DriftChange", "FLOW_VERSIONS"]

log = logging.getLogger(__name__)

# Which version segments the workflow routes answer: v4 and any date
# version such as 2026-03 or 2026-09-beta.
FLOW_VERSIONS = r"v4|\d{4}-\d{2}(?:-beta)?"
ACCOUNT_VERSIONS = r"v3|\d{4}-\d{2}(?:-beta)?"
OAUTH_VERSIONS = r"v3|\d{4}-\d{2}"
SERVER_NAME = "WorkflowGuardDemoPortal/1.0"

_TOKEN_IN_PATH = re.compile(r"^(/oauth/v1/(?:access|refresh)-tokens/)[^/]+")
_SECRET_QUERY_KEYS = frozenset({"client_secret", "refresh_token", "code", "code_verifier", "token",
                                "access_token", "hapikey", "request_id"})


class RouteKind(enum.StrEnum):
    CONTROL = "control"   # /__demo__/...: no faults, no auth
    PAGE = "page"         # authorize pages: no faults, no auth
    OAUTH = "oauth"       # token endpoints: faults, no Bearer auth
    API = "api"           # Bearer auth, rate limits, faults


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    kind: RouteKind
    handler: Callable[[Call], Response]


@dataclass(frozen=True)
class RequestLogEntry:
    """One served request. ``token_id`` is a short hash, never the token;
    ``status`` 0 means the connection was dropped without an answer."""

    method: str
    path: str
    status: int
    latency_ms: float
    token_id: str | None
    timestamp: float
    portal_id: int | None = None
    fault: str | None = None
    query: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, methods: str, pattern: str, kind: RouteKind, handler: Callable[[Call], Response]) -> None:
        self._routes.append(Route(frozenset(methods.split("|")), re.compile(f"^{pattern}$"), kind, handler))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], set[str]]:
        allowed: set[str] = set()
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if method in route.methods:
                return route, found.groupdict(), allowed
            allowed |= route.methods
        return None, {}, allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], portal: "DemoPortal") -> None:
        self.portal = portal
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    sys_version = ""
    timeout = 120            # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.portal._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.portal._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the portal keeps its own request log; never print request lines (tokens in paths)

    def _serve(self) -> None:
        self.server.portal._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class DemoPortal:
    """A HubSpot look-alike on 127.0.0.1. Thread-safe; use as a context manager
    or call ``start()`` / ``stop()``."""

    def __init__(self, config: DemoConfig | None = None) -> None:
        self.config = config or DemoConfig()
        cfg = self.config
        profiles = portal_profiles(cfg.extra_portals)
        self._profiles: dict[int, PortalProfile] = {p.portal_id: p for p in profiles}
        self._stores: dict[int, FlowStore] = {
            p.portal_id: FlowStore(p.portal_id, cfg.seed, cfg.workflows,
                                   creation_pending_s=cfg.creation_pending_s)
            for p in profiles if p.has_workflows}
        self._oauth = OAuthService(cfg, profiles)
        self._limiter = RateLimiter(cfg.burst_limit, cfg.burst_window_s, cfg.daily_limit)
        self._faults = FaultInjector(cfg.faults, cfg.seed)
        self._drifter = Drifter(self._stores, cfg.seed)
        self._flows = FlowsApi(self._stores, self._profiles, strict_put_keys=cfg.strict_put_keys)
        self._legacy = LegacyWorkflowsApi(self._stores, self._profiles)
        self._account = AccountApi(self._profiles, daily_limit=cfg.daily_limit)
        self._log: deque[RequestLogEntry] = deque(maxlen=cfg.request_log_size)
        self._log_lock = threading.Lock()
        self._served = 0
        self._drift_applied = 0
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._drift_thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_opened = 0
        self._conn_lock = threading.Lock()
        self._base_url: str | None = None
        self._router = self._build_router()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> "DemoPortal":
        if self._server is not None:
            return self
        if self._stop_event.is_set():
            raise RuntimeError("a stopped DemoPortal cannot be started again; create a new one")
        bind_host = "127.0.0.1" if self.config.host == "localhost" else self.config.host
        self._server = _Server((bind_host, self.config.port), self)
        port = self._server.server_address[1]
        self._base_url = f"http://{self.config.host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name=f"demo-portal-{port}", daemon=True)
        self._thread.start()
        if self.config.drift_interval:
            self._drift_thread = threading.Thread(target=self._drift_loop, name=f"demo-drift-{port}",
                                                  daemon=True)
            self._drift_thread.start()
        return self

    def stop(self) -> None:
        if self._stop_event.is_set():
            return
        self._stop_event.set()
        server = self._server
        if server is not None:
            # shutdown() waits for the accept loop to notice; poke the listening
            # socket so it does at once instead of after a poll interval.
            stopper = threading.Thread(target=server.shutdown, name="demo-portal-stop", daemon=True)
            stopper.start()
            while stopper.is_alive():
                try:
                    with socket.create_connection(server.server_address[:2], timeout=0.2):
                        pass
                except OSError:
                    pass
                stopper.join(0.02)
            server.server_close()
        with self._conn_lock:
            open_connections = list(self._connections.items())
        for conn, _ in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in open_connections:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        for thread in (self._thread, self._drift_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)

    def __enter__(self) -> "DemoPortal":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _drift_loop(self) -> None:
        interval = self.config.drift_interval or 1.0
        while not self._stop_event.wait(interval):
            try:
                self.drift_once(self.config.drift_changes)
            except Exception:  # pragma: no cover - keep drifting whatever happens
                log.exception("demo portal drift step failed")

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections[conn] = threading.current_thread()
                self._connections_opened += 1
            else:
                self._connections.pop(conn, None)

    # -- public in-process API ----------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the demo portal is not started")
        return self._base_url

    @property
    def client_id(self) -> str:
        return self._oauth.app.client_id

    @property
    def client_secret(self) -> str:
        return self._oauth.app.client_secret

    @property
    def app_id(self) -> int:
        return self._oauth.app.app_id

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return self._oauth.app.redirect_uris

    @property
    def portal_ids(self) -> tuple[int, ...]:
        return tuple(self._profiles)

    def portal_profile(self, portal_id: int) -> PortalProfile:
        return self._profiles[portal_id]

    def private_app_token(self, portal_id: int) -> str:
        return self._oauth.private_app_token(portal_id)

    def authorize_url(self, *, state: str | None = None, scopes: tuple[str, ...] = DEMO_APP_SCOPES,
                      redirect_uri: str | None = None, code_challenge: str | None = None,
                      account_id: int | None = None) -> str:
        params = {"client_id": self.client_id, "redirect_uri": redirect_uri or self.redirect_uris[0],
                  "scope": " ".join(scopes)}
        if state is not None:
            params["state"] = state
        if code_challenge is not None:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        path = f"/oauth/{account_id}/authorize" if account_id is not None else "/oauth/authorize"
        return f"{self.base_url}{path}?{urlencode(params)}"

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Replace the faults (``set_faults(Faults(...))``) or change some
        fields (``set_faults(error_5xx_rate=0.2)``); returns the new value."""
        base = faults if faults is not None else self._faults.faults
        return self._faults.set(base.replace(**changes) if changes else base)

    def request_log(self) -> list[RequestLogEntry]:
        with self._log_lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    @property
    def rate_limit_violations(self) -> int:
        return self._limiter.violations

    def drift_once(self, n: int = 3) -> list[DriftChange]:
        changes = self._drifter.step(n)
        with self._log_lock:
            self._drift_applied += len(changes)
        return changes

    def workflow_count(self, portal_id: int) -> int:
        if portal_id not in self._profiles:
            raise KeyError(f"no demo portal {portal_id}")
        store = self._stores.get(portal_id)
        return store.count() if store is not None else 0

    def flow_ids(self, portal_id: int) -> list[str]:
        store = self._stores.get(portal_id)
        return [str(i) for i in store.flow_ids()] if store is not None else []

    def get_flow(self, portal_id: int, flow_id: str | int) -> dict[str, Any]:
        """The server's current version of a flow (a deep copy)."""
        store = self._stores.get(portal_id)
        if store is None:
            raise KeyError(f"portal {portal_id} has no workflows")
        try:
            return json.loads(json.dumps(store.get(int(flow_id))))
        except (FlowNotFound, ValueError):
            raise KeyError(f"no flow {flow_id} in portal {portal_id}") from None

    def issue_tokens_for_tests(self, portal_id: int, scopes: tuple[str, ...] | None = None) -> dict[str, Any]:
        """A token response as ``POST /oauth/v1/token`` would return it."""
        return self._oauth.issue_tokens(portal_id, scopes)

    def state(self) -> dict[str, Any]:
        with self._log_lock:
            served, drifted = self._served, self._drift_applied
        with self._conn_lock:
            opened, open_now = self._connections_opened, len(self._connections)
        return {
            "baseUrl": self._base_url, "clientId": self.client_id, "appId": self.app_id,
            "redirectUris": list(self.redirect_uris),
            "portals": [{"portalId": p.portal_id, "name": p.name, "plan": p.plan,
                         "hasWorkflows": p.has_workflows, "workflowCount": self.workflow_count(p.portal_id)}
                        for p in self._profiles.values()],
            "faults": self.faults.as_dict(),
            "rateLimit": {"burstLimit": self.config.burst_limit,
                          "intervalMilliseconds": int(self.config.burst_window_s * 1000),
                          "dailyLimit": self.config.daily_limit, "sendRetryAfter": self.config.send_retry_after,
                          "violations": self.rate_limit_violations},
            "tokenTtlSeconds": self.config.token_ttl,
            "rotateRefreshTokens": self.config.rotate_refresh_tokens,
            "drift": {"interval": self.config.drift_interval, "changes": self.config.drift_changes,
                      "applied": drifted},
            "requestsServed": served,
            "connections": {"opened": opened, "open": open_now},
            "tokens": self._oauth.counts(),
        }

    # -- routing -----------------------------------------------------------------------
    def _build_router(self) -> Router:
        r = Router()
        o, f, lg, acc = self._oauth, self._flows, self._legacy, self._account
        P, OA, API, CTL = RouteKind.PAGE, RouteKind.OAUTH, RouteKind.API, RouteKind.CONTROL
        # authorize pages (app.hubspot.com)
        r.add("GET", r"/oauth/authorize", P, lambda c: o.authorize_page(c.req, None))
        r.add("GET", r"/oauth/(?P<account>\d{1,12})/authorize", P,
              lambda c: o.authorize_page(c.req, int(c.params["account"])))
        r.add("GET|POST", r"/oauth/authorize/approve", P, lambda c: o.approve(c.req))
        r.add("GET|POST", r"/oauth/authorize/deny", P, lambda c: o.deny(c.req))
        # token endpoints (api.hubapi.com)
        r.add("POST", r"/oauth/v1/token", OA, lambda c: o.token(c.req, new_style=False))
        r.add("GET", r"/oauth/v1/access-tokens/(?P<token>[^/]+)", OA,
              lambda c: o.access_token_info(c.params["token"]))
        r.add("GET", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", OA,
              lambda c: o.refresh_token_info(c.params["token"]))
        r.add("DELETE", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", OA,
              lambda c: o.delete_refresh_token(c.params["token"]))
        r.add("POST", rf"/oauth/(?P<ver>{OAUTH_VERSIONS})/token", OA, lambda c: o.token(c.req, new_style=True))
        r.add("POST", rf"/oauth/(?P<ver>{OAUTH_VERSIONS})/token/introspect", OA, lambda c: o.introspect(c.req))
        r.add("POST", rf"/oauth/(?P<ver>{OAUTH_VERSIONS})/token/revoke", OA, lambda c: o.revoke(c.req))
        # account
        r.add("GET", rf"/account-info/(?P<ver>{ACCOUNT_VERSIONS})/details", API, acc.details)
        r.add("GET", rf"/account-info/(?P<ver>{ACCOUNT_VERSIONS})/api-usage/daily/private-apps", API,
              acc.private_app_usage)
        r.add("GET", r"/integrations/v1/me", API, acc.me)
        # workflows v4 / date versions
        base = rf"/automation/(?P<ver>{FLOW_VERSIONS})"
        r.add("GET", rf"{base}/flows", API, f.list)
        r.add("POST", rf"{base}/flows", API, f.create)
        r.add("POST", rf"{base}/flows/batch/read", API, f.batch_read)
        r.add("GET", rf"{base}/flows/(?P<flow_id>[^/]+)/revisions/(?P<revision_id>[^/]+)", API, f.revision)
        r.add("GET", rf"{base}/flows/(?P<flow_id>[^/]+)", API, f.get)
        r.add("PUT", rf"{base}/flows/(?P<flow_id>[^/]+)", API, f.put)
        r.add("DELETE", rf"{base}/flows/(?P<flow_id>[^/]+)", API, f.delete)
        r.add("POST", rf"{base}/workflow-id-mappings/batch/read", API, f.id_mappings)
        # legacy contact workflows
        r.add("GET", r"/automation/v3/workflows", API, lg.list)
        r.add("GET", r"/automation/v3/workflows/(?P<workflow_id>[^/]+)", API, lg.get)
        # control
        r.add("GET", r"/__demo__/state", CTL, lambda c: json_response(200, self.state()))
        r.add("GET", r"/__demo__/faults", CTL, lambda c: json_response(200, self.faults.as_dict()))
        r.add("POST", r"/__demo__/faults", CTL, self._control_faults)
        r.add("GET", r"/__demo__/requests", CTL, self._control_requests)
        r.add("POST", r"/__demo__/drift", CTL, self._control_drift)
        r.add("GET", r"/", P, lambda c: json_response(200, {
            "name": "WorkflowGuard demo portal (a HubSpot look-alike; not HubSpot)",
            "authorize": "/oauth/authorize", "token": "/oauth/v1/token",
            "flows": "/automation/v4/flows", "state": "/__demo__/state"}))
        return r

    def _control_faults(self, call: Call) -> Response:
        try:
            data = call.req.json()
            if not isinstance(data, dict):
                raise BadRequestBody("the body must be a JSON object of fault settings")
            data = dict(data)
            base = Faults() if data.pop("reset", False) else self.faults
            new = self._faults.set(Faults.from_mapping(data, base))
        except (BadRequestBody, TypeError, ValueError) as exc:
            return json_response(400, {"status": "error", "message": str(exc), "category": "VALIDATION_ERROR"})
        return json_response(200, new.as_dict())

    def _control_requests(self, call: Call) -> Response:
        entries = self.request_log()
        limit_text = call.req.arg("limit")
        if limit_text and limit_text.isdigit():
            entries = entries[-int(limit_text):] if int(limit_text) else []
        return json_response(200, {"results": [e.as_dict() for e in entries]})

    def _control_drift(self, call: Call) -> Response:
        n = self.config.drift_changes
        if call.req.body:
            try:
                data = call.req.json()
                n = int(data.get("n", n)) if isinstance(data, dict) else n
            except (BadRequestBody, TypeError, ValueError) as exc:
                return json_response(400, {"status": "error", "message": str(exc), "category": "VALIDATION_ERROR"})
        changes = self.drift_once(max(0, min(n, 1000)))
        return json_response(200, {"results": [dataclasses.asdict(c) for c in changes]})

    # -- request handling ------------------------------------------------------------------
    def _serve(self, h: _Handler) -> None:
        received = time.time()
        started = time.perf_counter()
        split = urlsplit(h.path)
        path = split.path or "/"
        token_id = _token_id(h.headers.get("Authorization"))
        try:
            body = read_body(h.headers, h.rfile)
        except FramingError as err:
            # Whatever follows on this connection cannot be told apart from this
            # request's body: answer and close, never read it as a next request.
            h.close_connection = True
            resp = hubspot_error(err.status, "VALIDATION_ERROR", str(err))
            self._record(h.command, path, split.query, resp.status, started, received, token_id, None, None)
            self._write(h, resp)
            return
        req = Request(h.command, path, parse_qs(split.query, keep_blank_values=True), h.headers, body)
        route, params, allowed = self._router.match(req.method, path)
        faultable = route is not None and route.kind in (RouteKind.API, RouteKind.OAUTH)
        plan: FaultPlan = self._faults.plan(authenticated=route.kind is RouteKind.API) \
            if faultable and route is not None else NO_FAULT
        portal_id: int | None = None
        if plan.latency_s > 0:
            self._stop_event.wait(plan.latency_s)
        if plan.kind is FaultKind.DROP:
            self._record(req.method, path, split.query, 0, started, received, token_id, None, plan.kind)
            self._drop(h)
            return
        if plan.kind is FaultKind.SLOW:
            if self._stop_event.wait(plan.slow_seconds):
                self._record(req.method, path, split.query, 0, started, received, token_id, None, plan.kind)
                self._drop(h)
                return
        if route is None:
            resp = (hubspot_error(405, "VALIDATION_ERROR", f"Method {req.method} is not allowed on {path}",
                                  headers=[("Allow", ", ".join(sorted(allowed)))])
                    if allowed else not_found(f"No such endpoint: {req.method} {path}"))
        elif plan.kind is FaultKind.ERROR_5XX:
            resp = _server_error(plan.status_5xx)
        elif plan.kind is FaultKind.UNAUTHORIZED:
            resp = hubspot_error(401, "INVALID_AUTHENTICATION",
                                 "The OAuth token used to make this call is invalid or has been revoked.")
        else:
            resp, portal_id = self._dispatch(route, params, req)
        truncate = False
        body_fault = plan.kind in BODY_FAULTS and bool(resp.body) and (
            plan.kind not in SUCCESS_ONLY_FAULTS or 200 <= resp.status < 300)
        if body_fault:
            if plan.kind is FaultKind.MALFORMED_JSON:
                resp.body = malformed(resp.body)
            elif plan.kind is FaultKind.OVERSIZED:
                resp.body = oversized(resp.payload, resp.body, plan.oversized_bytes)
            elif plan.kind is FaultKind.CUT_OFF:
                resp.body = cut_off(resp.body)    # _write sends the cut body's own length
            else:
                truncate = True
        fault = plan.kind if plan.kind is not None and (plan.kind not in BODY_FAULTS or body_fault) else None
        # Logged before the answer leaves, so a client that has its answer finds it in the log.
        self._record(req.method, path, split.query, resp.status, started, received, token_id, portal_id, fault)
        self._write(h, resp, truncate=truncate)

    def _dispatch(self, route: Route, params: dict[str, str], req: Request) -> tuple[Response, int | None]:
        call = Call(req=req, params=params, principal=None, base_url=self.base_url)
        portal_id = None
        try:
            if route.kind is RouteKind.API:
                auth = self._oauth.authenticate(req.header("Authorization"))
                if isinstance(auth, Response):
                    return auth, None
                call.principal = auth
                portal_id = auth.portal_id
                profile = self._profiles[auth.portal_id]
                private = auth.kind == "private_app"
                daily = self.config.daily_limit
                if daily is None and private:
                    daily = profile.private_app_daily_limit
                decision = self._limiter.check(auth.rate_key, time_zone=profile.time_zone,
                                               daily_limit=daily, daily_headers=private)
                if not decision.admitted:
                    group = f"publicapi:{'private-app' if private else 'oauth'}-api-calls-ten-secondly:{portal_id}"
                    return too_many_requests(decision, group=group,
                                             send_retry_after=self.config.send_retry_after), portal_id
                if private:
                    self._account.usage.count(portal_id)
                resp = route.handler(call)
                resp.headers.extend(decision.headers)
                return resp, portal_id
            return route.handler(call), portal_id
        except Exception:
            log.exception("demo portal handler failed for %s %s", req.method, _redact_path(req.path))
            return hubspot_error(500, "INTERNAL_ERROR", "internal error"), portal_id

    @staticmethod
    def _write(h: _Handler, resp: Response, *, truncate: bool = False) -> None:
        status = resp.status
        reason = h.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {SERVER_NAME}",
                 f"Date: {formatdate(usegmt=True)}"]
        body = resp.body
        if status == 204 or status == 304:
            body = b""
        else:
            if resp.content_type:
                lines.append(f"Content-Type: {resp.content_type}")
            lines.append(f"Content-Length: {len(body)}")
        for name, value in resp.headers:
            lines.append(f"{name}: {value}")
        if truncate:
            h.close_connection = True
        if h.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if h.command == "HEAD":
            body = b""
        elif truncate:
            body = body[: len(body) // 2]
        try:
            h.wfile.write(head + body)
            if truncate:
                h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            h.close_connection = True

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _record(self, method: str, path: str, query: str, status: int, started: float, received: float,
                token_id: str | None, portal_id: int | None, fault: FaultKind | None) -> None:
        entry = RequestLogEntry(method=method, path=_redact_path(path), status=status,
                                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                                token_id=token_id, timestamp=received, portal_id=portal_id,
                                fault=str(fault) if fault else None, query=_redact_query(query))
        with self._log_lock:
            self._log.append(entry)
            self._served += 1


def _token_id(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return short_token_id(token)


def _redact_path(path: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1<redacted>", path)


def _redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for key, values in parse_qs(query, keep_blank_values=True).items():
        for value in values:
            pairs.append((key, "<redacted>" if key.lower() in _SECRET_QUERY_KEYS else value))
    return urlencode(pairs)


def _server_error(status: int) -> Response:
    messages = {500: ("INTERNAL_ERROR", "internal error"),
                502: ("BAD_GATEWAY", "Bad Gateway: the upstream service did not answer"),
                503: ("SERVICE_UNAVAILABLE", "Service temporarily unavailable; try again later"),
                504: ("GATEWAY_TIMEOUT", "Gateway Timeout: the upstream service timed out")}
    category, message = messages.get(status, ("INTERNAL_ERROR", "internal error"))
    return hubspot_error(status, category, message)
