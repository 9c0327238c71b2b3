"""Health page: each portal's status at a glance, live charts over a chosen
period, API usage per endpoint, the alert list, and "Export report…".

Every read is one aggregated query set (``services.reports.dashboard``) run
off the GUI thread when the page is shown and every minute while it stays
visible; a late answer for a period no longer selected is dropped. The
charts (pyqtgraph) are built on first show, so a window that never opens this
page never imports pyqtgraph.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFrame,
                               QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QSplitter, QTableView, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.ui.table_model import TextTableModel
from wg_desktop.services.alerts import AlertService, AlertState
from wg_desktop.services.audit import AuditLog
from wg_desktop.services.health import DailyCounts, EndpointUsage, daily_counts
from wg_desktop.services.reports import (CHART_ORDER, PERIODS, Dashboard, ReportFormat, Tile,
                                         build_report, dashboard, parse_period)

REFRESH_MS = 60_000
# The pause between two charts' turns. A timer, not a zero-delay call: those
# run before the paint the previous chart asked for, and the charts' paints
# piled up into one long turn. Half a frame, so that input and other timers
# are served between one chart's paint and the next chart's data (a 1 ms
# pause let the next turn follow the tiles' re-layout or a chart's paint
# directly: 9-12 ms of GUI-thread work back to back). Five charts then take
# about 60 ms to follow a refresh.
CHART_TURN_MS = 8
PERIOD_CHOICES = (("1 h", "1h"), ("24 h", "24h"), ("7 d", "7d"), ("30 d", "30d"))
# Each status's theme tone (ui/theme.py): background, text and border.
STATUS_TONES = {"healthy": "ok", "degraded": "warning", "unhealthy": "error", None: "neutral"}


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _when(value: Any) -> str:
    return "never" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


class StatusTile(QFrame):
    """One portal: status, uptime, average response, error rate, budget, open
    connections, today's calls (the app's count and, for private apps,
    HubSpot's), last sync."""

    def __init__(self, tile: Tile, counts: DailyCounts | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("healthTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        self._tone: str | None = None
        self.show_tile(tile, counts)

    def show_tile(self, tile: Tile, counts: DailyCounts | None = None) -> None:
        """New figures in place: a refresh changes text, not widgets (a rebuilt
        row of tiles re-laid the page out and repainted every chart at once)."""
        self.tile = tile
        tone = STATUS_TONES.get(tile.status, "neutral")
        if tone != self._tone:              # a new style sheet re-polishes the tile
            self._tone = tone
            theme.apply_style(self, f"#healthTile {{ background:${{{tone}_bg}}; "
                                    f"border:1px solid ${{{tone}_text}}; border-radius:6px; }}")
        colour, muted = theme.hex_color(f"{tone}_text"), theme.hex_color("muted")
        status = tile.status or "not checked yet"
        avg = "—" if tile.avg_response_ms is None else f"{tile.avg_response_ms / 1000:.2f} s"
        budget = "—" if tile.rate_remaining is None else f"{tile.rate_remaining:,}"
        connections = "—" if tile.active_connections is None else str(tile.active_connections)
        self.label.setText(
            f"<b>{_esc(tile.portal.name)}</b> <span style='color:{muted}'>({tile.portal.key})</span>"
            f"<br><span style='color:{colour};font-size:14pt;font-weight:bold'>{status}</span>"
            f"<br>Uptime {_pct(tile.uptime, 2)} · Avg response {avg}"
            f"<br>Error rate {_pct(tile.error_rate)} · Budget left {budget}"
            f"<br>Open connections {connections}"
            f"{calls_today(counts)}"
            f"<br>Last sync {_when(tile.last_sync)}")
        self.setToolTip("\n".join(tile.reasons) or f"Checked {_when(tile.checked_at)}")


def calls_today(counts: DailyCounts | None) -> str:
    """The tile's "calls today" line: the app's count, and HubSpot's beside it."""
    if counts is None:
        return ""
    text = f"<br>Calls today: app {counts.client_used:,} / {counts.client_limit:,}"
    if counts.hubspot_used is not None:
        limit = "—" if counts.hubspot_limit is None else f"{counts.hubspot_limit:,}"
        text += f" · HubSpot: {counts.hubspot_used:,} / {limit} today"
    return text


def chart_range(board: Dashboard) -> tuple[float, float]:
    """The period widened to whole buckets. A range that moved with every
    refresh re-ticked and re-lettered each time axis, the larger part of a
    chart's repaint; snapped, it moves once per bucket (6 h on a 30-day chart)."""
    bucket = board.series.bucket_s
    since, until = board.period.since.timestamp(), board.period.until.timestamp()
    return (math.floor(since / bucket) * bucket, math.ceil(until / bucket) * bucket)


def update_lines(plot: Any, lines: Sequence[Any], names: dict[str, str],
                 x_range: tuple[float, float], drawn: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """Move the plot's curves to new data in place when the same portals are
    drawn as before (``drawn``: what the last call returned) — every refresh
    but the first. Rebuilding curves and legend cost 60-70 ms a chart,
    setting the data a fraction of one. The view's ranges are set here, before
    the data: left to auto-range, the y range was fitted while painting, and
    the axis it changed asked for a second paint. Returns what is drawn now."""
    from wg_desktop.ui.charts import (PALETTE, cache_legend_labels, set_lines,
                                      show_points_when_sparse, y_range)

    keys = tuple((line.portal_key, names.get(line.portal_key, line.portal_key))
                 for line in lines)
    view = plot.plotItem.getViewBox()
    wanted = (tuple(x_range), y_range(lines))
    if tuple(tuple(r) for r in view.viewRange()) != wanted or view.autoRangeEnabled() != [
            False, False]:
        plot.setRange(xRange=wanted[0], yRange=wanted[1], padding=0)
    curves = plot.plotItem.listDataItems()
    if drawn != keys or len(curves) != len(lines):
        set_lines(plot, lines, names, live=True)
        cache_legend_labels(plot)
        return keys
    for index, (curve, line) in enumerate(zip(curves, lines)):
        curve.setData(list(line.xs), list(line.ys))
        show_points_when_sparse(curve, len(line.xs), PALETTE[index % len(PALETTE)])
    return keys


def _chart_state(lines: Sequence[Any], board: Dashboard) -> tuple[Any, ...]:
    """What a chart shows: its lines, its x range and the portals' names."""
    names = {t.portal.key: t.portal.name for t in board.tiles}
    return tuple(lines), chart_range(board), tuple(names.get(line.portal_key) for line in lines)


def _esc(text: str) -> str:
    import html
    return html.escape(text)


class _Table(TextTableModel):
    """Rows of display text; ``items`` holds what each row stands for."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent, headers)
        self.items: list[Any] = []

    def set_rows(self, items: Sequence[Any], rows: Sequence[tuple[str, ...]]) -> None:
        self.items = list(items)
        super().set_rows(rows)


def _table_view(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class HealthPage(QWidget):
    loaded = Signal(object)          # the Dashboard shown

    def __init__(self, store: Any, settings: Any, audit: AuditLog,
                 run_off_gui_thread: Callable[..., Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audit = audit
        self.settings = settings
        self.counts: dict[str, DailyCounts] = {}
        self.alert_service = AlertService(store, settings, audit)
        self._run = run_off_gui_thread
        self._pending: Any = None
        self._pending_alerts: Any = None
        self.board: Dashboard | None = None
        self.plots: dict[str, Any] = {}
        self._chart_queue: list[tuple[Any, Sequence[Any]]] = []
        self._chart_board: Dashboard | None = None
        self._charts_done: Callable[[], None] | None = None
        self._chart_turn_pending = False
        self._drawn: dict[str, tuple[Any, ...]] = {}     # portals each chart shows
        self._shown_lines: dict[str, tuple[Any, ...]] = {}   # each chart's _chart_state
        self.portal_keys: list[str] | None = None     # None: every portal

        self.period = QComboBox()
        for text, key in PERIOD_CHOICES:
            self.period.addItem(text, key)
        self.period.setCurrentIndex(1)
        self.refresh_button = QPushButton("Refresh")
        self.export_button = QPushButton("Export report…")
        self.status_label = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period:"))
        bar.addWidget(self.period)
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        bar.addWidget(self.status_label)
        bar.addWidget(self.export_button)

        self.tiles_box = QWidget()
        self.tiles_layout = QGridLayout(self.tiles_box)
        self.tiles_layout.setContentsMargins(0, 0, 0, 0)
        self.tiles: list[StatusTile] = []
        self.charts_box = QWidget()
        self.charts_layout = QGridLayout(self.charts_box)
        self.charts_layout.setContentsMargins(0, 0, 0, 0)

        self.endpoint_model = _Table(("Method", "Endpoint", "Calls", "Failed", "Avg response"),
                                     self)
        self.endpoint_view = _table_view(self.endpoint_model)
        self.alert_model = _Table(("Severity", "Portal", "Alert", "Last seen", "Count", "State"),
                                  self)
        self.alert_view = _table_view(self.alert_model)
        self.show_resolved = QCheckBox("Show resolved")
        self.ack_button = QPushButton("Acknowledge selected")
        alerts_bar = QHBoxLayout()
        alerts_bar.addWidget(QLabel("<b>Alerts</b>"))
        alerts_bar.addStretch(1)
        alerts_bar.addWidget(self.show_resolved)
        alerts_bar.addWidget(self.ack_button)
        alerts_box = QWidget()
        alerts_column = QVBoxLayout(alerts_box)
        alerts_column.setContentsMargins(0, 0, 0, 0)
        alerts_column.addLayout(alerts_bar)
        alerts_column.addWidget(self.alert_view)
        endpoints_box = QWidget()
        endpoints_column = QVBoxLayout(endpoints_box)
        endpoints_column.setContentsMargins(0, 0, 0, 0)
        endpoints_column.addWidget(QLabel("<b>API usage per endpoint</b>"))
        endpoints_column.addWidget(self.endpoint_view)
        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.addWidget(endpoints_box)
        tables.addWidget(alerts_box)

        content = QWidget()
        column = QVBoxLayout(content)
        column.addWidget(self.tiles_box)
        column.addWidget(self.charts_box)
        column.addWidget(tables)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)

        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.reload)
        self.period.currentIndexChanged.connect(lambda index: self.reload())
        self.refresh_button.clicked.connect(self.reload)
        self.show_resolved.toggled.connect(lambda on: self.reload_alerts())
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.export_button.clicked.connect(self.choose_export_file)

    # -- visibility: refresh while shown ----------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._ensure_charts()
        self.reload()
        self._timer.start()

    def hideEvent(self, event: Any) -> None:
        # Nobody looks at a hidden page: stop querying every minute.
        self._timer.stop()
        super().hideEvent(event)

    def _ensure_charts(self) -> None:
        if self.plots:
            return
        from wg_desktop.ui.charts import cache_static_items, make_plot

        for index, metric in enumerate(CHART_ORDER):
            plot = make_plot(metric)
            cache_static_items(plot)
            plot.setMinimumHeight(200)
            self.plots[str(metric)] = plot
            self.charts_layout.addWidget(plot, index // 2, index % 2)
        if self.board is not None:
            self._draw_charts(self.board)

    # -- loading ------------------------------------------------------------------------

    def period_key(self) -> str:
        return self.period.currentData()

    def set_period(self, key: str) -> None:
        if key not in PERIODS:
            raise ValueError(key)
        self.period.setCurrentIndex(self.period.findData(key))

    def reload(self) -> None:
        if self._pending is not None:
            self._pending.discard()   # its answer is for an outdated period
        key = self.period_key()
        portals = self.portal_keys

        settings = self.settings

        def load() -> tuple[Dashboard, dict[str, DailyCounts]]:
            board = dashboard(parse_period(key), portals)
            return board, daily_counts(settings, [t.portal.key for t in board.tiles])

        self.status_label.setText("Loading…")
        self._pending = self._run(load, on_result=self._loaded, on_error=self._error)
        self.reload_alerts()

    def reload_alerts(self) -> None:
        if self._pending_alerts is not None:
            self._pending_alerts.discard()
        open_only = not self.show_resolved.isChecked()
        service = self.alert_service
        self._pending_alerts = self._run(lambda: service.alerts(open_only=open_only, limit=500),
                                         on_result=self._show_alerts, on_error=self._error)

    def _loaded(self, result: tuple[Dashboard, dict[str, DailyCounts]]) -> None:
        board, self.counts = result
        self._show(board)

    def _show(self, board: Dashboard) -> None:
        self._pending = None
        self.board = board
        self._show_tiles(board.tiles)
        self._show_endpoints(board.endpoints)
        self.status_label.setText(f"Updated {_when(board.period.until)} · "
                                  f"{len(board.tiles)} portal(s)")
        # ``loaded`` follows the last chart (drawn one per event-loop turn).
        self._draw_charts(board, done=lambda: self.loaded.emit(board))

    def _error(self, error: BaseException) -> None:
        self.status_label.setText(f"Could not read the health data: {error}")

    def _show_tiles(self, tiles: Sequence[Tile]) -> None:
        if tiles and [t.tile.portal for t in self.tiles] == [t.portal for t in tiles]:
            for widget, tile in zip(self.tiles, tiles):
                widget.show_tile(tile, self.counts.get(tile.portal.key))
            return
        for tile in self.tiles:
            self.tiles_layout.removeWidget(tile)
            tile.deleteLater()
        self.tiles = [StatusTile(t, self.counts.get(t.portal.key)) for t in tiles]
        columns = 3
        for index, tile in enumerate(self.tiles):
            self.tiles_layout.addWidget(tile, index // columns, index % columns)
        if not tiles:
            self.status_label.setText("No portal yet: connect one to see its health.")

    def _draw_charts(self, board: Dashboard, done: Callable[[], None] | None = None) -> None:
        """One chart per event-loop turn, and only the charts whose lines
        changed: a repaint of all five at once held the GUI thread for a frame
        and more (30-40 ms). Each turn sets one chart's data and ranges; its
        paint follows on its own (the next turn waits on a timer, which the
        event loop serves after the pending paint). A newer board replaces
        the queue of an older one."""
        self._chart_queue = []
        for metric in CHART_ORDER if self.plots else ():
            lines = board.series.lines.get(metric, ())
            if self._chart_changed(str(metric), lines, board):
                self._chart_queue.append((metric, lines))
        self._chart_board, self._charts_done = board, done
        if not self.plots:
            self._finish_charts()       # not shown yet: drawn on first show
        elif not self._chart_turn_pending:
            self._chart_turn_pending = True
            QTimer.singleShot(CHART_TURN_MS, self._draw_next_chart)

    def _chart_changed(self, name: str, lines: Sequence[Any], board: Dashboard) -> bool:
        return self._shown_lines.get(name) != _chart_state(lines, board)

    def _draw_next_chart(self) -> None:
        self._chart_turn_pending = False
        if not self._chart_queue:
            self._finish_charts()
            return
        metric, lines = self._chart_queue.pop(0)
        board = self._chart_board
        names = {t.portal.key: t.portal.name for t in board.tiles}
        x_range = chart_range(board)
        name = str(metric)
        self._drawn[name] = update_lines(self.plots[name], lines, names, x_range,
                                         self._drawn.get(name))
        self._shown_lines[name] = _chart_state(lines, board)
        # Also after the last chart: ``loaded`` waits for its paint.
        self._chart_turn_pending = True
        QTimer.singleShot(CHART_TURN_MS, self._draw_next_chart)

    def _finish_charts(self) -> None:
        done, self._charts_done = self._charts_done, None
        if done is not None:
            done()

    def chart_points(self) -> dict[str, int]:
        """Points drawn per chart (what the user sees, for the status line and tests)."""
        counts = {}
        for name, plot in self.plots.items():
            counts[name] = sum(len(item.xData) for item in plot.plotItem.listDataItems()
                               if item.xData is not None)
        return counts

    def _show_endpoints(self, usage: Sequence[EndpointUsage]) -> None:
        self.endpoint_model.set_rows(usage, [
            (u.method, u.endpoint, f"{u.calls:,}", f"{u.failed:,}", f"{u.avg_latency_ms:.0f} ms")
            for u in usage])

    def _show_alerts(self, alerts: list[AlertState]) -> None:
        self._pending_alerts = None
        self.alert_model.set_rows(alerts, [
            (a.severity, a.portal_key or "—", a.title, _when(a.last_seen), str(a.count),
             "resolved" if a.resolved_at else "acknowledged" if a.acknowledged_at else "open")
            for a in alerts])

    # -- acting -------------------------------------------------------------------------

    def selected_alerts(self) -> list[AlertState]:
        rows = sorted({i.row() for i in self.alert_view.selectionModel().selectedRows()})
        return [self.alert_model.items[r] for r in rows]

    def acknowledge_selected(self) -> None:
        ids = [a.id for a in self.selected_alerts()]
        if not ids:
            self.status_label.setText("Select the alerts to acknowledge first.")
            return
        service = self.alert_service
        self._run(lambda: [service.acknowledge(i) for i in ids],
                  on_result=lambda done: (self.status_label.setText(
                      f"Acknowledged {len(done)} alert(s)."), self.reload_alerts()),
                  on_error=self._error)

    def choose_export_file(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export health report", f"health-report-{self.period_key()}.pdf",
            "PDF (*.pdf);;HTML (*.html)")
        if path:
            fmt = ReportFormat.HTML if path.lower().endswith((".html", ".htm")) or \
                "HTML" in chosen else ReportFormat.PDF
            self.export_report(Path(path), fmt)

    def export_report(self, path: Path, fmt: ReportFormat) -> None:
        """The same report as ``wg-desktop report``: data off the GUI thread,
        charts drawn here (they are graphics items), the file written off it."""
        from wg_desktop.ui.report_render import render_charts, report_bytes, write_report

        key, portals, audit = self.period_key(), self.portal_keys, self.audit
        self.export_button.setEnabled(False)
        self.status_label.setText("Building the report…")

        def failed(error: BaseException) -> None:
            self.export_button.setEnabled(True)
            self.status_label.setText(f"Export failed: {error}")

        def written(_: Any) -> None:
            self.export_button.setEnabled(True)
            self.status_label.setText(f"Report written to {path}")

        def built(report: Any) -> None:
            try:
                charts = render_charts(report)
            except Exception as exc:      # a chart must not lose the whole export
                failed(exc)
                return
            self._run(lambda: write_report(path, report_bytes(report, fmt, charts)),
                      on_result=written, on_error=failed)

        self._run(lambda: build_report(audit, parse_period(key), portals),
                  on_result=built, on_error=failed)
