"""The one table of HubSpot endpoints the app uses.

Each endpoint belongs to a family whose version segment is configuration
(``hubspot.flows_api_version`` = ``v4`` today, a date version such as
``2026-09-beta`` later), so moving to a new API generation is a setting, not a
code change. The path *template* with the version filled in (e.g.
``/automation/v4/flows/{flowId}``) is the endpoint's name in metrics and logs:
it never contains an id or a token.

OAuth exists in two generations with different shapes:

* ``v1`` (deprecated 2027-02-16): ``POST /oauth/v1/token`` (form),
  ``GET /oauth/v1/access-tokens/{token}``, ``GET /oauth/v1/refresh-tokens/{token}``,
  ``DELETE /oauth/v1/refresh-tokens/{token}``;
* ``v3`` and date versions (``2026-03``): ``POST /oauth/{v}/token``,
  ``POST /oauth/{v}/token/introspect``, ``POST /oauth/{v}/token/revoke``.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote


class ApiFamily(enum.StrEnum):
    FLOWS = "flows"                  # /automation/{v}/flows
    WORKFLOWS_V3 = "workflows_v3"    # /automation/v3/workflows (legacy, contact only)
    ACCOUNT = "account"              # /account-info/{v}
    INTEGRATIONS = "integrations"    # /integrations/v1/me (legacy)
    OAUTH = "oauth"                  # /oauth/{v}


class AuthMode(enum.StrEnum):
    BEARER = "bearer"                          # Authorization: Bearer <access token>
    CLIENT_CREDENTIALS = "client_credentials"  # no Authorization header; secrets in the form


class OAuthGeneration(enum.StrEnum):
    V1 = "v1"
    MODERN = "modern"   # v3 and date versions (2026-03, …)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Methods that only read (RFC 9110 "safe"): repeating one changes nothing even
# when the first one was processed — unlike PUT or DELETE, whose repeat after
# a processed first attempt meets a changed resource (stale revisionId, 404).
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

DATE_VERSION = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-beta)?$")

_ALLOWED: dict[ApiFamily, re.Pattern[str]] = {
    ApiFamily.FLOWS: re.compile(r"^v4$|" + DATE_VERSION.pattern),
    ApiFamily.OAUTH: re.compile(r"^v1$|^v3$|" + DATE_VERSION.pattern),
    ApiFamily.ACCOUNT: re.compile(r"^v3$|" + DATE_VERSION.pattern),
    ApiFamily.WORKFLOWS_V3: re.compile(r"^v3$"),
    ApiFamily.INTEGRATIONS: re.compile(r"^v1$"),
}


class UnsupportedEndpoint(ValueError):
    """The endpoint does not exist in the configured version of its family."""


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    family: ApiFamily
    method: str
    template: str                       # contains "{version}" unless the version is fixed
    idempotent: bool | None = None      # None: decided by the method (read-only implies it)
    read_only: bool | None = None       # None: decided by the method; True for reading POSTs
    auth: AuthMode = AuthMode.BEARER
    generation: OAuthGeneration | None = None   # OAuth endpoints: which generation
    date_version_only: bool = False
    secret_params: frozenset[str] = frozenset()  # path params that are credentials
    invalidates: tuple[ApiFamily, ...] = ()       # cached families a call changes
    items_on_demand: bool = False   # a 2xx answer's arrays decode per item (json_units)

    @property
    def is_read_only(self) -> bool:
        if self.read_only is not None:
            return self.read_only
        return self.method in READ_ONLY_METHODS

    @property
    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.is_read_only or self.method in IDEMPOTENT_METHODS

    def params(self) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(self.template) if f} - {"version"}


_FLOWS = "/automation/{version}/flows"
_CC = AuthMode.CLIENT_CREDENTIALS
_V1 = OAuthGeneration.V1
_NEW = OAuthGeneration.MODERN
_TOKEN = frozenset({"token"})
_WORKFLOW_DATA = (ApiFamily.FLOWS, ApiFamily.WORKFLOWS_V3)

ENDPOINTS: tuple[EndpointSpec, ...] = (
    # Workflows (v4 flows API, or its date-versioned successor)
    EndpointSpec("flows.list", ApiFamily.FLOWS, "GET", _FLOWS),
    EndpointSpec("flows.get", ApiFamily.FLOWS, "GET", _FLOWS + "/{flowId}"),
    EndpointSpec("flows.batch_read", ApiFamily.FLOWS, "POST", _FLOWS + "/batch/read",
                 read_only=True, items_on_demand=True),
    EndpointSpec("flows.create", ApiFamily.FLOWS, "POST", _FLOWS, invalidates=_WORKFLOW_DATA),
    EndpointSpec("flows.update", ApiFamily.FLOWS, "PUT", _FLOWS + "/{flowId}",
                 invalidates=_WORKFLOW_DATA),
    EndpointSpec("flows.delete", ApiFamily.FLOWS, "DELETE", _FLOWS + "/{flowId}",
                 invalidates=_WORKFLOW_DATA),
    EndpointSpec("flows.revision", ApiFamily.FLOWS, "GET",
                 _FLOWS + "/{flowId}/revisions/{revisionId}", date_version_only=True),
    # Legacy contact workflows
    EndpointSpec("workflows_v3.list", ApiFamily.WORKFLOWS_V3, "GET",
                 "/automation/{version}/workflows"),
    EndpointSpec("workflows_v3.get", ApiFamily.WORKFLOWS_V3, "GET",
                 "/automation/{version}/workflows/{workflowId}"),
    # Portal information
    EndpointSpec("account.details", ApiFamily.ACCOUNT, "GET", "/account-info/{version}/details"),
    # HubSpot's own count of today's private-app calls (legacy private apps only)
    EndpointSpec("account.private_app_usage", ApiFamily.ACCOUNT, "GET",
                 "/account-info/{version}/api-usage/daily/private-apps"),
    EndpointSpec("integrations.me", ApiFamily.INTEGRATIONS, "GET", "/integrations/{version}/me"),
    # OAuth, v1 generation
    EndpointSpec("oauth.token", ApiFamily.OAUTH, "POST", "/oauth/{version}/token",
                 auth=_CC, generation=_V1),
    EndpointSpec("oauth.access_token_info", ApiFamily.OAUTH, "GET",
                 "/oauth/{version}/access-tokens/{token}", auth=_CC, generation=_V1,
                 secret_params=_TOKEN),
    EndpointSpec("oauth.refresh_token_info", ApiFamily.OAUTH, "GET",
                 "/oauth/{version}/refresh-tokens/{token}", auth=_CC, generation=_V1,
                 secret_params=_TOKEN),
    EndpointSpec("oauth.revoke", ApiFamily.OAUTH, "DELETE",
                 "/oauth/{version}/refresh-tokens/{token}", auth=_CC, generation=_V1,
                 secret_params=_TOKEN),
    # OAuth, v3 / date generation (2026-03)
    EndpointSpec("oauth.token", ApiFamily.OAUTH, "POST", "/oauth/{version}/token",
                 auth=_CC, generation=_NEW),
    EndpointSpec("oauth.access_token_info", ApiFamily.OAUTH, "POST",
                 "/oauth/{version}/token/introspect", read_only=True, auth=_CC,
                 generation=_NEW),
    EndpointSpec("oauth.refresh_token_info", ApiFamily.OAUTH, "POST",
                 "/oauth/{version}/token/introspect", read_only=True, auth=_CC,
                 generation=_NEW),
    EndpointSpec("oauth.revoke", ApiFamily.OAUTH, "POST", "/oauth/{version}/token/revoke",
                 idempotent=True, auth=_CC, generation=_NEW),
)

FIXED_VERSIONS: dict[ApiFamily, str] = {ApiFamily.WORKFLOWS_V3: "v3",
                                        ApiFamily.INTEGRATIONS: "v1"}


@dataclass(frozen=True)
class Route:
    """One endpoint resolved against the configured versions and its path params."""

    spec: EndpointSpec
    version: str
    template: str      # version filled in, params not: the metrics / log name
    path: str          # ready to send (params URL-quoted)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def family(self) -> ApiFamily:
        return self.spec.family

    @property
    def idempotent(self) -> bool:
        return self.spec.is_idempotent

    @property
    def read_only(self) -> bool:
        return self.spec.is_read_only

    @property
    def auth(self) -> AuthMode:
        return self.spec.auth

    def __repr__(self) -> str:  # never show the filled path: it may hold a token
        return f"Route({self.spec.method} {self.template})"


def oauth_generation(version: str) -> OAuthGeneration:
    return OAuthGeneration.V1 if version == "v1" else OAuthGeneration.MODERN


class EndpointTable:
    """Resolves endpoint names to routes using the configured version per family."""

    def __init__(self, flows: str = "v4", oauth: str = "v1", account: str = "v3") -> None:
        versions = {ApiFamily.FLOWS: flows, ApiFamily.OAUTH: oauth, ApiFamily.ACCOUNT: account,
                    **FIXED_VERSIONS}
        for family, version in versions.items():
            if not _ALLOWED[family].match(version):
                raise UnsupportedEndpoint(f"{version!r} is not a known version of the "
                                          f"{family} API")
        self._versions: dict[ApiFamily, str] = versions
        self._specs: dict[tuple[str, OAuthGeneration | None], EndpointSpec] = {
            (s.name, s.generation): s for s in ENDPOINTS}

    @classmethod
    def from_config(cls, config: Any) -> "EndpointTable":
        return cls(flows=config.flows_api_version, oauth=config.oauth_api_version,
                   account=config.account_api_version)

    @property
    def versions(self) -> Mapping[ApiFamily, str]:
        return dict(self._versions)

    def version(self, family: ApiFamily) -> str:
        return self._versions[family]

    @property
    def oauth_generation(self) -> OAuthGeneration:
        return oauth_generation(self._versions[ApiFamily.OAUTH])

    def with_versions(self, *, flows: str | None = None, oauth: str | None = None,
                      account: str | None = None) -> "EndpointTable":
        v = self._versions
        return EndpointTable(flows=flows or v[ApiFamily.FLOWS], oauth=oauth or v[ApiFamily.OAUTH],
                             account=account or v[ApiFamily.ACCOUNT])

    def spec(self, name: str) -> EndpointSpec:
        spec = self._specs.get((name, None)) or self._specs.get((name, self.oauth_generation))
        if spec is None:
            raise UnsupportedEndpoint(f"unknown endpoint {name!r}")
        version = self._versions[spec.family]
        if spec.date_version_only and not DATE_VERSION.match(version):
            raise UnsupportedEndpoint(f"{name} needs a date version of the {spec.family} API "
                                      f"(configured: {version})")
        return spec

    def supports(self, name: str) -> bool:
        try:
            self.spec(name)
        except UnsupportedEndpoint:
            return False
        return True

    def template(self, name: str) -> str:
        spec = self.spec(name)
        return _fill_version(spec.template, self._versions[spec.family])

    def route(self, name: str, **params: Any) -> Route:
        spec = self.spec(name)
        version = self._versions[spec.family]
        template = _fill_version(spec.template, version)
        wanted = spec.params()
        if set(params) != wanted:
            raise ValueError(f"{name} needs path parameters {sorted(wanted)}, "
                             f"got {sorted(params)}")
        path = template
        for key, value in params.items():
            text = str(value)
            if not text:
                raise ValueError(f"{name}: path parameter {key} is empty")
            path = path.replace("{" + key + "}", quote(text, safe=""))
        return Route(spec, version, template, path)


def _fill_version(template: str, version: str) -> str:
    return template.replace("{version}", version)
