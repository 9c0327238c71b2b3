"""A backup opened read-only, in its own window beside the live one.

It is the Workflows page (list, history, versions, diffs) over the opened
backup: the runner it gets wraps every piece of work in the backup store's
session, so each load reads the backup on the worker thread while the rest
of the app keeps the live store. Syncing, restoring to HubSpot, comparing
with HubSpot and remembering what the user looked at are gone; "Compare with
the live store" and "Restore this workflow's history…" (into the live store)
are what it adds. Closing the window hands the backup to its owner (the
Backups page), which closes it and removes its private copy off the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                               QPushButton, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditLog
from wg_desktop.services.backup_browse import (LiveStoreCompare, OpenedBackup, PortalChoice,
                                               StoreCounts, browsable_portals)
from wg_desktop.services.history_merge import (HistoryMergePlan, HistoryMergeResult,
                                               merge_workflow_history, plan_history_merge)
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.ui.pages.workflows_page import WorkflowsPage

if TYPE_CHECKING:
    from wg_desktop.store.db import Store

# ui/theme.py roles: readable in the light and the dark palette alike.
BANNER_STYLE = ("background:${info_bg};color:${info_text};font-weight:bold;"
                "border-bottom:1px solid ${info_border};padding:6px")
ALL_PORTALS = None


def bound_runner(runner: Callable[..., Any], store: "Store") -> Callable[..., Any]:
    """``runner`` whose work runs inside ``store``'s session: the models read
    that store on the worker thread (and its connection closes afterwards)."""
    def run(fn: Callable[[], Any], **callbacks: Any) -> Any:
        def in_store() -> Any:
            with store.session():
                return fn()
        return runner(in_store, **callbacks)
    return run


class BackupBrowser(QMainWindow):
    closed = Signal(object)                 # the OpenedBackup, to be closed by the owner
    history_restored = Signal(object)       # HistoryMergeResult: the live store changed

    def __init__(self, opened: OpenedBackup, live_store: "Store", audit: AuditLog,
                 settings: Settings, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.opened = opened
        self.live_store = live_store
        self.audit = audit
        self.settings = settings
        self._tasks: list[Any] = []        # discarded on close: no answer reaches a dead page
        self._run_live = self._tracked(runner)
        self._run = self._tracked(bound_runner(runner, opened.store))
        self._closing = False
        self._workflow_chosen = False      # a workflow of the shown portal(s) is selected
        self._merging = False              # a history restore is planned or running
        self.setWindowTitle(f"{opened.title} — {opened.source.name}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1200, 800)

        self.banner = QLabel(opened.title)
        self.banner.setObjectName("backupBanner")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        theme.apply_style(self.banner, BANNER_STYLE)
        self.details = QLabel(str(opened.source))
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.apply_style(self.details, "color:${muted};")
        self.portals = QComboBox()
        self.portals.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.portals.addItem("All portals", ALL_PORTALS)
        self.restore_history_button = QPushButton("Restore this workflow's history…")
        self.restore_history_button.setToolTip(
            "Add the versions of the selected workflow that the live store lacks; the live "
            "store's own versions are kept")
        self._update_restore_button()
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        self.page = WorkflowsPage(
            WorkflowQueries(opened.store, audit), None, self._run,
            read_only=f"{opened.title}: nothing here can be changed, synced or restored to "
                      "HubSpot.", comparison=settings.feature_enabled("workflow_comparison"),
            store_compare=LiveStoreCompare(opened.store, live_store))

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Portal:"))
        bar.addWidget(self.portals)
        bar.addWidget(self.details, 1)
        bar.addWidget(self.restore_history_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        inner = QVBoxLayout()
        inner.setContentsMargins(8, 4, 8, 8)
        inner.addLayout(bar)
        inner.addWidget(self.page, 1)
        inner.addWidget(self.status)
        layout.addLayout(inner, 1)
        self.setCentralWidget(central)

        self.portals.currentIndexChanged.connect(self._portal_chosen)
        self.page.workflow_selected.connect(self._workflow_selected)
        self.restore_history_button.clicked.connect(lambda: self.restore_history())
        self.reload()

    def _tracked(self, runner: Callable[..., Any]) -> Callable[..., Any]:
        def run(fn: Callable[[], Any], **callbacks: Any) -> Any:
            handle = runner(fn, **callbacks)
            self._tasks = [t for t in self._tasks if not t.delivered] + [handle]
            return handle
        return run

    def _update_restore_button(self) -> None:
        # One restore at a time: a second click would plan (and ask) twice.
        self.restore_history_button.setEnabled(self._workflow_chosen and not self._merging)

    def _workflow_selected(self, workflow_id: int) -> None:
        self._workflow_chosen = True
        self._update_restore_button()

    def _portal_chosen(self) -> None:
        # The page reloads and selects again what it still lists.
        self._workflow_chosen = False
        self._update_restore_button()
        self.page.set_portal(self.portals.currentData())

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        store = self.opened.store
        self._run(lambda: (browsable_portals(store), self.opened.counts()),
                  on_result=self._show_portals,
                  on_error=lambda error: self._say(f"Could not read the backup: {error}"))

    def _show_portals(self, result: tuple[list[PortalChoice], StoreCounts]) -> None:
        portals, counts = result
        self.details.setText(f"{self.opened.source} · {counts.text()}")
        self.portals.blockSignals(True)
        self.portals.clear()
        self.portals.addItem("All portals", ALL_PORTALS)
        for choice in portals:
            self.portals.addItem(choice.label, choice.hub_id)
        self.portals.blockSignals(False)
        self.page.set_portal(ALL_PORTALS)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # -- restore one workflow's history --------------------------------------------------

    def restore_history(self, workflow_id: int | None = None) -> None:
        """Plan (off the GUI thread), confirm, then merge into the live store."""
        workflow_id = workflow_id if workflow_id is not None else self.page.selected_workflow_id()
        if workflow_id is None or self._merging:
            return
        backup, live = self.opened.store, self.live_store
        self._merging = True
        self._update_restore_button()
        self._say("Comparing with the live store…")
        self._run_live(lambda: plan_history_merge(backup, live, workflow_id),
                       on_result=lambda plan: self._confirm_restore(workflow_id, plan),
                       on_error=self._merge_failed)

    def _confirm_restore(self, workflow_id: int, plan: HistoryMergePlan) -> None:
        if not plan.missing:
            self._merge_ended(plan.text())
            return
        answer = QMessageBox.question(
            self, "Restore this workflow's history",
            f"{plan.text()}\n\nFrom: {self.opened.title}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            self._merge_ended("Nothing was restored.")
            return
        backup, live, audit, settings = (self.opened.store, self.live_store, self.audit,
                                         self.settings)
        source = self.opened.source
        self._say("Restoring the history…")
        self._run_live(lambda: merge_workflow_history(backup, live, audit, settings,
                                                      workflow_id, source=source, plan=plan),
                       on_result=self._restored, on_error=self._merge_failed)

    def _restored(self, result: HistoryMergeResult) -> None:
        self._merge_ended(result.text())
        self.history_restored.emit(result)

    def _merge_failed(self, error: BaseException) -> None:
        self._merge_ended(f"Nothing was restored: {error}")

    def _merge_ended(self, text: str) -> None:
        self._merging = False
        self._update_restore_button()
        self._say(text)

    # -- closing ------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # The owner (the Backups page, which outlives this window) closes the
        # backup and removes its private copy, off the GUI thread.
        if not self._closing:
            self._closing = True
            for task in self._tasks:
                task.discard()
            self.closed.emit(self.opened)
        super().closeEvent(event)
