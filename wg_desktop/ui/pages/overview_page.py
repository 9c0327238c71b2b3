"""Overview page: the first thing the window shows. A tile per portal (state,
last sync, changes since the user last looked, API budget, open alerts), the
latest changes across portals, the last and next backup and what runs next.

Everything is read by ``services.overview.build_overview`` off the GUI thread;
this page only renders the typed result. It reloads whenever it is shown, and
drops the answer of a load that a newer one replaced."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QListWidget,
                               QPushButton, QScrollArea, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.services.overview import Overview, OverviewSources, PortalTile, ScheduledRun, \
    build_overview

TILE_COLUMNS = 3
# Words and their theme colour role (ui/theme.py).
STATE_WORDS = {"connected": ("Connected", "ok_text"),
               "reconnect_needed": ("Reconnect needed", "error_text"),
               "disconnected": ("Disconnected (history kept)", "muted"),
               "import": ("Imported", "muted")}


def when(value: dt.datetime | None, never: str = "never") -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else never


def tile_lines(tile: PortalTile) -> list[str]:
    """The tile's facts, one per line, as plain words (also its accessible text)."""
    state = STATE_WORDS.get(tile.state, (tile.state, ""))[0]
    looked = "since you last looked" if tile.last_looked else "recorded (never looked)"
    b = tile.budget
    return [state,
            f"Last sync: {when(tile.last_sync)}",
            f"{tile.changes_since_looked} change(s) {looked}",
            f"API budget left: {b.limit_minute - b.used_minute}/min · "
            f"{b.limit_day - b.used_day}/day",
            f"{tile.open_alerts} open alert(s)"]


def scheduled_runs(scheduler: Any) -> list[ScheduledRun]:
    """The scheduler's plan as data (``next_due`` may read the job-run log)."""
    return [ScheduledRun(spec.name, spec.description or spec.name,
                         scheduler.next_due(spec.name), scheduler.is_running(spec.name))
            for spec in scheduler.specs()]


class OverviewPage(QWidget):
    """Shows an :class:`Overview`; ``open_page`` asks the window to switch pages."""

    open_page = Signal(str)
    # After every load: the Overview just shown, or None when it could not be
    # read. run_gui starts the HubSpot services and jobs after the first one.
    loaded = Signal(object)

    def __init__(self, sources: OverviewSources, scheduler: Any,
                 runner: Callable[..., Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sources = sources
        self.scheduler = scheduler
        self.runner = runner
        self.overview: Overview | None = None
        self._pending: Any = None

        title = QLabel("<h2>Overview</h2>")
        self.status_label = QLabel("")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(self.status_label, 1)
        head.addWidget(self.refresh_button)

        self.tiles_holder = QWidget()
        self.tiles_grid = QGridLayout(self.tiles_holder)
        self.tiles_grid.setContentsMargins(0, 0, 0, 0)
        self.empty_label = QLabel("No portal yet. Connect one on the Connection page.")
        self.tiles: list[QFrame] = []

        self.changes_list = QListWidget()
        self.changes_list.setObjectName("latestChanges")
        self.changes_list.setMaximumHeight(200)
        self.changes_list.itemActivated.connect(lambda item: self.open_page.emit("Workflows"))
        self.runs_list = QListWidget()
        self.runs_list.setObjectName("nextRuns")
        self.runs_list.setMaximumHeight(160)
        self.runs_list.itemActivated.connect(lambda item: self.open_page.emit("Background jobs"))
        self.backup_label = QLabel("")
        self.backup_label.setObjectName("backupSummary")
        self.backup_label.setWordWrap(True)

        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(self.empty_label)
        column.addWidget(self.tiles_holder)
        column.addWidget(QLabel("<b>Latest changes</b>"))
        column.addWidget(self.changes_list)
        column.addWidget(QLabel("<b>Backups</b>"))
        column.addWidget(self.backup_label)
        column.addWidget(QLabel("<b>Runs next</b>"))
        column.addWidget(self.runs_list)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(scroll, 1)

    # -- loading ------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.reload()

    def reload(self) -> None:
        if self._pending is not None:
            self._pending.discard()      # a newer load replaces it; its answer is stale
        sources, scheduler = self.sources, self.scheduler
        self.status_label.setText("Loading…")
        self._pending = self.runner(lambda: build_overview(sources, scheduled_runs(scheduler)),
                                    on_result=self._loaded, on_error=self._failed)

    def _failed(self, error: BaseException) -> None:
        self._pending = None
        self.status_label.setText(f"Could not load the overview: {error}")
        self.loaded.emit(None)

    def _loaded(self, overview: Overview) -> None:
        self._pending = None
        self.overview = overview
        self.status_label.setText(f"{overview.open_alerts} open alert(s) in all"
                                  if overview.open_alerts else "")
        self._show_tiles(overview)
        self.changes_list.clear()
        for change in overview.latest_changes:
            # A first capture is one row for the whole portal: no workflow name,
            # its summary says how many were stored.
            what = (f"{change.name} — {change.label}" if change.name
                    else change.summary or change.label)
            self.changes_list.addItem(f"{when(change.at)} · {change.portal_name or change.hub_id}"
                                      f" · {what}")
        if not overview.latest_changes:
            self.changes_list.addItem("No changes recorded yet")
        self.runs_list.clear()
        for run in overview.next_runs:
            state = " (running now)" if run.running else ""
            self.runs_list.addItem(f"{when(run.due)} · {run.description}{state}")
        if not overview.next_runs:
            self.runs_list.addItem("Nothing scheduled")
        self.backup_label.setText(self._backup_text(overview))
        self.loaded.emit(overview)

    @staticmethod
    def _backup_text(overview: Overview) -> str:
        last = overview.last_backup
        parts = [f"Last backup: {when(last.created_at)} ({last.status})" if last
                 else "No backup yet"]
        parts.append(f"next automatic backup: {when(overview.next_backup.due)}"
                     if overview.next_backup else "automatic backups are off")
        return " · ".join(parts)

    def _show_tiles(self, overview: Overview) -> None:
        for tile in self.tiles:
            self.tiles_grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        self.empty_label.setVisible(not overview.tiles)
        for index, data in enumerate(overview.tiles):
            tile = self._make_tile(data)
            self.tiles.append(tile)
            self.tiles_grid.addWidget(tile, index // TILE_COLUMNS, index % TILE_COLUMNS)

    def _make_tile(self, data: PortalTile) -> QFrame:
        frame = QFrame()
        frame.setObjectName("portalTile")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setProperty("hub_id", data.hub_id)
        lines = tile_lines(data)
        colour = theme.hex_color(STATE_WORDS.get(data.state, ("", "neutral_text"))[1])
        text = QLabel(f"<b>{html.escape(data.name)}</b><br>"
                      f"<span style='color:{colour}'>{html.escape(lines[0])}</span><br>"
                      + "<br>".join(html.escape(line) for line in lines[1:]))
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        frame.setAccessibleName(f"{data.name}: " + "; ".join(lines))
        frame.setToolTip(f"Hub {data.hub_id}")
        box = QVBoxLayout(frame)
        box.addWidget(text)
        return frame
