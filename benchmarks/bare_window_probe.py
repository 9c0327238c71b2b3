"""Child process of bench_startup: the baseline — a bare ``QMainWindow`` shown
in the same interpreter with the same flags and environment as the app's
probe; prints the time of its first paint, then exits."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow


class FirstPaint(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
            print(f"painted {time.time():.6f} heavy=none", flush=True)
            os._exit(0)
        return False


def main() -> None:
    app = QApplication(sys.argv[:1])
    watcher = FirstPaint()
    app.installEventFilter(watcher)
    window = QMainWindow()
    window.resize(1100, 720)
    window.show()
    app.exec()


if __name__ == "__main__":
    main()
