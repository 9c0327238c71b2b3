"""Configuration of the demo portal and the fixed facts about its portals.

Everything that identifies the demo (client id, secret, private-app tokens)
is derived from the seed at runtime and carries a ``demo`` marker, so it can
never be mistaken for a real HubSpot credential.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.demo.faults import Faults

DEFAULT_REDIRECT_URIS: tuple[str, ...] = ("http://localhost:53682/oauth/callback",)

# The scopes the demo app asks for by default (the product's own list).
DEMO_APP_SCOPES: tuple[str, ...] = tuple(OAUTH_SCOPES)

# Scopes the authorize page knows. Anything else is "unknown scope".
KNOWN_SCOPES: frozenset[str] = frozenset(DEMO_APP_SCOPES) | frozenset({
    "automation.sequences.read", "automation.sequences.enrollments.write",
    "content", "forms", "tickets", "e-commerce", "timeline", "files",
    "crm.objects.contacts.write", "crm.objects.companies.write",
    "crm.objects.deals.write", "crm.objects.owners.read",
    "crm.objects.users.read", "crm.lists.read", "crm.lists.write",
    "crm.schemas.custom.read", "crm.objects.custom.read",
    "settings.users.read", "settings.users.teams.read",
    "sales-email-read", "marketing-email", "transactional-email",
})

MAX_WORKFLOWS = 20_000
FIRST_PORTAL_ID = 1_000_001


def derive(seed: int, purpose: str, length: int = 32) -> str:
    """A stable hex string for (seed, purpose): same seed, same demo identity."""
    return hashlib.sha256(f"wg-demo:{seed}:{purpose}".encode()).hexdigest()[:length]


def uuid_shaped(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


@dataclass(frozen=True)
class PortalProfile:
    """A demo HubSpot account (portal)."""

    portal_id: int
    name: str
    plan: str
    has_workflows: bool
    time_zone: str
    currency: str
    additional_currencies: tuple[str, ...]
    ui_domain: str
    data_hosting: str
    hub_domain: str
    account_type: str
    user_id: int
    user_email: str
    created_ms: int
    private_app_daily_limit: int


def portal_profiles(extra_portals: int = 0) -> tuple[PortalProfile, ...]:
    """The first portal has workflows, the second a plan without them; extra
    portals (for multi-portal tests) are Professional portals with workflows."""
    profiles = [
        PortalProfile(
            portal_id=FIRST_PORTAL_ID, name="Acme Demo (Professional)",
            plan="Marketing Hub Professional", has_workflows=True,
            time_zone="America/New_York", currency="USD", additional_currencies=("EUR", "GBP"),
            ui_domain="app.hubspot.com", data_hosting="na1", hub_domain="acme-demo.example.com",
            account_type="STANDARD", user_id=7_100_001, user_email="admin@acme-demo.example.com",
            created_ms=1_546_300_800_000, private_app_daily_limit=625_000),
        PortalProfile(
            portal_id=FIRST_PORTAL_ID + 1, name="Starter Demo",
            plan="Marketing Hub Starter", has_workflows=False,
            time_zone="Europe/Berlin", currency="EUR", additional_currencies=(),
            ui_domain="app-eu1.hubspot.com", data_hosting="eu1", hub_domain="starter-demo.example.com",
            account_type="STANDARD", user_id=7_100_002, user_email="owner@starter-demo.example.com",
            created_ms=1_640_995_200_000, private_app_daily_limit=250_000),
    ]
    zones = ("America/Chicago", "Europe/London", "Australia/Sydney", "America/Los_Angeles")
    for i in range(extra_portals):
        pid = FIRST_PORTAL_ID + 2 + i
        profiles.append(PortalProfile(
            portal_id=pid, name=f"Agency Client {i + 1} (Enterprise)",
            plan="Marketing Hub Enterprise", has_workflows=True,
            time_zone=zones[i % len(zones)], currency="USD", additional_currencies=(),
            ui_domain="app.hubspot.com", data_hosting="na1",
            hub_domain=f"agency-client-{i + 1}.example.com", account_type="STANDARD",
            user_id=7_100_003 + i, user_email=f"admin@agency-client-{i + 1}.example.com",
            created_ms=1_672_531_200_000 + i * 86_400_000, private_app_daily_limit=1_000_000))
    return tuple(profiles)


@dataclass(frozen=True)
class DemoConfig:
    """How a demo portal behaves. Times in seconds.

    ``workflows`` is the number of workflows of each portal that has them.
    ``burst_limit`` requests per ``burst_window_s`` (true rolling window) per
    app per portal; ``daily_limit`` None = no enforced daily limit for OAuth
    tokens (private-app tokens then use their portal plan's nominal limit).
    ``drift_interval`` None = no background drift. ``creation_pending_s`` is
    how long a new flow stays ``crmObjectCreationStatus: PENDING``.
    ``strict_put_keys`` rejects read-only/unknown keys on PUT (HubSpot's PUT
    schema does not accept them); False silently ignores them.
    """

    seed: int = 7
    workflows: int = 50
    port: int = 0
    host: str = "127.0.0.1"
    token_ttl: float = 1800
    code_ttl: float = 300.0
    burst_limit: int = 100
    burst_window_s: float = 10.0
    daily_limit: int | None = None
    send_retry_after: bool = True
    rotate_refresh_tokens: bool = False
    drift_interval: float | None = None
    drift_changes: int = 3
    faults: Faults = field(default_factory=Faults)
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    extra_portals: int = 0
    creation_pending_s: float = 0.0
    strict_put_keys: bool = True
    request_log_size: int = 10_000

    def __post_init__(self) -> None:
        if not 0 <= self.workflows <= MAX_WORKFLOWS:
            raise ValueError(f"workflows must be between 0 and {MAX_WORKFLOWS}")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.host not in ("127.0.0.1", "localhost"):
            raise ValueError("the demo portal only listens on the loopback interface")
        if self.token_ttl <= 0 or self.code_ttl <= 0:
            raise ValueError("token_ttl and code_ttl must be > 0")
        if self.burst_limit < 1 or self.burst_window_s <= 0:
            raise ValueError("burst_limit must be >= 1 and burst_window_s > 0")
        if self.daily_limit is not None and self.daily_limit < 1:
            raise ValueError("daily_limit must be >= 1 or None")
        if self.drift_interval is not None and self.drift_interval <= 0:
            raise ValueError("drift_interval must be > 0 or None")
        if self.drift_changes < 0:
            raise ValueError("drift_changes must be >= 0")
        if not isinstance(self.faults, Faults):
            raise TypeError("faults must be a Faults instance")
        if isinstance(self.redirect_uris, str) or not self.redirect_uris:
            raise ValueError("redirect_uris must be a non-empty tuple of URIs")
        if not 0 <= self.extra_portals <= 20:
            raise ValueError("extra_portals must be between 0 and 20")
        if self.request_log_size < 1:
            raise ValueError("request_log_size must be >= 1")
        object.__setattr__(self, "redirect_uris", tuple(self.redirect_uris))
