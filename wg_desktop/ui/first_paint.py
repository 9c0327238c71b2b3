"""Start-up work that can wait runs after the window's first painted frame.

``QTimer.singleShot(0, ...)`` queued before ``show()`` runs *before* the first
paint: the event loop handles expired timers ahead of the window's update
request. A full garbage collection and freeze (~30-90 ms), starting the job
scheduler and connecting the demo portal (threads that take the GIL at once)
then delay the first frame the user sees. :func:`after_first_paint` runs them
once the window has painted, or at once when the window is not shown (started
in the tray), so nothing depends on a paint that never comes.
"""

from __future__ import annotations

from typing import Callable, Iterable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


# A window shown but never exposed (on another workspace, behind a compositor
# that paints nothing yet) gets no Paint event: the calls run after this long.
FIRST_PAINT_WAIT_MS = 2_000


class _FirstPaintWatcher(QObject):
    def __init__(self, window: QWidget, calls: list[Callable[[], object]]) -> None:
        super().__init__(window)
        self._window = window
        self._calls = calls
        window.installEventFilter(self)
        QTimer.singleShot(FIRST_PAINT_WAIT_MS, self, self.run)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self._window and event.type() == QEvent.Type.Paint:
            self.run()      # queued calls: the paint in progress finishes first
        return False

    def run(self) -> None:
        """Once: on the first paint, or when it is given up on."""
        self._window.removeEventFilter(self)
        calls, self._calls = self._calls, []
        # Each its own event, as the singleShot(0) calls they replace: one that
        # raises reaches the crash handler and does not stop the others.
        for call in calls:
            QTimer.singleShot(0, call)
        self.deleteLater()


def after_first_paint(window: QWidget, calls: Iterable[Callable[[], object]]) -> None:
    """Run ``calls`` in order once ``window`` has painted its first frame —
    or on the next turn of the event loop when it is not visible."""
    watcher = _FirstPaintWatcher(window, list(calls))
    if not window.isVisible():
        watcher.run()
