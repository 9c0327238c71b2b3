"""pyqtgraph helpers shared by the Health page and the report renderer.

pyqtgraph (and numpy under it) costs about 0.4 s to import, so nothing here
imports it at module level: the first chart built pays for it, and a window
that never opens the Health page never does.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import QBuffer, QByteArray, QIODevice

from wg_desktop.services.reports import METRIC_TITLES, Line, Metric

# Distinct, print-friendly colours, one per portal (cycled beyond ten).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def _pg() -> Any:
    import pyqtgraph as pg
    return pg


def make_plot(metric: Metric, parent: Any = None) -> Any:
    """A PlotWidget with a time axis, titled for ``metric``."""
    pg = _pg()
    plot = pg.PlotWidget(parent=parent, axisItems={"bottom": pg.DateAxisItem()})
    plot.setBackground("w")
    title, unit = METRIC_TITLES[metric]
    plot.setTitle(title, color="#222", size="10pt")
    plot.setLabel("left", unit)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.addLegend(offset=(-10, 10))
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    return plot


def set_lines(plot: Any, lines: Sequence[Line], names: dict[str, str] | None = None,
              x_range: tuple[float, float] | None = None) -> int:
    """Replace the plot's curves with ``lines``; returns the points drawn."""
    pg = _pg()
    plot.clear()
    legend = plot.plotItem.legend
    if legend is not None:
        legend.clear()
    drawn = 0
    for index, line in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        plot.plot(list(line.xs), list(line.ys), pen=pg.mkPen(colour, width=2),
                  name=(names or {}).get(line.portal_key, line.portal_key))
        drawn += len(line.xs)
    if x_range is not None:
        plot.setXRange(*x_range, padding=0.01)
    return drawn


def plot_png(plot: Any, width: int, height: int) -> bytes:
    """The plot as PNG bytes, ``width`` x ``height`` pixels. Works for a plot
    that was never shown (offscreen, in the CLI)."""
    from pyqtgraph.exporters import ImageExporter

    # The exporter keeps the item's aspect ratio: give the item the size wanted.
    plot.resize(width, height)
    plot.plotItem.setGeometry(0, 0, width, height)
    exporter = ImageExporter(plot.plotItem)
    exporter.parameters()["width"] = width
    exporter.parameters()["height"] = height
    image = exporter.export(toBytes=True)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)
