"""Child process of bench_startup: launches the real GUI entry point and
prints the time of the main window's first paint, then exits."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication


# What the first frame must not wait for: the sign-in view's engine, the
# Health page's charts, the HubSpot client (made after the first frame), and
# any page but the Overview (built when shown or in idle time).
HEAVY = ("PySide6.QtWebEngineWidgets", "pyqtgraph", "wg_desktop.hubspot.transport.client")
FIRST_PAGE = "wg_desktop.ui.pages.overview_page"


class FirstPaint(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
            heavy = [m for m in HEAVY if m in sys.modules]
            heavy += sorted(m for m in sys.modules
                            if m.startswith("wg_desktop.ui.pages.") and m != FIRST_PAGE)
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
