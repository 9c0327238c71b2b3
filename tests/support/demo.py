"""Helpers for tests that talk to the demo portal over loopback HTTP."""

from __future__ import annotations

import re

import httpx

from wg_desktop.services.oauth_flow import AuthorizationRequest


def approve_in_browser(request: AuthorizationRequest, portal_id: int | None = None) -> str:
    """Do what a person does on the authorize page (open it, press Allow) and
    return the URL HubSpot redirects to."""
    with httpx.Client(timeout=10) as http:
        page = http.get(request.url)
        page.raise_for_status()
        request_id = re.search(r'name="request_id"[^>]*value="([^"]+)"', page.text).group(1)
        form = {"request_id": request_id}
        if portal_id is not None:
            form["portal_id"] = str(portal_id)
        base = request.auth_base.rstrip("/")
        answer = http.post(f"{base}/oauth/authorize/approve", data=form)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def reference_examples():
    """The HubSpot example payloads in shared/reference (beside the checkout,
    as in CI, or at /work/shared on a developer machine)."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[2]
    for root in (here.parent / "shared", Path("/work/shared")):
        folder = root / "reference" / "hubspot" / "examples"
        if folder.is_dir():
            return folder
    raise FileNotFoundError("shared/reference/hubspot/examples not found beside the checkout")
