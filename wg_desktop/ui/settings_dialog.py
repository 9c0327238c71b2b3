"""The settings dialog, generated from the settings registry.

One tab per group, one row per setting. Values set by an environment variable
are shown read-only (the variable wins). Secret fields start blank: typing a
value replaces the secret in the keychain, leaving it blank keeps it.
Saving runs off the GUI thread (the keychain may block on D-Bus).

An invalid value is refused with the registry's own one-line message (the
same text ``wg-desktop settings set`` prints), shown in a message and on the
dialog's status line while its field gets the focus; nothing is saved and the
dialog stays open.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QMessageBox,
                               QPlainTextEdit, QScrollArea, QSpinBox, QTabWidget, QVBoxLayout,
                               QWidget)

from wg_desktop.config import REGISTRY, Kind, Setting, Settings, SettingError, parse_value
from wg_desktop.services.settings_service import DEMO_IN_USE, effective

_INT_MAX = 2_147_483_647


class SettingsDialog(QDialog):
    saved = Signal(list)   # the keys that changed

    def __init__(self, settings: Settings, save: Callable[[dict[str, Any]], list[str]],
                 run_off_gui_thread: Callable[..., Any], parent: QWidget | None = None, *,
                 stored_secrets: set[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(720, 560)
        self.settings = settings
        # Which secrets have a value, read off the GUI thread by the caller (the
        # keychain may block on D-Bus); None when unknown.
        self._stored_secrets = stored_secrets
        self._save = save
        self._run = run_off_gui_thread
        self.editors: dict[str, QWidget] = {}
        self._initial: dict[str, Any] = {}
        self.tabs = QTabWidget()
        groups: dict[str, QFormLayout] = {}
        for setting in REGISTRY:
            if setting.env_only:
                continue          # the environment's to set; shown nowhere to edit
            form = groups.get(setting.group)
            if form is None:
                page = QWidget()
                form = QFormLayout(page)
                form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
                # Long descriptions put their field on the next line instead of clipping.
                form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
                scroll = QScrollArea()
                scroll.setWidgetResizable(True)
                scroll.setWidget(page)
                self.tabs.addTab(scroll, setting.group)
                groups[setting.group] = form
            editor = self._editor(setting)
            label = QLabel(setting.description)
            label.setToolTip(f"{setting.key} — environment variable {setting.env_var}")
            form.addRow(label, editor)
            self.editors[setting.key] = editor
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.status = QLabel("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    # -- editors -----------------------------------------------------------------

    def _editor(self, setting: Setting) -> QWidget:
        # The value in force, as 'settings list' shows it: "Use the built-in demo
        # portal" is ticked while the demo runs because nothing else is configured.
        shown = None if setting.is_secret else effective(self.settings, setting.key)
        value = None if shown is None else shown.value
        kind = setting.kind
        if kind is Kind.BOOL:
            editor: QWidget = QCheckBox()
            editor.setChecked(bool(value))
        elif kind is Kind.INT:
            editor = QSpinBox()
            editor.setRange(int(setting.minimum if setting.minimum is not None else 0),
                            int(min(setting.maximum or _INT_MAX, _INT_MAX)))
            editor.setValue(int(value))
        elif kind is Kind.FLOAT:
            editor = QDoubleSpinBox()
            editor.setDecimals(3)
            editor.setRange(setting.minimum if setting.minimum is not None else 0.0,
                            setting.maximum if setting.maximum is not None else 1e9)
            editor.setValue(float(value))
        elif kind is Kind.CHOICE:
            editor = QComboBox()
            editor.addItems(list(setting.choices))
            editor.setCurrentText(str(value))
        elif kind is Kind.LIST:
            editor = QPlainTextEdit("\n".join(value))
            editor.setPlaceholderText("one per line")
            editor.setFixedHeight(72)
        elif kind is Kind.SECRET:
            editor = QLineEdit()
            editor.setEchoMode(QLineEdit.EchoMode.Password)
            editor.setMinimumWidth(300)
            known = self._stored_secrets
            editor.setPlaceholderText("type to set or replace" if known is None
                                      else "stored — type to replace"
                                      if setting.key in known else "not set")
        else:
            editor = QLineEdit(str(value))
            editor.setMinimumWidth(300)
        editor.setObjectName(setting.key)
        editor.setAccessibleName(setting.description)
        if self.settings.overridden_by_env(setting.key):
            editor.setEnabled(False)
            editor.setToolTip(f"Set by the environment variable {setting.env_var}")
        elif shown is not None and shown.source == DEMO_IN_USE:
            editor.setToolTip("In use now: no HubSpot app or API address is configured, so "
                              "the built-in demo portal runs. Untick to turn it off.")
        self._initial[setting.key] = self._read(setting, editor)
        return editor

    @staticmethod
    def _read(setting: Setting, editor: QWidget) -> Any:
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            return editor.value()
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QPlainTextEdit):
            return tuple(l.strip() for l in editor.toPlainText().splitlines() if l.strip())
        return editor.text()

    def changes(self) -> dict[str, Any]:
        """Edited values (validated); raises SettingError naming the bad setting."""
        out: dict[str, Any] = {}
        for setting in REGISTRY:
            editor = self.editors.get(setting.key)
            if editor is None:
                continue
            if not editor.isEnabled():
                continue
            value = self._read(setting, editor)
            if value == self._initial[setting.key]:
                continue
            if not setting.is_secret:
                parse_value(setting, list(value) if isinstance(value, tuple) else value)
            out[setting.key] = list(value) if isinstance(value, tuple) else value
        return out

    # -- saving --------------------------------------------------------------------

    def save(self) -> None:
        try:
            changes = self.changes()
        except SettingError as exc:
            self._refuse(exc)
            return
        if not changes:
            self.accept()
            return
        self.buttons.setEnabled(False)
        self.status.setText("Saving…")
        self._run(lambda: self._save(changes), on_result=self._saved, on_error=self._failed)

    def _saved(self, keys: list[str]) -> None:
        self.saved.emit(list(keys))
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        if isinstance(error, SettingError):
            self._refuse(error)
            return
        self.status.setText("")
        QMessageBox.warning(self, "Settings not saved", str(error))

    def _refuse(self, error: SettingError) -> None:
        """Show which field is wrong and why; the user fixes it in place."""
        message = str(error)
        self.status.setText(message)
        editor = self.editors.get(error.key)
        if editor is not None:
            page = editor.parentWidget()
            while page is not None and self.tabs.indexOf(page) < 0:
                page = page.parentWidget()
            if page is not None:
                self.tabs.setCurrentWidget(page)
            editor.setFocus()
        QMessageBox.warning(self, "Invalid setting", message)
