"""The Connection page and the portal switcher, against a real demo portal."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.support.context import make_context
from tests.support.demo import approve_in_browser
from tests.ui.conftest import click_allow, delete_now, wait_for_consent_page
from wg_desktop.demo.server import Faults
from wg_desktop.hubspot.breaker import BreakerState, Outcome
from wg_desktop.hubspot.errors import ReauthenticationNeeded
from wg_desktop.services.connection import ConnectionTest
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.schedule import Interval
from wg_desktop.store.models import Portal, PortalStatus
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread
from wg_desktop.services.portal_link import LinkState, link_state
from wg_desktop.ui.pages.connection_page import ConnectionPage, expiry_text

WAIT = 20_000
ROOT = Path(__file__).resolve().parents[2]


# -- helpers --------------------------------------------------------------------------------

def connect_oauth(hubspot, portal_id: int | None = None) -> Portal:
    request = hubspot.connection.authorization_request()
    code = request.code_from_redirect(approve_in_browser(request, portal_id))
    return hubspot.connection.complete_oauth(request, code)


def connect_token(hubspot, demo, portal_id: int) -> Portal:
    return hubspot.connection.connect_private_app(demo.private_app_token(portal_id))


def revoke_sign_in(hubspot, demo, hub_id: int) -> None:
    """The admin uninstalls the app in HubSpot; the next refresh is refused."""
    stored = hubspot.vault.load(hub_id)
    httpx.delete(f"{demo.base_url}/oauth/v1/refresh-tokens/{stored.refresh_token}")
    with pytest.raises(ReauthenticationNeeded):
        hubspot.tokens.refresh(str(hub_id), stored.access_token)
    assert Portal.get(Portal.hub_id == hub_id).status == PortalStatus.RECONNECT_NEEDED


@pytest.fixture
def page(qtbot, hubspot, runner):
    widget = ConnectionPage(hubspot, runner)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    delete_now(widget.connect_dialog)


def shows_portal(page: ConnectionPage, hub_id: int) -> bool:
    """The page shows this portal's details (not the prompt, not another portal)."""
    return page.stack.currentIndex() == 1 and page.info["hub_id"].text() == str(hub_id)


def show_portal(qtbot, page: ConnectionPage, hub_id: int) -> None:
    """Show the portal and wait until its freshly read details are on the page."""
    page.set_portal(hub_id)
    assert page.loading
    qtbot.waitUntil(lambda: not page.loading, timeout=WAIT)
    assert "Could not load portal" not in page.notice.text(), page.notice.text()
    assert shows_portal(page, hub_id)


def run_connection_test(qtbot, page: ConnectionPage) -> str:
    """Click Test connection and wait for its answer on the page (✔ or ✘)."""
    page.test_button.click()
    assert page.test_result.text() == "Testing…" and not page.test_button.isEnabled()
    qtbot.waitUntil(lambda: page.test_result.text().startswith(("✔", "✘")), timeout=WAIT)
    return page.test_result.text()


def account_detail_calls(demo) -> int:
    return sum(1 for e in demo.request_log() if "/account-info/" in e.path)


# -- pure display rules ------------------------------------------------------------------

def test_expiry_text():
    now = 1_000_000.0
    assert expiry_text("private_app", None, now) == "Private app token — does not expire"
    assert expiry_text("oauth", now + 29 * 60 + 5, now).startswith("Expires in 29 min 05 s")
    assert expiry_text("oauth", now + 3 * 3600 + 120, now).startswith("Expires in 3 h 02 min")
    assert expiry_text("oauth", now - 90, now).startswith("Expired 1 min 30 s ago")
    assert expiry_text("oauth", None, now).startswith("Unknown")


@pytest.mark.parametrize("status, reauth, breaker, test, expected", [
    ("connected", False, BreakerState.CLOSED, None, LinkState.CONNECTED),
    ("connected", False, None, ConnectionTest(1, True, 5, "ok"), LinkState.CONNECTED),
    ("connected", False, BreakerState.CLOSED, ConnectionTest(1, False, 5, "x"), LinkState.OFFLINE),
    ("connected", False, BreakerState.OPEN, None, LinkState.BREAKER_OPEN),
    ("connected", False, BreakerState.HALF_OPEN, None, LinkState.BREAKER_OPEN),
    ("connected", True, BreakerState.OPEN, None, LinkState.RECONNECT_NEEDED),
    ("reconnect_needed", False, BreakerState.CLOSED, None, LinkState.RECONNECT_NEEDED),
    ("disconnected", False, None, None, LinkState.DISCONNECTED),
])
def test_link_state(status, reauth, breaker, test, expected):
    assert link_state(status, reauth, breaker, test) is expected


# -- the page ---------------------------------------------------------------------------

def test_page_shows_status_account_details_countdown_and_scopes(qtbot, page, hubspot, demo):
    portal = connect_oauth(hubspot)
    show_portal(qtbot, page, portal.hub_id)
    assert page.stack.currentIndex() == 1
    assert page.state_badge.text() == "Connected"
    assert "Acme Demo (Professional)" in page.title.text()
    assert "Demo portal" in page.subtitle.text()
    assert page.info["hub_id"].text() == str(portal.hub_id)
    assert page.info["time_zone"].text() == "America/New_York"
    assert page.info["currency"].text() == "USD"          # only the account details have it
    assert page.info["user"].text() == "admin@acme-demo.example.com"
    assert page.method_label.text() == "HubSpot sign-in (OAuth)"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d$", page.refresh_label.text())
    assert "automation" in page.scopes_model.stringList()
    assert page.scopes_note.text().startswith("All scopes")
    assert page.reconnect_button.isHidden()

    first = page.expiry_label.text()
    assert re.match(r"Expires in (29|30) min \d\d s", first), first
    qtbot.waitUntil(lambda: page.expiry_label.text() != first, timeout=5000)  # it counts down
    assert page.expiry_label.text().startswith("Expires in")

    # Account details come from the client's 1-hour cache on the next visit.
    demo.clear_request_log()
    show_portal(qtbot, page, portal.hub_id)
    assert account_detail_calls(demo) == 0
    assert page.info["currency"].text() == "USD"


def test_test_connection_shows_the_response_time(qtbot, page, hubspot):
    portal = connect_oauth(hubspot)
    show_portal(qtbot, page, portal.hub_id)
    assert re.fullmatch(r"✔ HubSpot answered in \d+ ms\.", run_connection_test(qtbot, page))
    assert page.test_button.isEnabled()
    assert page.state_badge.text() == "Connected"


def test_failed_test_shows_offline(qtbot, tmp_path, demo, memory_keyring):
    ctx = make_context(tmp_path / "offline", {"WG_HTTP_MAX_ATTEMPTS": "1"})
    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    try:
        runner = functools.partial(run_off_gui_thread,
                                   pool=StoreSessionPool(SynchronousPool(), ctx.store))
        page = ConnectionPage(services, runner)
        qtbot.addWidget(page)
        hub_id = connect_token(services, demo, demo.portal_ids[0]).hub_id
        show_portal(qtbot, page, hub_id)
        demo.set_faults(error_5xx_rate=1.0)
        assert run_connection_test(qtbot, page).startswith("✘ Test failed")
        assert page.state_badge.text() == "Offline"
        assert "last connection test failed" in page.state_detail.text()
        demo.set_faults(Faults())
        assert run_connection_test(qtbot, page).startswith("✔ HubSpot answered in ")
        assert page.state_badge.text() == "Connected"
    finally:
        services.clients.close()
        ctx.close()


def test_open_circuit_breaker_pauses_and_recovers(qtbot, page, hubspot, demo):
    hub_id = connect_token(hubspot, demo, demo.portal_ids[0]).hub_id
    show_portal(qtbot, page, hub_id)
    statuses: list[str] = []
    page.status_changed.connect(statuses.append)
    breaker = hubspot.clients.client(hub_id).breaker
    for _ in range(breaker.failure_threshold):
        breaker.record(Outcome.FAILURE)
    qtbot.waitUntil(lambda: page.state_badge.text().startswith("Paused"), timeout=5000)
    assert "circuit breaker open" in page.state_detail.text()
    assert "next attempt is in" in page.state_detail.text()
    assert statuses[-1].endswith("paused (hubspot keeps failing)")
    breaker.reset()
    qtbot.waitUntil(lambda: page.state_badge.text() == "Connected", timeout=5000)


def test_private_app_token_does_not_expire(qtbot, page, hubspot, demo):
    hub_id = connect_token(hubspot, demo, demo.portal_ids[0]).hub_id
    show_portal(qtbot, page, hub_id)
    assert page.expiry_label.text() == "Private app token — does not expire"
    assert page.refresh_label.text().startswith("Not needed")
    assert page.method_label.text() == "Private app token"


def test_disconnect_keeps_the_history_by_default(qtbot, page, hubspot, memory_keyring):
    portal = connect_oauth(hubspot)
    show_portal(qtbot, page, portal.hub_id)
    page.disconnect_button.click()
    box = page.disconnect_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.defaultButton() is box.keep_button
    with qtbot.waitSignal(page.disconnected, timeout=WAIT) as done:
        box.defaultButton().click()
    assert "Kept the local history." in done.args[0]
    row = Portal.get(Portal.hub_id == portal.hub_id)         # the history is still there
    assert row.status == PortalStatus.DISCONNECTED
    assert not [name for (_, name) in memory_keyring.entries if "token" in name]
    assert hubspot.vault.load(portal.hub_id) is None
    assert page.stack.currentIndex() == 0                     # "connect a portal" prompt
    assert "Disconnected portal" in page.notice.text()


def test_disconnect_can_delete_the_history(qtbot, page, hubspot, demo):
    hub_id = connect_token(hubspot, demo, demo.portal_ids[0]).hub_id
    show_portal(qtbot, page, hub_id)
    box = page.ask_disconnect()
    with qtbot.waitSignal(page.disconnected, timeout=WAIT):
        box.delete_button.click()
    assert Portal.get_or_none(Portal.hub_id == hub_id) is None


def test_reconnect_needed_offers_one_click_reconnect(qtbot, page, hubspot, demo):
    from wg_desktop.ui.connect_dialog import ConnectDialog

    portal = connect_oauth(hubspot)
    revoke_sign_in(hubspot, demo, portal.hub_id)
    show_portal(qtbot, page, portal.hub_id)
    assert page.state_badge.text() == "Reconnect needed"
    assert page.reconnect_button.isVisibleTo(page)
    assert not page.test_button.isEnabled()
    assert page.expiry_label.text().startswith("Not usable")

    page.reconnect_button.click()
    dialog = page.connect_dialog
    assert isinstance(dialog, ConnectDialog) and dialog.isVisible()
    assert dialog.tabs.currentIndex() == ConnectDialog.EMBEDDED
    wait_for_consent_page(qtbot, dialog)
    click_allow(dialog)
    qtbot.waitUntil(lambda: page.state_badge.text() == "Connected", timeout=WAIT)
    assert not page.loading and shows_portal(page, portal.hub_id)
    assert page.reconnect_button.isHidden()
    assert Portal.get(Portal.hub_id == portal.hub_id).status == PortalStatus.CONNECTED
    assert page.connect_dialog is None                         # closed after connecting


# -- in the main window ---------------------------------------------------------------------

def test_switcher_lists_portals_and_switching_updates_the_page(qtbot, hub_window, hubspot,
                                                                demo, tmp_path):
    window = hub_window
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles[:2] == ["Overview", "Connection"]   # the window opens on the Overview
    window.show_page("Connection")
    assert window.stack.currentWidget() is window.connection_page
    assert window.demo_banner.isVisible()
    assert window.demo_banner.text() == "Demo portal — sample data, not your HubSpot"
    assert window.portal_switcher.combo.currentText() == "No portal"

    first, second = demo.portal_ids[0], demo.portal_ids[2]
    connect_token(hubspot, demo, first)
    connect_oauth(hubspot, second)
    page = window.connection_page
    window.reload_portals()
    qtbot.waitUntil(lambda: shows_portal(page, first) and not page.loading, timeout=WAIT)
    switcher = window.portal_switcher.combo
    assert [switcher.itemText(i) for i in range(switcher.count())] == [
        "Acme Demo (Professional)", "Agency Client 1 (Enterprise)"]
    assert window.current_portal() == first and page.hub_id == first
    assert "Acme Demo" in page.title.text()
    qtbot.waitUntil(lambda: window.statusBar().connection_label.text().startswith(
        "Acme Demo (Professional): connected"), timeout=5000)

    with qtbot.waitSignal(window.current_portal_changed, timeout=WAIT) as changed:
        switcher.setCurrentIndex(1)
    qtbot.waitUntil(lambda: shows_portal(page, second) and not page.loading, timeout=WAIT)
    assert changed.args == [second]
    assert window.current_portal() == second
    assert "Agency Client 1" in page.title.text()
    assert page.method_label.text() == "HubSpot sign-in (OAuth)"
    assert window.statusBar().connection_label.text().startswith("Agency Client 1 (Enterprise): connected")

    qtbot.waitUntil(lambda: page.expiry_label.text().startswith("Expires in"), timeout=5000)
    QApplication.processEvents()        # let the layouts follow the new texts
    shot = tmp_path / "connection-page.png"
    assert window.grab().save(str(shot))
    shutil.copy(shot, "/tmp/connection-page.png")
    assert shot.stat().st_size > 20_000


def test_window_without_portals_prompts_to_connect(qtbot, hub_window):
    hub_window.show_page("Connection")     # the window opens on the Overview
    assert hub_window.current_portal() is None
    assert not hub_window.portal_switcher.combo.isEnabled()
    assert hub_window.connection_page.stack.currentIndex() == 0
    assert hub_window.connection_page.empty_connect_button.isVisible()
    assert hub_window.statusBar().connection_label.text() == "No portal connected"


def test_reconnect_needed_is_notified_once(qtbot, hub_window, hubspot, demo, monkeypatch):
    window = hub_window
    window.show_page("Connection")         # the window opens on the Overview
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(window, "notify", lambda title, message: notes.append((title, message)))
    portal = connect_oauth(hubspot)
    with qtbot.waitSignal(window.portal_switcher.loaded, timeout=WAIT):
        window.reload_portals()
    assert notes == []
    revoke_sign_in(hubspot, demo, portal.hub_id)
    with qtbot.waitSignal(window.portal_switcher.loaded, timeout=WAIT):
        window.refresh_status()
    assert len(notes) == 1
    assert notes[0][0] == "Reconnect needed" and "Acme Demo (Professional)" in notes[0][1]
    assert window.portal_switcher.combo.currentText() == "Acme Demo (Professional) (reconnect needed)"
    qtbot.waitUntil(lambda: window.connection_page.reconnect_button.isVisible(), timeout=5000)
    assert "reconnect needed" in window.statusBar().connection_label.text()
    with qtbot.waitSignal(window.portal_switcher.loaded, timeout=WAIT):
        window.refresh_status()
    assert len(notes) == 1


def test_token_refresh_job_is_scheduled_hourly_and_runs(qtbot, hub_window, hubspot):
    window = hub_window
    spec = next(s for s in window.scheduler.specs() if s.name == "token-refresh")
    assert spec.schedule == Interval(3600)
    assert spec.description == "Token refresh check"
    connect_oauth(hubspot)
    with qtbot.waitSignal(window.scheduler.finished, timeout=WAIT) as finished:
        window.scheduler.run_now("token-refresh")
    assert finished.args == ["token-refresh", "1 portal(s) checked: 0 refreshed, 1 still valid"]


def test_demo_mode_connects_the_demo_portal_off_the_gui_thread(qtbot, ctx):
    from wg_desktop.demo.embedded import DEMO_WORKFLOWS
    from wg_desktop.store.models import Workflow
    from wg_desktop.ui.app import build_services, connect_demo_portal, create_main_window

    services = build_services(ctx)      # nothing configured: the demo portal, in-process
    try:
        assert services.demo is not None and services.app.is_demo
        window = create_main_window(ctx, SynchronousPool(), services)
        qtbot.addWidget(window)
        page = window.connection_page
        assert page.stack.currentIndex() == 0                 # no portal yet
        connect_demo_portal(window, services)
        demo_id = services.demo.portal_ids[0]
        qtbot.waitUntil(lambda: shows_portal(page, demo_id) and not page.loading, timeout=WAIT)
        assert window.portal_switcher.combo.currentText() == "Acme Demo (Professional)"
        assert window.current_portal() == demo_id
        assert window.demo_banner.isVisibleTo(window)
        # ... and its workflows are captured at once
        qtbot.waitUntil(lambda: Workflow.select().count() == DEMO_WORKFLOWS, timeout=WAIT)
        window.quitting = True
        window.close()
    finally:
        services.close()


def test_main_window_does_not_load_webengine(tmp_path):
    """The sign-in view's engine loads only when the connect dialog shows it."""
    script = f"""
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from tests.support.context import make_context
from wg_desktop.services.hubspot_setup import ensure_demo_portal_connected
from wg_desktop.ui.app import build_services, create_main_window
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread
ctx = make_context({str(tmp_path / 'probe')!r})
services = build_services(ctx)
ensure_demo_portal_connected(services)
window = create_main_window(ctx, SynchronousPool(), services)
window.show()
for _ in range(20):
    app.processEvents()
heavy = [m for m in sys.modules if m.startswith("PySide6.QtWebEngine")]
print("heavy=" + ",".join(heavy) + " portal=" + str(window.current_portal()))
window.quitting = True
window.close()
services.close()
ctx.close()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "WG_"))}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="tests.support.memory_keyring.MemoryKeyring")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("heavy= portal="), line
    assert not line.endswith("None")
