"""Start-up work deferred to after the window's first painted frame
(ui/first_paint.py, used by run_gui)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QMainWindow

from wg_desktop.ui.first_paint import after_first_paint


class PaintLog(QObject):
    def __init__(self, window, log):
        super().__init__(window)
        self.log = log
        window.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.log.append("paint")
        return False


def test_deferred_calls_run_after_the_first_paint_in_order(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    log: list[str] = []
    PaintLog(window, log)
    window.show()
    # What run_gui queued with singleShot(0) before: it ran before the first frame.
    QTimer.singleShot(0, lambda: log.append("queued before paint"))
    after_first_paint(window, [lambda: log.append("first"), lambda: log.append("second")])
    qtbot.waitUntil(lambda: "second" in log, timeout=5000)
    assert log.index("paint") < log.index("first") < log.index("second")
    assert log.index("queued before paint") < log.index("paint")


def test_a_window_that_is_not_shown_does_not_hold_them_back(qtbot):
    window = QMainWindow()            # started in the tray: no paint will come
    qtbot.addWidget(window)
    ran: list[str] = []
    after_first_paint(window, [lambda: ran.append("scheduler started")])
    assert ran == []                  # not inside the call: on the next turn of the loop
    qtbot.waitUntil(lambda: ran == ["scheduler started"], timeout=2000)


class NoPaint(QObject):
    """A window that is shown but never painted (on another workspace, say)."""

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        return event.type() == QEvent.Type.Paint


def test_a_window_that_never_paints_does_not_hold_them_back_either(qtbot, monkeypatch):
    from wg_desktop.ui import first_paint

    monkeypatch.setattr(first_paint, "FIRST_PAINT_WAIT_MS", 100)
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    ran: list[str] = []
    after_first_paint(window, [lambda: ran.append("data opened")])
    eater = NoPaint(window)
    window.installEventFilter(eater)      # consulted first: the watcher sees no paint
    window.update()
    qtbot.wait(50)
    assert ran == []
    qtbot.waitUntil(lambda: ran == ["data opened"], timeout=2000)
    qtbot.wait(150)
    assert ran == ["data opened"]         # once, not again
