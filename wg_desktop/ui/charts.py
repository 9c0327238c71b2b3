"""pyqtgraph helpers shared by the Health page and the report renderer.

pyqtgraph (and numpy under it) costs about 0.4 s to import, so nothing here
imports it at module level: the first chart built pays for it, and a window
that never opens the Health page never does.
"""

from __future__ import annotations

import math
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


# Round tops for a chart's y axis: a range that moved with every refresh
# re-ticked and re-lettered the axis each time.
_NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
_Y_HEADROOM = 1.05


def set_lines(plot: Any, lines: Sequence[Line], names: dict[str, str] | None = None,
              x_range: tuple[float, float] | None = None,
              live: bool = False) -> int:
    """Replace the plot's curves with ``lines``; returns the points drawn.
    ``live``: the Health page's curves, redrawn every refresh (tune_live_curve)."""
    pg = _pg()
    plot.clear()
    legend = plot.plotItem.legend
    if legend is not None:
        legend.clear()
    drawn = 0
    for index, line in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        curve = plot.plot(list(line.xs), list(line.ys), pen=pg.mkPen(colour, width=2),
                          name=(names or {}).get(line.portal_key, line.portal_key))
        if live:
            tune_live_curve(curve)
        show_points_when_sparse(curve, len(line.xs), colour)
        drawn += len(line.xs)
    if x_range is not None:
        plot.setXRange(*x_range, padding=0.01)
    return drawn


SPARSE_POINTS = 3


def show_points_when_sparse(curve: Any, points: int, colour: Any) -> None:
    """A line of one point draws nothing and one of two or three is easily
    missed (a fresh install's first health checks): each point then gets a
    dot. Longer lines stay plain lines."""
    if points <= SPARSE_POINTS:
        if curve.opts.get("symbol") != "o":
            curve.setSymbol("o")
            curve.setSymbolSize(7)
            curve.setSymbolPen(colour)
            curve.setSymbolBrush(colour)
    elif curve.opts.get("symbol") is not None:
        curve.setSymbol(None)


def tune_live_curve(curve: Any) -> None:
    """A live chart's curve: drawn only within the view, downsampled (peaks
    kept) should a line ever hold more points than pixels, and without
    numpy's finite check on every repaint (the data is finite by
    construction). Set on the added curve: given to ``plot()``, clipping
    reads the view before the curve has one (pyqtgraph 0.14)."""
    curve.setClipToView(True)
    curve.setDownsampling(auto=True, method="peak")
    curve.setSkipFiniteCheck(True)


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
    power of ten) at or above ``value``; 1 for nothing to show."""
    if not value > 0 or math.isinf(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in _NICE_STEPS if step * power >= value)


def y_range(lines: Sequence[Line]) -> tuple[float, float]:
    """From zero (every metric charted is a count, a rate or a time) to a
    round top above the highest point."""
    highest = max((y for line in lines for y in line.ys), default=0.0)
    return 0.0, nice_ceiling(highest * _Y_HEADROOM)


def cache_static_items(plot: Any) -> None:
    """Paint the axes (and the grid they draw), the title and the legend's
    labels from pixmaps: replaying an axis' text was most of a chart's repaint
    (about 2.5 ms an axis), a pixmap takes microseconds. An item's cache is
    dropped when the item itself changes (a new range re-ticks the axis).
    Live charts only: a report's charts are painted once."""
    from PySide6.QtWidgets import QGraphicsItem

    cached = QGraphicsItem.CacheMode.DeviceCoordinateCache
    item = plot.plotItem
    for name in ("left", "bottom"):
        item.getAxis(name).setCacheMode(cached)
    item.titleLabel.setCacheMode(cached)


def cache_legend_labels(plot: Any) -> None:
    """The legend's labels from pixmaps too (they are rebuilt with the curves)."""
    from PySide6.QtWidgets import QGraphicsItem

    legend = plot.plotItem.legend
    if legend is None:
        return
    for _, label in legend.items:
        label.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


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
