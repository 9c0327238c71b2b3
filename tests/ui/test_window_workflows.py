"""The Workflows page inside the main window: current portal, offline banner,
notifications of changes, the background sync job, sync after connecting."""

from __future__ import annotations

from wg_desktop.store.models import Portal, PortalStatus, Workflow


def connect_and_show(qtbot, hub_window, hubspot, demo):
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    hub_window.reload_portals(select=portal.hub_id)
    qtbot.waitUntil(lambda: hub_window.current_portal() == portal.hub_id, timeout=5000)
    return portal


def test_workflows_page_follows_the_current_portal_and_syncs(qtbot, hub_window, hubspot, demo):
    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    page = hub_window.show_page("Workflows")
    assert page.hub_id == portal.hub_id
    notes = []
    hub_window.notify = lambda title, message: notes.append((title, message))
    with qtbot.waitSignal(page.sync_finished, timeout=20_000):
        page.start_sync()
    assert Workflow.select().count() == len(demo.flow_ids(portal.hub_id))
    qtbot.waitUntil(lambda: bool(notes), timeout=5000)
    assert notes[0][0].startswith("Workflows changed in")
    assert "created" in notes[0][1]


def test_background_sync_job_notifies_changes(qtbot, hub_window, hubspot, demo):
    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    names = [spec.name for spec in hub_window.scheduler.specs()]
    assert "sync" in names
    hubspot.sync.sync(portal.hub_id)
    changed = [c for c in demo.drift_once(3) if c.kind == "changed"]
    notes = []
    hub_window.notify = lambda title, message: notes.append(message)
    with qtbot.waitSignal(hub_window.scheduler.finished, timeout=20_000):
        hub_window.scheduler.run_now("sync")
    qtbot.waitUntil(lambda: bool(notes), timeout=5000)
    assert changed and "changed" in notes[0]


def test_a_newly_connected_portal_is_synced_at_once(qtbot, hub_window, hubspot, demo):
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    page = hub_window.workflows_page
    with qtbot.waitSignal(page.sync_finished, timeout=20_000):
        hub_window.connection_page.portal_connected.emit(portal.hub_id)
    assert hub_window.current_portal() == portal.hub_id
    assert Workflow.select().count() == len(demo.flow_ids(portal.hub_id))


def test_offline_banner_when_the_portal_needs_reconnecting(qtbot, hub_window, hubspot, demo):
    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    page = hub_window.workflows_page
    qtbot.waitUntil(lambda: page.sync_button.isEnabled(), timeout=5000)
    Portal.update(status=PortalStatus.RECONNECT_NEEDED).execute()
    hub_window.connection_page.reload()
    qtbot.waitUntil(lambda: not page.sync_button.isEnabled(), timeout=5000)
    assert "reconnect needed" in page.banner.text()


def test_realtime_sync_off_registers_no_sync_job(qtbot, data_dir, demo):
    from tests.support.context import make_context
    from wg_desktop.services.hubspot_setup import build_hubspot_services
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    context = make_context(data_dir / "off", {"WG_FEATURES_REALTIME_SYNC": "false"})
    services = build_hubspot_services(context.settings, context.store, context.audit,
                                      context.secrets, demo=demo)
    try:
        win = create_main_window(context, SynchronousPool(), services)
        qtbot.addWidget(win)
        assert "sync" not in [spec.name for spec in win.scheduler.specs()]
        win.quitting = True
        win.close()
    finally:
        services.clients.close()
        context.close()


def test_rate_limit_wait_is_shown_in_the_status_bar(qtbot, hub_window, hubspot, demo):
    import threading

    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    client = hubspot.clients.client(portal.hub_id)
    # What the client does from a worker thread just before it waits for its budget.
    announce = client._wait_notifier(None)
    worker = threading.Thread(target=announce, args=(23.0, "app budget: 100 requests per minute"))
    worker.start()
    worker.join(5)
    qtbot.waitUntil(lambda: "waiting 23 s" in hub_window.statusBar().currentMessage(),
                    timeout=5000)
    message = hub_window.statusBar().currentMessage()
    assert message.startswith(portal.name) and "100 requests per minute" in message


def test_export_then_import_from_the_file_menu(qtbot, hub_window, hubspot, demo, tmp_path,
                                              monkeypatch):
    import zipfile

    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    hubspot.sync.sync(portal.hub_id)
    out = tmp_path / "all.zip"
    hub_window.transfers.export_workflows(out)
    qtbot.waitUntil(out.exists, timeout=5000)
    with zipfile.ZipFile(out) as archive:
        assert len([n for n in archive.namelist() if n.startswith("workflows/")]) == \
            len(demo.flow_ids(portal.hub_id))
    hub_window.transfers.import_workflows(out)
    page = hub_window.workflows_page
    qtbot.waitUntil(lambda: page.hub_id is not None and page.hub_id < 0, timeout=5000)
    assert "Imported" in hub_window.statusBar().currentMessage()
    warnings = []
    monkeypatch.setattr("wg_desktop.ui.window.transfers.QMessageBox.warning",
                        lambda *a: warnings.append(a[2]))
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    hub_window.transfers.import_workflows(bad)
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "not valid JSON" in warnings[0]


def test_disconnected_and_imported_history_stays_reachable(qtbot, hub_window, hubspot, demo,
                                                          tmp_path):
    portal = connect_and_show(qtbot, hub_window, hubspot, demo)
    hubspot.sync.sync(portal.hub_id)
    out = tmp_path / "export.zip"
    hub_window.workflows_page.queries.export_zip(out, portal.hub_id)
    hub_window.transfers.import_workflows(out)
    qtbot.waitUntil(lambda: (hub_window.current_portal() or 0) < 0, timeout=5000)
    imported = hub_window.current_portal()
    hubspot.connection.disconnect(portal.hub_id, keep_history=True)
    other = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[2]))
    hub_window.reload_portals(select=other.hub_id)
    qtbot.waitUntil(lambda: hub_window.current_portal() == other.hub_id, timeout=5000)
    labels = {hub_window.portal_switcher.combo.itemData(i): hub_window.portal_switcher.combo.itemText(i)
              for i in range(hub_window.portal_switcher.combo.count())}
    assert "history kept" in labels[portal.hub_id]
    assert "imported" in labels[imported]
    hub_window.set_current_portal(portal.hub_id)
    page = hub_window.workflows_page
    qtbot.waitUntil(lambda: page.hub_id == portal.hub_id and page.model.rowCount() > 0,
                    timeout=5000)
    assert not page.sync_button.isEnabled()


def test_status_bar_says_which_hubspot_the_window_talks_to(hub_window, hubspot):
    text = hub_window.statusBar().target_label.text()
    assert "demo portal" in text and hubspot.api_base in text


def test_status_bar_names_a_configured_hubspot(qtbot, ctx, demo):
    from wg_desktop.services.hubspot_setup import build_hubspot_services
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                      api_base=demo.base_url)
    win = create_main_window(ctx, SynchronousPool(), services)
    qtbot.addWidget(win)
    try:
        assert win.statusBar().target_label.text() == f"HubSpot at {demo.base_url}"
    finally:
        win.quitting = True
        win.close()
        services.clients.close()


def test_an_alert_from_the_health_job_reaches_the_tray_on_the_gui_thread(qtbot, hub_window):
    import threading

    from PySide6.QtCore import QThread

    from wg_desktop.ui.app import AlertNotices

    bridge = hub_window.findChild(AlertNotices)
    assert bridge is not None
    shown = []
    hub_window.notify = lambda title, message: shown.append(
        (title, message, QThread.currentThread() is hub_window.thread()))

    class Note:
        title, message = "Portal unhealthy", "4 connection failures in a row"

    worker = threading.Thread(target=bridge.post, args=(Note(),))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(shown), timeout=3000)
    assert shown == [("Portal unhealthy", "4 connection failures in a row", True)]


def test_the_window_offers_restore_from_the_history(qtbot, hub_window, hubspot):
    page = hub_window.workflows_page
    assert page.history.restore_service is hubspot.restore
