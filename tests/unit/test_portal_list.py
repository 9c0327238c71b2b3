"""The switcher's rows (services/portal_list.py) and a comparison's failure
line (services/compare.py): what the window shows, decided outside it."""

from __future__ import annotations

from types import SimpleNamespace

from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.services.compare import failure_text
from wg_desktop.services.backup_browse import portal_label
from wg_desktop.services.portal_list import PortalRow, browsable_rows, portal_name, portal_rows
from wg_desktop.store.models import IMPORTED_AUTH_KIND, Portal, PortalStatus


def _portal(hub_id, name, status=PortalStatus.CONNECTED, auth_kind="oauth"):
    return SimpleNamespace(hub_id=hub_id, name=name, status=status, auth_kind=auth_kind)


def test_rows_say_what_a_portal_needs():
    rows = portal_rows([_portal(1, "Acme"),
                        _portal(2, "Beta", PortalStatus.RECONNECT_NEEDED),
                        _portal(3, "Gone", PortalStatus.DISCONNECTED),
                        _portal(-4, "Export", auth_kind="import"),
                        _portal(5, "")])
    assert [r.label for r in rows] == ["Acme", "Beta (reconnect needed)",
                                       "Gone (disconnected, history kept)",
                                       "Export (imported, read-only)", "Portal 5"]
    assert [r.needs_reconnect for r in rows] == [False, True, False, False, False]
    assert [r.disconnected for r in rows] == [False, False, True, False, False]
    assert rows[3].imported and not any(r.imported for r in rows[:3])


def test_the_switcher_and_the_pages_name_a_portal_alike():
    unnamed, named = Portal(hub_id=5, name=""), Portal(hub_id=6, name="Acme")
    assert [r.label for r in portal_rows([unnamed, named])] == ["Portal 5", "Acme"]
    assert [portal_label(p) for p in (unnamed, named)] == ["Portal 5", "Acme"]
    assert portal_name("", 5) == "Portal 5"
    # An import is one kind to both, written by the import itself.
    imported = Portal(hub_id=-7, name="Imported: a.zip", auth_kind=IMPORTED_AUTH_KIND)
    assert portal_rows([imported])[0].imported
    assert portal_label(imported) == "imported from a.zip"


def test_rows_are_values_the_switcher_can_compare():
    one = browsable_rows(lambda: [_portal(1, "Acme")])
    assert one == (PortalRow(1, "Acme", "connected", False),)
    assert one != browsable_rows(lambda: [_portal(1, "Acme", PortalStatus.RECONNECT_NEEDED)])


def test_failure_text_uses_hubspots_words_when_it_has_them():
    error = HubSpotError("HTTP 503 from /automation/v4/flows/1")
    assert failure_text(error) == (f"Could not read the live workflow: {error.user_message} "
                                   f"({error})")
    assert failure_text(ValueError("bad JSON")) == "Could not compare these versions: bad JSON"
