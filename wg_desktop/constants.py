"""Constants that several layers share; each lives here once."""

from __future__ import annotations

APP_DISPLAY_NAME = "WorkflowGuard Desktop"
APP_VERSION = "0.1.0"
# The reverse-DNS application id: Qt's desktop file name (so Wayland and the
# launcher match windows to resources/<APP_ID>.desktop), the AppStream id, the
# icon name and the single-instance socket prefix. The keychain service keeps
# its older name (security/secrets.py): existing users' entries live under it.
APP_ID = "io.workflowguard.Desktop"

# The scopes the requirements ask for, in HubSpot's space-separated form.
OAUTH_SCOPES = (
    "crm.schemas.deals.read",
    "automation",
    "oauth",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
    "crm.schemas.contacts.read",
    "crm.objects.contacts.read",
    "crm.schemas.companies.read",
)
