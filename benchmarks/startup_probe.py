"""Child process of bench_startup: launches the real GUI entry point and
prints the time of the main window's first paint, then exits."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication


class FirstPaint(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
            heavy = [m for m in ("PySide6.QtWebEngineWidgets", "pyqtgraph") if m in sys.modules]
            print(f"painted {time.time():.6f} heavy={','.join(heavy) or 'none'}", flush=True)
            os._exit(0)
        return False


def main() -> None:
    app = QApplication(sys.argv[:1])
    watcher = FirstPaint()
    app.installEventFilter(watcher)
    from wg_desktop.ui.app import run_gui

    run_gui(sys.argv[1])


if __name__ == "__main__":
    main()
