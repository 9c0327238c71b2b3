"""The page list's icons, drawn in the palette's text colour.

The SVGs in ``resources/icons/pages/`` are line drawings whose stroke is a
``{color}`` placeholder: each is rendered with the current palette's window
text colour, so one set reads on a light and on a dark palette, and at
several sizes so a 200 % screen gets crisp pixels, not an upscaled bitmap.
Call :func:`page_icon` again after the palette changes.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
from PySide6.QtGui import QIcon, QImageReader, QPalette, QPixmap

from wg_desktop.ui.resources import resources_dir

# page title -> icon file (without .svg)
PAGE_ICONS = {
    "Overview": "overview",
    "Connection": "connection",
    "Workflows": "workflows",
    "Search": "search",
    "Health": "health",
    "Backups": "backups",
    "Audit log": "audit",
    "Background jobs": "jobs",
}
# Logical sizes drawn, each also at 2x for high-DPI screens.
SIZES = (16, 20, 24, 32)


@lru_cache(maxsize=None)
def _template(name: str) -> str:
    return (resources_dir() / "icons" / "pages" / f"{name}.svg").read_text(encoding="utf-8")


def render_icon(name: str, color: str) -> QIcon:
    # Qt's SVG image plugin draws each size from the vector source; it needs
    # no import of PySide6.QtSvg, which would cost the start-up ~20 ms.
    data = QByteArray(_template(name).replace("{color}", color).encode())
    icon = QIcon()
    for size in SIZES:
        for ratio in (1, 2):
            buffer = QBuffer()
            buffer.setData(data)
            buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            reader = QImageReader(buffer, b"svg")
            reader.setScaledSize(QSize(size * ratio, size * ratio))
            pixmap = QPixmap.fromImage(reader.read())
            pixmap.setDevicePixelRatio(ratio)
            icon.addPixmap(pixmap)
    return icon


def page_icon(title: str, palette: QPalette) -> QIcon:
    """The icon of the page called ``title`` (an empty icon for a page
    without one), in ``palette``'s text colour."""
    name = PAGE_ICONS.get(title)
    if name is None:
        return QIcon()
    return render_icon(name, palette.color(QPalette.ColorRole.WindowText).name())
