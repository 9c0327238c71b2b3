"""Render resources/icons/workflowguard.svg to the PNG sizes launchers ask for.

The PNGs are committed (a launcher or an old toolkit may not read SVG, and a
packager should not need Qt to build them); run this again after changing the
SVG:  .venv/bin/python scripts/render_icons.py
tests/e2e/test_packaging.py fails when a PNG is missing or has the wrong size.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The freedesktop icon theme's usual fixed sizes (hicolor), up to AppStream's 512.
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SOURCE = ICONS / "workflowguard.svg"


def png_path(size: int) -> Path:
    return ICONS / f"{size}x{size}" / "workflowguard.png"


def render(sizes: tuple[int, ...] = SIZES) -> list[Path]:
    # No display is needed to rasterise; this also runs on a headless CI box.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SOURCE}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = png_path(size)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"cannot write {target}")
        written.append(target)
    del app
    return written


if __name__ == "__main__":
    for path in render():
        print(path.relative_to(ICONS.parents[1]))
