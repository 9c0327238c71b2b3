"""Typed HubSpot endpoint functions on top of :class:`HubSpotClient`.

Each function takes the portal's client first; keyword options
``priority``, ``cancel_event`` and ``on_wait`` are passed to the client (see
:meth:`HubSpotClient.request`). Reads that are cached accept ``force_refresh``
(skip the cache) and ``allow_stale`` (serve the last good answer, flagged
``stale=True``, while HubSpot is unreachable).

OAuth calls use the configured OAuth generation (``hubspot.oauth_api_version``:
``v1``, ``v3`` or ``2026-03``), go to the same API base, carry the client
credentials in the form body instead of an Authorization header, and are
counted by the portal's limiter and recorded like every other call.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypedDict

from wg_desktop.hubspot.cache import CacheKind
from wg_desktop.hubspot.endpoints import ApiFamily, OAuthGeneration
from wg_desktop.hubspot.errors import (
    ClientError,
    HubSpotError,
    MalformedResponse,
    NotFound,
    ReauthenticationNeeded,
)
from wg_desktop.hubspot.json_units import JsonItems
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.ratelimit import OnWait, Priority
from wg_desktop.hubspot.transport.client import ApiResponse, HubSpotClient

BATCH_SIZE = 100
PAGE_SIZE = 100
MAX_PAGES = 10_000

# Keys of a flow that HubSpot sets itself and a PUT does not accept.
READ_ONLY_FLOW_KEYS = frozenset({"id", "createdAt", "updatedAt", "dataSources",
                                 "crmObjectCreationStatus", "nextAvailableActionId",
                                 "objectTypeId", "flowType"})


class RequestOptions(TypedDict, total=False):
    priority: Priority
    cancel_event: threading.Event | None
    on_wait: OnWait | None


# ------------------------------------------------------------------ shapes

def _malformed(what: str, response: ApiResponse | None = None) -> MalformedResponse:
    return MalformedResponse(f"Unexpected response shape: {what}",
                             status=response.status if response else None,
                             correlation_id=response.correlation_id if response else None)


def _dict(value: Any, what: str, response: ApiResponse | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(f"{what} is not an object", response)
    return value


def _list(value: Any, what: str, response: ApiResponse | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _malformed(f"{what} is not a list", response)
    return value


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise _malformed(f"{what} has no usable id")
    return str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ types

@dataclass(frozen=True)
class FlowSummary:
    """One item of the flows list (``ApiFlowListing``)."""

    id: str
    revision_id: str
    name: str | None
    is_enabled: bool
    flow_type: str | None
    object_type_id: str | None
    created_at: str | None
    updated_at: str | None
    uuid: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "FlowSummary":
        d = _dict(data, "a flow listing")
        return cls(id=_id(d.get("id"), "a flow listing"),
                   revision_id=str(d.get("revisionId", "")), name=_opt_str(d.get("name")),
                   is_enabled=bool(d.get("isEnabled", False)),
                   flow_type=_opt_str(d.get("flowType")),
                   object_type_id=_opt_str(d.get("objectTypeId")),
                   created_at=_opt_str(d.get("createdAt")),
                   updated_at=_opt_str(d.get("updatedAt")), uuid=_opt_str(d.get("uuid")),
                   raw=d)


@dataclass(frozen=True)
class FlowPage:
    flows: tuple[FlowSummary, ...]
    next_after: str | None            # opaque cursor; None on the last page


@dataclass(frozen=True)
class FlowList:
    flows: tuple[FlowSummary, ...]
    from_cache: bool = False
    stale: bool = False
    age: float = 0.0


@dataclass(frozen=True)
class Flow:
    """A full flow (``ApiFlow``); ``raw`` is HubSpot's JSON, kept whole for history."""

    id: str
    revision_id: str
    name: str | None
    type: str | None                  # CONTACT_FLOW / PLATFORM_FLOW
    flow_type: str | None
    object_type_id: str | None
    is_enabled: bool
    updated_at: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    stale: bool = False

    @classmethod
    def from_json(cls, data: Any, stale: bool = False) -> "Flow":
        d = _dict(data, "a flow")
        return cls(id=_id(d.get("id"), "a flow"), revision_id=str(d.get("revisionId", "")),
                   name=_opt_str(d.get("name")), type=_opt_str(d.get("type")),
                   flow_type=_opt_str(d.get("flowType")),
                   object_type_id=_opt_str(d.get("objectTypeId")),
                   is_enabled=bool(d.get("isEnabled", False)),
                   updated_at=_opt_str(d.get("updatedAt")), raw=d, stale=stale)


@dataclass(frozen=True)
class FlowRevision:
    id: str
    revision_id: str
    revision_created_at: str | None
    flow: Flow


@dataclass(frozen=True)
class BatchItemError:
    message: str
    category: str | None
    status: str | None
    flow_ids: tuple[str, ...]         # the ids the error names (from its context)
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class WorkflowV3:
    id: int
    name: str | None
    type: str | None
    enabled: bool
    inserted_at: int | None           # epoch ms
    updated_at: int | None            # epoch ms
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "WorkflowV3":
        d = _dict(data, "a v3 workflow")
        wid = _opt_int(d.get("id"))
        if wid is None:
            raise _malformed("a v3 workflow has no usable id")
        return cls(id=wid, name=_opt_str(d.get("name")), type=_opt_str(d.get("type")),
                   enabled=bool(d.get("enabled", False)),
                   inserted_at=_opt_int(d.get("insertedAt")),
                   updated_at=_opt_int(d.get("updatedAt")), raw=d)


@dataclass(frozen=True)
class AccountDetails:
    portal_id: int
    account_type: str | None
    time_zone: str | None
    company_currency: str | None
    utc_offset: str | None
    utc_offset_ms: int | None
    ui_domain: str | None
    data_hosting_location: str | None
    portal_name: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    stale: bool = False

    @property
    def timezone(self) -> PortalTimezone:
        tz = PortalTimezone.from_offset_text(self.time_zone, self.utc_offset)
        if tz.utc_offset_ms is None and self.utc_offset_ms is not None:
            tz = PortalTimezone(self.time_zone, self.utc_offset_ms)
        return tz


@dataclass(frozen=True)
class PrivateAppUsage:
    """HubSpot's count of the account's private-app calls today
    (``private-apps-api-calls-daily``); ``resets_at`` is the account's next
    midnight. HubSpot sends no count for OAuth apps."""

    current_usage: int
    usage_limit: int | None
    resets_at: dt.datetime | None
    collected_at: dt.datetime | None
    fetch_status: str | None          # SUCCESS | CACHED | NOTFOUND | TIMEOUT | FAILURE


@dataclass(frozen=True)
class IntegrationsMe:
    portal_id: int
    time_zone: str | None
    currency: str | None
    utc_offset: str | None
    utc_offset_ms: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    stale: bool = False

    @property
    def timezone(self) -> PortalTimezone:
        return PortalTimezone(self.time_zone, self.utc_offset_ms)


@dataclass(frozen=True)
class OAuthCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = ""


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    token_type: str | None
    hub_id: int | None
    user_id: int | None
    scopes: tuple[str, ...]
    id_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AccessTokenInfo:
    token: str = field(repr=False)
    active: bool
    user: str | None                  # installing user's email
    user_id: int | None
    hub_id: int | None
    app_id: int | None
    scopes: tuple[str, ...]
    token_type: str | None
    expires_in: int | None
    hub_domain: str | None
    client_id: str | None = None


@dataclass(frozen=True)
class RefreshTokenInfo:
    token: str = field(repr=False)
    active: bool
    user: str | None
    user_id: int | None
    hub_id: int | None
    client_id: str | None
    scopes: tuple[str, ...]
    token_type: str | None
    hub_domain: str | None


# ------------------------------------------------------------------- flows

def list_flows_page(client: HubSpotClient, *, after: str | None = None,
                    limit: int = PAGE_SIZE, **opts: Any) -> FlowPage:
    params: dict[str, Any] = {"limit": limit}
    if after:
        params["after"] = after
    response = client.request(client.route("flows.list"), params=params, **opts)
    body = _dict(response.data, "the flows list", response)
    flows = tuple(FlowSummary.from_json(i) for i in _list(body.get("results", []),
                                                          "results", response))
    paging = body.get("paging")
    next_after = None
    if paging is not None:
        nxt = _dict(paging, "paging", response).get("next")
        if nxt is not None:
            cursor = _dict(nxt, "paging.next", response).get("after")
            next_after = str(cursor) if cursor not in (None, "") else None
    return FlowPage(flows, next_after)


def iter_flows(client: HubSpotClient, *, limit: int = PAGE_SIZE, **opts: Any
               ) -> Iterator[FlowSummary]:
    """Every flow of the portal, page by page (the cursor is opaque)."""
    after: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = list_flows_page(client, after=after, limit=limit, **opts)
        yield from page.flows
        if page.next_after is None:
            return
        if page.next_after in seen:
            raise _malformed("the flows list cursor repeats")
        seen.add(page.next_after)
        after = page.next_after
    raise _malformed(f"the flows list has more than {MAX_PAGES} pages")


def list_flows(client: HubSpotClient, *, force_refresh: bool = False,
               allow_stale: bool = False, limit: int = PAGE_SIZE, **opts: Any) -> FlowList:
    """All flows, cached as one workflow list (``cache.workflow_list_ttl``)."""
    key = client.cache_prefix(ApiFamily.FLOWS) + "all-flows"
    got = client.cached_read(key, CacheKind.WORKFLOW_LIST,
                             lambda: tuple(iter_flows(client, limit=limit, **opts)),
                             force_refresh=force_refresh, allow_stale=allow_stale,
                             label="list flows")
    return FlowList(tuple(got.value), got.from_cache, got.stale, got.age)


def get_flow(client: HubSpotClient, flow_id: str | int, *, force_refresh: bool = False,
             allow_stale: bool = False, **opts: Any) -> Flow:
    response = client.request(client.route("flows.get", flowId=flow_id), cache=CacheKind.API,
                              force_refresh=force_refresh, allow_stale=allow_stale, **opts)
    return Flow.from_json(response.data, stale=response.stale)


class FlowBatch:
    """One batch-read answer. Its flows are decoded one at a time while it is
    iterated (the answer was checked whole when it arrived, see
    ``json_units.JsonItems``): a caller storing them one by one holds one
    parsed flow, not a hundred — fewer live objects for every garbage
    collection to walk with the GIL held."""

    def __init__(self, items: Sequence[Any], errors: tuple[BatchItemError, ...],
                 partial: bool) -> None:
        self._items = items
        self.errors = errors          # what HubSpot reported (not-found ids, ...)
        self.partial = partial        # answered 207

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator["Flow | BatchItemError"]:
        """Each item as a Flow, or as a BatchItemError when it is not a usable
        flow: one bad item must not cost the other 99."""
        for item in self._items:
            try:
                yield Flow.from_json(item)
            except MalformedResponse as exc:
                flow_id = item.get("id") if isinstance(item, dict) else None
                yield BatchItemError(
                    f"malformed flow in the batch answer: {exc.message}", "MALFORMED", None,
                    (str(flow_id),) if flow_id is not None else (),
                    item if isinstance(item, dict) else {"item": item})


def read_flow_batch(client: HubSpotClient, flow_ids: Iterable[str | int],
                    **opts: Any) -> FlowBatch:
    """One ``flows/batch/read`` call for at most ``BATCH_SIZE`` ids."""
    ids = list(dict.fromkeys(str(i) for i in flow_ids))
    if len(ids) > BATCH_SIZE:
        raise ValueError(f"at most {BATCH_SIZE} flows per batch read, not {len(ids)}")
    response = client.request(client.route("flows.batch_read"), json_body={"inputs": [
        {"type": "FLOW_ID", "flowId": i} for i in ids]}, **opts)
    body = _dict(response.data, "the batch read answer", response)
    items = body.get("results", [])
    if not isinstance(items, (list, JsonItems)):
        raise _malformed("results is not a list", response)
    reported = body.get("errors", []) or []
    if isinstance(reported, JsonItems):
        reported = list(reported)         # a few small items: decoded now
    errors = tuple(_batch_error(_dict(err, "a batch error", response))
                   for err in _list(reported, "errors", response))
    return FlowBatch(items, errors, response.status == 207)


def _batch_error(err: dict[str, Any]) -> BatchItemError:
    context = err.get("context") if isinstance(err.get("context"), dict) else {}
    ids: list[str] = []
    for key in ("flowId", "flowIds", "ids", "id"):
        values = context.get(key)
        if isinstance(values, list):
            ids.extend(str(v) for v in values)
        elif values is not None:
            ids.append(str(values))
    return BatchItemError(message=str(err.get("message", "")),
                          category=_opt_str(err.get("category")),
                          status=_opt_str(err.get("status")), flow_ids=tuple(ids), raw=err)


def create_flow(client: HubSpotClient, body: Mapping[str, Any], **opts: Any) -> Flow:
    """Create a flow. Not retried after a possible send (it is not idempotent)."""
    response = client.request(client.route("flows.create"), json_body=dict(body), **opts)
    return Flow.from_json(response.data)


def update_flow(client: HubSpotClient, flow_id: str | int, body: Mapping[str, Any],
                revision_id: str, *, strip_read_only: bool = True, **opts: Any) -> Flow:
    """Full replace (PUT) with ``revisionId`` as the optimistic-concurrency token.
    A stale revision raises :class:`ConflictError` (or a 400 ClientError)."""
    payload = {k: v for k, v in body.items()
               if not (strip_read_only and k in READ_ONLY_FLOW_KEYS)}
    payload["revisionId"] = str(revision_id)
    response = client.request(client.route("flows.update", flowId=flow_id), json_body=payload,
                              **opts)
    return Flow.from_json(response.data)


def delete_flow(client: HubSpotClient, flow_id: str | int, **opts: Any) -> None:
    client.request(client.route("flows.delete", flowId=flow_id), **opts)


def get_flow_revision(client: HubSpotClient, flow_id: str | int, revision_id: str, *,
                      force_refresh: bool = False, **opts: Any) -> FlowRevision:
    """A historical revision (date-versioned flows API only, e.g. 2026-09-beta)."""
    response = client.request(client.route("flows.revision", flowId=flow_id,
                                           revisionId=revision_id),
                              cache=CacheKind.API, force_refresh=force_refresh, **opts)
    body = _dict(response.data, "a flow revision", response)
    return FlowRevision(id=_id(body.get("id", flow_id), "a flow revision"),
                        revision_id=str(body.get("revisionId", revision_id)),
                        revision_created_at=_opt_str(body.get("revisionCreatedAt")),
                        flow=Flow.from_json(body.get("flow")))


# ------------------------------------------------------- legacy workflows

def list_workflows_v3(client: HubSpotClient, *, force_refresh: bool = False,
                      allow_stale: bool = False, **opts: Any) -> tuple[WorkflowV3, ...]:
    response = client.request(client.route("workflows_v3.list"), cache=CacheKind.WORKFLOW_LIST,
                              force_refresh=force_refresh, allow_stale=allow_stale, **opts)
    body = _dict(response.data, "the v3 workflows list", response)
    return tuple(WorkflowV3.from_json(w) for w in _list(body.get("workflows", []),
                                                        "workflows", response))


def get_workflow_v3(client: HubSpotClient, workflow_id: int | str, *,
                    force_refresh: bool = False, allow_stale: bool = False,
                    **opts: Any) -> WorkflowV3:
    response = client.request(client.route("workflows_v3.get", workflowId=workflow_id),
                              cache=CacheKind.API, force_refresh=force_refresh,
                              allow_stale=allow_stale, **opts)
    return WorkflowV3.from_json(response.data)


# ------------------------------------------------------------ portal info

def account_details(client: HubSpotClient, *, force_refresh: bool = False,
                    allow_stale: bool = False, **opts: Any) -> AccountDetails:
    """Portal information (cached ``cache.portal_info_ttl``). Also teaches the
    client the portal's time zone, used for "daily limit resets at midnight"."""
    response = client.request(client.route("account.details"), cache=CacheKind.PORTAL_INFO,
                              force_refresh=force_refresh, allow_stale=allow_stale, **opts)
    d = _dict(response.data, "account details", response)
    portal_id = _opt_int(d.get("portalId"))
    if portal_id is None:
        raise _malformed("account details have no portalId", response)
    details = AccountDetails(
        portal_id=portal_id, account_type=_opt_str(d.get("accountType")),
        time_zone=_opt_str(d.get("timeZone")), company_currency=_opt_str(d.get("companyCurrency")),
        utc_offset=_opt_str(d.get("utcOffset")),
        utc_offset_ms=_opt_int(d.get("utcOffsetMilliseconds")),
        ui_domain=_opt_str(d.get("uiDomain")),
        data_hosting_location=_opt_str(d.get("dataHostingLocation")),
        portal_name=_opt_str(d.get("portalName")), raw=d, stale=response.stale)
    client.portal_timezone = details.timezone
    return details


def integrations_me(client: HubSpotClient, *, force_refresh: bool = False,
                    allow_stale: bool = False, **opts: Any) -> IntegrationsMe:
    response = client.request(client.route("integrations.me"), cache=CacheKind.PORTAL_INFO,
                              force_refresh=force_refresh, allow_stale=allow_stale, **opts)
    d = _dict(response.data, "/integrations/v1/me", response)
    portal_id = _opt_int(d.get("portalId"))
    if portal_id is None:
        raise _malformed("/integrations/v1/me has no portalId", response)
    me = IntegrationsMe(portal_id=portal_id, time_zone=_opt_str(d.get("timeZone")),
                        currency=_opt_str(d.get("currency")),
                        utc_offset=_opt_str(d.get("utcOffset")),
                        utc_offset_ms=_opt_int(d.get("utcOffsetMilliseconds")), raw=d,
                        stale=response.stale)
    client.portal_timezone = me.timezone
    return me


PRIVATE_APP_USAGE_NAME = "private-apps-api-calls-daily"


def _opt_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 date-time (HubSpot's ``date-time``) or epoch milliseconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def private_app_usage(client: HubSpotClient, **opts: Any) -> PrivateAppUsage:
    """Today's private-app call count as HubSpot counts it (scope ``oauth``).
    Not cached: the count moves with every call."""
    response = client.request(client.route("account.private_app_usage"), **opts)
    d = _dict(response.data, "private-app API usage", response)
    results = [r for r in _list(d.get("results"), "private-app API usage results", response)
               if isinstance(r, dict)]
    # The list is keyed by name; an older rollout named the daily entry differently,
    # so fall back to the only entry when the expected one is missing.
    entry = next((r for r in results if r.get("name") == PRIVATE_APP_USAGE_NAME),
                 results[0] if len(results) == 1 else None)
    if entry is None:
        raise _malformed("private-app API usage has no daily entry", response)
    current = _opt_int(entry.get("currentUsage"))
    if current is None:
        raise _malformed("private-app API usage has no currentUsage", response)
    return PrivateAppUsage(current_usage=current, usage_limit=_opt_int(entry.get("usageLimit")),
                           resets_at=_opt_time(entry.get("resetsAt")),
                           collected_at=_opt_time(entry.get("collectedAt")),
                           fetch_status=_opt_str(entry.get("fetchStatus")))


# ------------------------------------------------------------------- OAuth

_BAD_REFRESH = frozenset({"BAD_REFRESH_TOKEN", "invalid_grant"})


def _token_response(response: ApiResponse) -> TokenResponse:
    d = _dict(response.data, "the token answer", response)
    access = d.get("access_token")
    if not isinstance(access, str) or not access:
        raise _malformed("the token answer has no access_token", response)
    expires = _opt_int(d.get("expires_in"))
    if expires is None:
        raise _malformed("the token answer has no expires_in", response)
    return TokenResponse(access_token=access, refresh_token=_opt_str(d.get("refresh_token")),
                         expires_in=expires, token_type=_opt_str(d.get("token_type")),
                         hub_id=_opt_int(d.get("hub_id")), user_id=_opt_int(d.get("user_id")),
                         scopes=_scopes(d.get("scopes")), id_token=_opt_str(d.get("id_token")))


def _scopes(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(s) for s in value)
    if isinstance(value, str):
        return tuple(value.split())
    return ()


def exchange_code(client: HubSpotClient, credentials: OAuthCredentials, code: str, *,
                  redirect_uri: str | None = None, code_verifier: str | None = None,
                  **opts: Any) -> TokenResponse:
    """Authorization code → tokens. Never retried after a possible send: the
    code is single-use."""
    form = {"grant_type": "authorization_code", "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "redirect_uri": redirect_uri or credentials.redirect_uri, "code": code}
    if code_verifier:
        form["code_verifier"] = code_verifier
    response = client.request(client.route("oauth.token"), form=form, idempotent=False, **opts)
    return _token_response(response)


def refresh_access_token(client: HubSpotClient, credentials: OAuthCredentials,
                         refresh_token: str, **opts: Any) -> TokenResponse:
    """Refresh grant. Raises :class:`ReauthenticationNeeded` when HubSpot says the
    refresh token is invalid, expired or revoked."""
    form = {"grant_type": "refresh_token", "client_id": credentials.client_id,
            "client_secret": credentials.client_secret, "refresh_token": refresh_token}
    try:
        response = client.request(client.route("oauth.token"), form=form, idempotent=True,
                                  **opts)
    except ClientError as exc:
        if exc.error_code in _BAD_REFRESH:
            raise ReauthenticationNeeded(
                f"HubSpot refused the refresh token ({exc.error_code or exc.status})",
                status=exc.status, correlation_id=exc.correlation_id,
                endpoint=exc.endpoint, error_code=exc.error_code) from exc
        raise
    except HubSpotError as exc:
        if exc.status == 401:
            raise ReauthenticationNeeded("HubSpot refused the app's credentials",
                                         status=401, correlation_id=exc.correlation_id,
                                         endpoint=exc.endpoint) from exc
        raise
    return _token_response(response)


def _introspect(client: HubSpotClient, name: str, credentials: OAuthCredentials, token: str,
                hint: str, **opts: Any) -> dict[str, Any]:
    if client.endpoints.oauth_generation is OAuthGeneration.V1:
        response = client.request(client.route(name, token=token), **opts)
    else:
        response = client.request(client.route(name), form={
            "client_id": credentials.client_id, "client_secret": credentials.client_secret,
            "token": token, "token_type_hint": hint}, **opts)
    return _dict(response.data, "the token metadata", response)


def access_token_info(client: HubSpotClient, credentials: OAuthCredentials, access_token: str,
                      **opts: Any) -> AccessTokenInfo:
    """Metadata of an access token: portal (hub_id), installing user, scopes."""
    d = _introspect(client, "oauth.access_token_info", credentials, access_token,
                    "access_token", **opts)
    return AccessTokenInfo(token=access_token, active=bool(d.get("active", True)),
                           user=_opt_str(d.get("user")), user_id=_opt_int(d.get("user_id")),
                           hub_id=_opt_int(d.get("hub_id")), app_id=_opt_int(d.get("app_id")),
                           scopes=_scopes(d.get("scopes")),
                           token_type=_opt_str(d.get("token_type")),
                           expires_in=_opt_int(d.get("expires_in")),
                           hub_domain=_opt_str(d.get("hub_domain")),
                           client_id=_opt_str(d.get("client_id")))


def refresh_token_info(client: HubSpotClient, credentials: OAuthCredentials,
                       refresh_token: str, **opts: Any) -> RefreshTokenInfo:
    d = _introspect(client, "oauth.refresh_token_info", credentials, refresh_token,
                    "refresh_token", **opts)
    return RefreshTokenInfo(token=refresh_token, active=bool(d.get("active", True)),
                            user=_opt_str(d.get("user")), user_id=_opt_int(d.get("user_id")),
                            hub_id=_opt_int(d.get("hub_id")),
                            client_id=_opt_str(d.get("client_id")),
                            scopes=_scopes(d.get("scopes")),
                            token_type=_opt_str(d.get("token_type")),
                            hub_domain=_opt_str(d.get("hub_domain")))


def revoke_refresh_token(client: HubSpotClient, credentials: OAuthCredentials,
                         refresh_token: str, **opts: Any) -> bool:
    """Revoke the refresh token at HubSpot (disconnect). Returns False when
    HubSpot no longer knew it (already revoked), True otherwise."""
    try:
        if client.endpoints.oauth_generation is OAuthGeneration.V1:
            client.request(client.route("oauth.revoke", token=refresh_token), **opts)
        else:
            client.request(client.route("oauth.revoke"), form={
                "client_id": credentials.client_id, "client_secret": credentials.client_secret,
                "token": refresh_token, "token_type_hint": "refresh_token"}, **opts)
    except NotFound:
        return False
    return True
