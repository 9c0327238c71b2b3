"""The settings dialog refuses invalid values with the registry's message; the
audit page shows the state of the trail's hash chain."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QPlainTextEdit

from wg_desktop.config import BY_KEY, SettingError, parse_value
from wg_desktop.services.audit import AuditAction
from wg_desktop.ui.pages.audit_page import AuditPage
from wg_desktop.ui.settings_dialog import SettingsDialog


@pytest.fixture
def dialog(qtbot, ctx, runner, monkeypatch):
    saved: list[dict] = []
    warnings: list[str] = []
    monkeypatch.setattr("wg_desktop.ui.settings_dialog.QMessageBox.warning",
                        lambda *a: warnings.append(a[2]))
    dialog = SettingsDialog(ctx.settings, lambda c: saved.append(c) or list(c), runner)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.saved_calls, dialog.warnings = saved, warnings
    return dialog


def _message(key: str, raw) -> str:
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY[key], raw)
    return str(info.value)


@pytest.mark.parametrize("key,text,raw", [
    ("notify.webhook_urls", "https://ok.example\nfile:///etc/passwd",
     ["https://ok.example", "file:///etc/passwd"]),
    ("notify.webhook_urls", "gopher://x", ["gopher://x"]),
    ("notify.email_to", "ops@example.com\nnot-an-email", ["ops@example.com", "not-an-email"]),
    ("notify.email_from", "not-an-email", "not-an-email"),
    ("hubspot.flows_api_version", "../../../etc", "../../../etc"),
])
def test_invalid_value_is_shown_and_nothing_is_saved(qtbot, dialog, ctx, key, text, raw):
    editor = dialog.editors[key]
    if isinstance(editor, QPlainTextEdit):
        editor.setPlainText(text)
    else:
        assert isinstance(editor, QLineEdit)
        editor.setText(text)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    expected = _message(key, raw)
    assert dialog.status.text() == expected
    assert dialog.warnings == [expected]
    assert dialog.isVisible()
    assert dialog.saved_calls == []
    assert not ctx.paths.settings_file.exists()
    assert dialog.tabs.currentIndex() == next(
        i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i) == BY_KEY[key].group)


def test_setting_error_from_the_service_is_shown_the_same_way(qtbot, ctx, runner,
                                                              monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr("wg_desktop.ui.settings_dialog.QMessageBox.warning",
                        lambda *a: warnings.append(a[2]))

    def save(changes):
        raise SettingError("notify.smtp_host", "refused by the service")

    dialog = SettingsDialog(ctx.settings, save, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.editors["notify.smtp_host"].setText("smtp.example.com")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert dialog.status.text() == "Setting 'notify.smtp_host': refused by the service"
    assert dialog.isVisible() and dialog.buttons.isEnabled()


# -- the audit page's chain label ------------------------------------------------------

CHECKING = "Checking the audit trail…"


def _page(qtbot, ctx, runner) -> AuditPage:
    page = AuditPage(ctx.audit, runner)
    qtbot.addWidget(page)
    assert page.chain_label.text() == CHECKING
    return page


def _checked(qtbot, page) -> str:
    """Reload, then wait until the chain label shows the check's answer."""
    page.reload()
    qtbot.waitUntil(lambda: page.chain_label.text() != CHECKING, timeout=5000)
    return page.chain_label.text()


def test_audit_page_shows_an_intact_chain(qtbot, ctx, runner):
    for i in range(3):
        ctx.audit.record(AuditAction.SYNC, details=f"n={i}")
    page = _page(qtbot, ctx, runner)
    assert _checked(qtbot, page) == "Audit trail intact: 3 entries"
    assert "color" not in page.chain_label.styleSheet()
    assert page.chain_label.toolTip().startswith("audit trail intact: 3 entries, head ")


def test_audit_page_names_the_broken_entry(qtbot, ctx, runner):
    ids = [ctx.audit.record(AuditAction.SYNC, details=f"n={i}").id for i in range(3)]
    ctx.store.db.execute_sql("UPDATE audit_event SET details = 'quietly changed' WHERE id = ?",
                             (ids[1],))
    page = _page(qtbot, ctx, runner)
    assert _checked(qtbot, page) == f"Audit trail broken at entry {ids[1]}"
    assert "font-weight: bold" in page.chain_label.styleSheet()
    assert f"entry {ids[1]} was edited" in page.chain_label.toolTip()
