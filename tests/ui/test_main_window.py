"""The main window offscreen: navigation, status bar, settings dialog, audit page."""

from __future__ import annotations

import csv
import json

from PySide6.QtWidgets import QCheckBox, QDialogButtonBox, QLabel, QLineEdit, QSpinBox

from tests.support.context import make_context
from tests.ui.conftest import open_settings_dialog
from wg_desktop.services.audit import AuditAction
from wg_desktop.store.models import Outcome


def _rows(page) -> list[tuple[str, ...]]:
    model = page.table.model()
    return [tuple(model.index(r, c).data() for c in range(model.columnCount()))
            for r in range(model.rowCount())]


def test_navigation_switches_pages_and_screenshot_renders(qtbot, window, tmp_path):
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles == ["Overview", "Connection", "Workflows", "Search", "Health", "Backups",
                      "Audit log", "Background jobs"]
    # The window opens on the Overview.
    assert window.stack.currentWidget() is window.overview_page
    assert window.overview_page.isVisible()
    window.nav.setCurrentRow(7)
    assert window.stack.currentWidget() is window.jobs_page
    window.nav.setCurrentRow(6)
    assert window.stack.currentWidget() is window.audit_page
    window.nav.setCurrentRow(2)
    assert window.stack.currentWidget() is window.workflows_page
    shot = tmp_path / "main.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 1000


def test_status_bar_shows_budget_and_last_sync(qtbot, window, ctx):
    assert "100/min" in window.statusBar().budget_label.text()
    assert window.statusBar().sync_label.text() == "Last sync: never"
    from wg_desktop.store.models import Portal, Workflow, utcnow
    Workflow.create(portal=Portal.create(hub_id=1, name="P"), flow_id="9",
                    last_synced_at=utcnow())
    window.refresh_status()
    qtbot.waitUntil(lambda: window.statusBar().sync_label.text().startswith("Last sync: 20"),
                    timeout=5000)


def test_audit_page_lists_filters_searches_and_exports(qtbot, window, ctx, tmp_path):
    ctx.audit.record(AuditAction.CONNECT, portal_hub_id=42, details="portal Acme")
    ctx.audit.record(AuditAction.SYNC, portal_hub_id=42, details="Lead nurture changed")
    ctx.audit.record(AuditAction.BACKUP, outcome=Outcome.FAILURE, details="disk full")
    page = window.show_page("Audit log")
    qtbot.waitUntil(lambda: len(_rows(page)) == 3, timeout=5000)

    page.action.setCurrentText("sync")
    qtbot.waitUntil(lambda: [r[1] for r in _rows(page)] == ["sync"], timeout=5000)
    page.action.setCurrentText("All")
    page.outcome.setCurrentText("failure")
    qtbot.waitUntil(lambda: [r[4] for r in _rows(page)] == ["disk full"], timeout=5000)
    page.outcome.setCurrentText("All")
    qtbot.keyClicks(page.search, "nurture")
    qtbot.waitUntil(lambda: [r[4] for r in _rows(page)] == ["Lead nurture changed"],
                    timeout=5000)

    out = tmp_path / "audit.csv"
    page.export_to(out)
    qtbot.waitUntil(lambda: out.exists(), timeout=5000)
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["details"] for r in rows] == ["Lead nurture changed"]
    assert ctx.audit.entries()[0].action == "export"


def test_audit_page_reads_as_text_with_portal_names(qtbot, window, ctx):
    from wg_desktop.store.models import Portal

    with ctx.store.session():
        Portal.create(hub_id=4242, name="Acme Sandbox")
    ctx.audit.record(AuditAction.SYNC, portal_hub_id=4242,
                     details={"change": "changed", "workflow": "Renewal \u2013 Retail",
                              "first_capture": False, "skipped": []})
    ctx.audit.record(AuditAction.CONNECT, portal_hub_id=77, details="plain words")
    page = window.show_page("Audit log")
    qtbot.waitUntil(lambda: len(_rows(page)) == 2, timeout=5000)
    rows = {r[1]: r for r in _rows(page)}
    assert rows["sync"][2] == "Acme Sandbox (4242)"
    # stored with sorted keys; empty values are left out
    assert rows["sync"][4] == ("change: changed · first capture: no · "
                               "workflow: Renewal \u2013 Retail")
    assert "\\u2013" not in rows["sync"][4] and "{" not in rows["sync"][4]
    assert rows["connect"][2] == "77" and rows["connect"][4] == "plain words"
    # the filter offers what the trail holds, not every action there could be
    offered = [page.action.itemText(i) for i in range(page.action.count())]
    assert offered == ["All", "connect", "sync"]


def test_settings_dialog_saves_values_and_secrets(qtbot, window, ctx):
    dialog = open_settings_dialog(qtbot, window)
    qtbot.addWidget(dialog)
    spin = dialog.findChild(QSpinBox, "ratelimit.per_minute")
    spin.setValue(42)
    secret = dialog.findChild(QLineEdit, "hubspot.client_secret")
    secret.setText("demo-secret-value-123")
    with qtbot.waitSignal(dialog.saved, timeout=5000) as saved:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert set(saved.args[0]) == {"ratelimit.per_minute", "hubspot.client_secret"}
    assert ctx.settings.get("ratelimit.per_minute") == 42
    stored = json.loads(ctx.paths.settings_file.read_text())
    assert stored == {"ratelimit.per_minute": 42}
    assert "demo-secret-value-123" not in ctx.paths.settings_file.read_text()
    assert ctx.settings.get("hubspot.client_secret") == "demo-secret-value-123"
    changes = [e.details for e in ctx.audit.entries() if e.action == "settings_change"]
    assert any("ratelimit.per_minute" in c for c in changes)
    assert not any("demo-secret-value-123" in c for c in changes)


def test_settings_dialog_rejects_invalid_value_without_saving(qtbot, window, ctx,
                                                              monkeypatch):
    dialog = open_settings_dialog(qtbot, window)
    qtbot.addWidget(dialog)
    warnings = []
    monkeypatch.setattr("wg_desktop.ui.settings_dialog.QMessageBox.warning",
                        lambda *a: warnings.append(a[2]))
    dialog.findChild(QLineEdit, "hubspot.api_base").setText("ftp://nope")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert warnings and "hubspot.api_base" in warnings[0]
    assert not ctx.paths.settings_file.exists()
    assert dialog.isVisible()


def test_env_overridden_setting_is_read_only(qtbot, data_dir):
    from wg_desktop.ui.settings_dialog import SettingsDialog

    context = make_context(data_dir, {"HUBSPOT_LOG_LEVEL": "debug"})
    try:
        dialog = SettingsDialog(context.settings, lambda c: [], lambda *a, **k: None)
        qtbot.addWidget(dialog)
        editor = dialog.findChild(QCheckBox, "features.audit_logging")
        assert editor.isEnabled()
        level = dialog.editors["logging.level"]
        assert not level.isEnabled()
        assert "HUBSPOT_LOG_LEVEL" in level.toolTip()
    finally:
        context.close()


def test_disabled_feature_page_says_how_to_turn_it_on(qtbot, data_dir):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool
    from wg_desktop.ui.widgets import FeatureOffPage

    context = make_context(data_dir, {"WG_FEATURES_AUDIT_LOGGING": "false"})
    try:
        win = create_main_window(context, SynchronousPool())
        qtbot.addWidget(win)
        page = next(p for p in win.pages if p.title == "Audit log")
        assert isinstance(page.widget, FeatureOffPage)
        text = " ".join(label.text() for label in page.widget.findChildren(
            QLabel))
        assert "turned off" in text and "WG_FEATURES_AUDIT_LOGGING" in text
        win.quitting = True
        win.close()
    finally:
        context.close()


def test_jobs_page_lists_retention_and_runs_it(qtbot, window, ctx):
    page = window.show_page("Background jobs")
    assert page.jobs_model.rows[0][:2] == ("Retention cleanup", "daily at 00:00")
    page.jobs_view.selectRow(0)
    with qtbot.waitSignal(window.scheduler.finished, timeout=10_000):
        page.run_button.click()
    qtbot.waitUntil(lambda: bool(page.runs_model.rows), timeout=5000)
    assert page.runs_model.rows[0][1:3] == ("retention", "success")
    assert any(e.action == "retention" for e in ctx.audit.entries())


def test_settings_dialog_says_which_secrets_are_stored(qtbot, window, ctx):
    from wg_desktop.security.secrets import setting_key

    ctx.secrets.set(setting_key("hubspot.client_secret"), "a-stored-secret-value")
    dialog = open_settings_dialog(qtbot, window)
    qtbot.addWidget(dialog)
    assert dialog.findChild(QLineEdit, "hubspot.client_secret").placeholderText() == \
        "stored — type to replace"
    assert dialog.findChild(QLineEdit, "notify.smtp_password").placeholderText() == "not set"


def test_about_names_the_data_folder_and_its_instance_id(window):
    text = window.menus.about_text()
    assert window.ctx.instance_id and window.ctx.instance_id in text
    assert str(window.ctx.paths.data_dir) in text


def test_a_read_only_store_is_announced_in_a_banner(qtbot, ctx):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    ctx.store.read_only, ctx.store.read_only_reason = True, "the folder /x is not writable"
    win = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(win)
    try:
        assert not win.store_banner.isHidden()
        assert "read-only" in win.store_banner.text() and "/x" in win.store_banner.text()
    finally:
        ctx.store.read_only = False
        win.quitting = True
        win.close()


def test_a_writable_store_shows_no_banner(window):
    assert window.store_banner.isHidden()


def test_workflow_comparison_off_hides_compare(qtbot, tmp_path):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    ctx = make_context(tmp_path / "d", {"WG_FEATURES_WORKFLOW_COMPARISON": "false"})
    win = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(win)
    try:
        history = win.workflows_page.history
        assert history.compare_button.isHidden()
        assert history.compare() is None
    finally:
        win.quitting = True
        win.close()
        ctx.close()


def test_workflow_comparison_on_offers_compare(window):
    assert not window.workflows_page.history.compare_button.isHidden()


def test_the_demo_portal_setting_is_ticked_while_the_demo_runs(qtbot, ctx):
    from PySide6.QtWidgets import QCheckBox

    from wg_desktop.ui.settings_dialog import SettingsDialog

    assert ctx.settings.get("hubspot.mock_mode") is False      # stored default
    dialog = SettingsDialog(ctx.settings, lambda changes: [], lambda *a, **k: None)
    qtbot.addWidget(dialog)
    box = dialog.editors["hubspot.mock_mode"]
    assert isinstance(box, QCheckBox) and box.isChecked()
    assert "demo portal runs" in box.toolTip()
    assert "hubspot.mock_mode" not in dialog.changes()         # shown, not a change


def test_services_that_fail_with_a_bug_leave_a_true_status_bar(qtbot, ctx):
    import pytest

    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    def broken():
        raise RuntimeError("a bug while making the services")

    win = create_main_window(ctx, SynchronousPool(), jobs_later=True, hubspot_later=broken)
    qtbot.addWidget(win)
    try:
        assert win.statusBar().target_label.text() == "HubSpot: starting the connection…"
        with pytest.raises(RuntimeError):
            win.ensure_hubspot()
        assert win.statusBar().target_label.text() == "HubSpot not configured"
        assert not win.demo_banner.isVisibleTo(win)
        assert win.ensure_hubspot() is None          # not tried again
    finally:
        win.quitting = True
        win.close()
