"""Drawing a health report: its charts as PNG (pyqtgraph's ImageExporter)
and the PDF (QPdfWriter printing a QTextDocument of the report's HTML).

The report's data and HTML come from ``wg_desktop.services.reports`` (no
Qt); this module is the only Qt part, shared by the command line and the
Health page so both produce the same file.

Threads: the charts are QGraphicsItems and must be drawn on the GUI thread;
the PDF (a QTextDocument painted onto a QPdfWriter over a memory buffer) may
be printed on a worker thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

from wg_desktop.paths import write_private_atomic
from wg_desktop.services.reports import (CHART_ORDER, HealthReport, ReportFormat, render_text,
                                         to_html)

CHART_SIZE = (900, 300)
PDF_DPI = 96        # the HTML's pixel sizes then read as on screen


def ensure_gui_app() -> Any:
    """The running QApplication, or a new offscreen one for the command line
    (charts are widgets, and a process without a display must not abort)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        return app
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return QApplication([])


def render_charts(report: HealthReport, size: tuple[int, int] = CHART_SIZE) -> dict[str, bytes]:
    """PNG bytes per metric with data in the period (GUI thread)."""
    from wg_desktop.ui.charts import make_plot, plot_png, set_lines

    if report.series is None:
        return {}
    names = {p.key: p.name for p in report.portals}
    x_range = (report.period.since.timestamp(), report.period.until.timestamp())
    charts = {}
    for metric in CHART_ORDER:
        lines = report.series.lines.get(metric, ())
        if not any(line.xs for line in lines):
            continue
        plot = make_plot(metric)
        try:
            set_lines(plot, lines, names, x_range)
            charts[str(metric)] = plot_png(plot, *size)
        finally:
            plot.deleteLater()
    return charts


def pdf_bytes(html: str) -> bytes:
    """The HTML printed to an A4 PDF; ``print_`` paginates (never set the
    document's page size to the writer's: the content shrinks to a quarter)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(PDF_DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter))
    writer.setTitle("Health report")
    document = QTextDocument()
    document.setHtml(html)
    document.print_(writer)
    del writer            # finishes the PDF into the buffer
    buffer.close()
    return bytes(data)


def report_bytes(report: HealthReport, fmt: ReportFormat,
                 charts: Mapping[str, bytes] | None = None) -> bytes:
    """The file's content. ``charts`` only matter for HTML and PDF."""
    if fmt is ReportFormat.PDF:
        return pdf_bytes(to_html(report, charts))
    return render_text(report, fmt, charts).encode("utf-8")


def write_report(path: Path, data: bytes) -> None:
    """Write the whole file or nothing (an unwritable path: one clear OSError)."""
    path = Path(path)
    try:
        write_private_atomic(path, data)
    except OSError as exc:
        raise OSError(f"cannot write the report to {path}: "
                      f"{exc.strerror or exc}") from exc


def needs_charts(fmt: ReportFormat) -> bool:
    return fmt in (ReportFormat.PDF, ReportFormat.HTML)
