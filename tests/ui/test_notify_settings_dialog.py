"""The new notification settings appear in the settings dialog generated from
the registry, and saving them through it reaches what reads them: the alert
cooldown, the SMTP security, the webhook secret (keychain) and the weekly
report."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from wg_desktop.config import Source
from wg_desktop.services.alerts import AlertService
from wg_desktop.services.notifiers import EmailConfig, SmtpSecurity, channels_from_settings
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.ui.jobs import run_off_gui_thread, SynchronousPool
from wg_desktop.ui.settings_dialog import SettingsDialog


def test_the_dialog_offers_and_saves_them(qtbot, ctx):
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit)

    def runner(fn, **kw):
        return run_off_gui_thread(fn, pool=SynchronousPool(), **kw)

    dialog = SettingsDialog(ctx.settings, service.apply, runner, stored_secrets=set())
    qtbot.addWidget(dialog)
    cooldown = dialog.findChild(QSpinBox, "alerts.cooldown_minutes")
    security = dialog.findChild(QComboBox, "notify.smtp_security")
    secret = dialog.findChild(QLineEdit, "notify.webhook_secret")
    weekly = dialog.findChild(QCheckBox, "notify.weekly_report")
    assert cooldown.value() == 60 and security.currentText() == "auto"
    assert [security.itemText(i) for i in range(security.count())] == [
        "auto", "starttls", "ssl", "none"]
    assert secret.echoMode() is QLineEdit.EchoMode.Password and secret.text() == ""
    assert secret.placeholderText() == "not set" and not weekly.isChecked()

    cooldown.setValue(15)
    security.setCurrentText("ssl")
    secret.setText("hook-secret")
    weekly.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=5_000) as saved:
        dialog.save()
    assert set(saved.args[0]) == {"alerts.cooldown_minutes", "notify.smtp_security",
                                  "notify.webhook_secret", "notify.weekly_report"}
    assert AlertService(ctx.store, ctx.settings, ctx.audit).cooldown.total_seconds() == 900
    assert EmailConfig.from_settings(ctx.settings).security is SmtpSecurity.SSL
    assert ctx.settings.source("notify.webhook_secret") is Source.KEYCHAIN
    assert "hook-secret" not in ctx.settings.path.read_text()
    ctx.settings.updated({"notify.webhook_urls": ["https://hooks.example.com/x"]})
    assert channels_from_settings(ctx.settings)[0].secret == "hook-secret"
    assert ctx.settings.get("notify.weekly_report") is True
