"""Child process of bench_startup: launches the real GUI entry point and
prints two moments, then exits:

* ``painted``: the main window's first paint (it opens before its data, with
  "Opening your data…"), with the heavy modules loaded by then;
* ``ready``: the Overview's first paint once it has its data — the keychain
  read, the database opened and checked, and the Overview's first load shown
  (its portal tiles filled).
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication


# What the first frame must not wait for: the keychain and the database (they
# open behind the window), the sign-in view's engine, the Health page's charts,
# the HubSpot client (made after the Overview's frame), and every page.
HEAVY = ("keyring", "peewee", "sqlcipher3", "wg_desktop.store.db", "wg_desktop.context",
         "PySide6.QtWebEngineWidgets", "pyqtgraph", "wg_desktop.hubspot.transport.client")


class Moments(QObject):
    window: QObject | None = None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.Paint:
            return False
        if self.window is None and type(obj).__name__ == "MainWindow":
            self.window = obj
            heavy = [m for m in HEAVY if m in sys.modules]
            heavy += sorted(m for m in sys.modules if m.startswith("wg_desktop.ui.pages."))
            print(f"painted {time.time():.6f} heavy={','.join(heavy) or 'none'}", flush=True)
        elif self.window is not None:
            # Any paint once the Overview holds its first load: that frame shows it.
            overview = self.window.built_page("Overview")
            if overview is not None and overview.overview is not None:
                print(f"ready {time.time():.6f}", flush=True)
                os._exit(0)
        return False


def main() -> None:
    app = QApplication(sys.argv[:1])
    watcher = Moments()
    app.installEventFilter(watcher)
    from wg_desktop.ui.launch import run_gui

    run_gui(sys.argv[1])


if __name__ == "__main__":
    main()
