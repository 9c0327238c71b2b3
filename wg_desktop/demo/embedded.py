"""The demo portal as the app embeds it when no real HubSpot is configured.

Started by the composition roots (the window's ``ui/app.py`` and the CLI's
``cli.py``), never by a service: the services only see the running portal's
URLs, client credentials and private-app tokens.
"""

from __future__ import annotations

import logging

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wg_desktop.demo.server import DemoPortal
    from wg_desktop.security.redaction import SecretRegistry

log = logging.getLogger(__name__)

# The embedded demo portal's data is generated from this seed, so its
# workflows and private-app tokens are the same on every start.
DEMO_SEED = 2026
DEMO_WORKFLOWS = 120


def start_demo_portal(registry: "SecretRegistry | None" = None) -> "DemoPortal":
    # Imported here: the HTTP server's modules cost start-up time the real
    # HubSpot never needs.
    from wg_desktop.demo.server import DemoConfig, DemoPortal

    portal = DemoPortal(DemoConfig(seed=DEMO_SEED, workflows=DEMO_WORKFLOWS)).start()
    if registry is not None:
        registry.add(portal.client_secret)
        for portal_id in portal.portal_ids:
            registry.add(portal.private_app_token(portal_id))
    log.info("demo portal serving on %s", portal.base_url)
    return portal
