"""The window's status bar: connection and budget, last sync, which HubSpot,
and the running background job. Every label elides: a long message never
widens the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtWidgets import QProgressBar, QStatusBar, QWidget

from wg_desktop.ui.widgets import ElidedLabel

if TYPE_CHECKING:     # the store's models load after the first frame
    from wg_desktop.services.status import AppStatus


class StatusLine(QStatusBar):
    def __init__(self, target: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app_status: AppStatus | None = None
        self._portal_text = ""
        self.connection_label = ElidedLabel("No portal connected")
        self.budget_label = ElidedLabel("")
        self.sync_label = ElidedLabel("Last sync: never")
        self.job_label = ElidedLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setVisible(False)
        for widget, stretch in ((self.connection_label, 2), (self.budget_label, 2),
                                (self.sync_label, 1)):
            self.addWidget(widget, stretch)
        # Which HubSpot this window talks to, always in view: the demo, or the
        # configured API base (never silently the demo when a base is set).
        self.target_label = ElidedLabel(target)
        self.target_label.setObjectName("hubspotTarget")
        self.addPermanentWidget(self.target_label)
        self.addPermanentWidget(self.job_label)
        self.addPermanentWidget(self.job_progress)

    def follow_jobs(self, scheduler: Any, job_ended: Callable[[], None]) -> None:
        """Show the scheduler's runs; ``job_ended`` runs after each (the window
        refreshes its status then)."""
        def ended(name: str, message: str = "") -> None:
            self.job_ended(name, message)
            job_ended()

        scheduler.started.connect(self.job_started)
        scheduler.progress.connect(self.job_progress_changed)
        for signal in (scheduler.finished, scheduler.failed):
            signal.connect(ended)
        scheduler.cancelled.connect(lambda name: ended(name, "cancelled"))

    def job_started(self, name: str) -> None:
        self.job_label.setText(f"Running: {name}")
        self.job_progress.setRange(0, 0)
        self.job_progress.setVisible(True)

    def job_progress_changed(self, name: str, done: int, total: int, message: str) -> None:
        if total > 0:
            self.job_progress.setRange(0, total)
            self.job_progress.setValue(done)
        self.job_label.setText(f"{name}: {message}" if message else f"Running: {name}")

    def job_ended(self, name: str, message: str = "") -> None:
        self.job_progress.setVisible(False)
        self.job_label.setText(f"{name}: {message}" if message else "")

    def show_status(self, status: AppStatus) -> None:
        self.app_status = status
        self._update_connection_label()
        b = status.budget
        self.budget_label.setText(
            f"API budget left: {b.limit_minute - b.used_minute}/min · "
            f"{b.limit_hour - b.used_hour}/h · {b.limit_day - b.used_day}/day")
        self.sync_label.setText("Last sync: " + (
            status.last_sync.astimezone().strftime("%Y-%m-%d %H:%M")
            if status.last_sync else "never"))

    def status_unavailable(self, error: BaseException) -> None:
        self.connection_label.setText(f"Status unavailable: {error}")

    def set_portal_text(self, text: str) -> None:
        """The current portal's own state ("" when no portal is current)."""
        self._portal_text = text
        self._update_connection_label()

    def _update_connection_label(self) -> None:
        """The current portal's status first, then the counts over all portals."""
        status = self.app_status
        parts = []
        if self._portal_text:
            parts.append(self._portal_text)
        if status is not None and (status.portals_connected
                                   or status.portals_needing_reconnect):
            if not parts:
                parts.append(f"{status.portals_connected} portal(s) connected")
            if status.portals_needing_reconnect:
                parts.append(f"{status.portals_needing_reconnect} need reconnecting")
        self.connection_label.setText(" · ".join(parts) or "No portal connected")
