"""Run a callable off the GUI thread and get its result back on the GUI thread.

Every piece of off-thread work goes through ``run_off_gui_thread``:
``on_result``/``on_error`` are called on the GUI thread, later, from the event
loop (never re-entrantly from inside the call, even with ``SynchronousPool``),
so callers can set up state after the call without racing their own callback.

Lifetime: the per-request relay ``QObject`` is parented to the application,
which keeps both its C++ object and (through PySide's parent ownership) its
Python wrapper alive until the result is delivered, even if the caller drops
the handle; it then ``deleteLater()``s itself. The handle never touches the
QObject, so using it after delivery is safe.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Callable, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

log = logging.getLogger(__name__)


class WorkPool(Protocol):
    """What ``run_off_gui_thread`` needs from a pool; ``QThreadPool`` fits."""

    def start(self, fn: Callable[[], Any], /) -> None: ...

    def waitForDone(self, msecs: int, /) -> bool: ...  # noqa: N802 - Qt's name


class SynchronousPool:
    """Runs work at once in the calling thread, for deterministic tests.

    Results still travel through the queued relay, so callbacks arrive from
    the event loop exactly as with a real pool.
    """

    def start(self, fn: Callable[[], Any], /, priority: int = 0) -> None:
        fn()

    def waitForDone(self, msecs: int = -1, /) -> bool:  # noqa: N802 - Qt's name
        return True


class _Request:
    """State shared by the worker, the relay and the handle.

    Plain Python (not a QObject) so the handle stays usable after the relay
    has been deleted. The outcome is written on the worker thread and read
    on the GUI thread, hence the lock.
    """

    def __init__(self, on_result: Callable[[Any], None],
                 on_error: Callable[[BaseException], None]) -> None:
        self.token = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._outcome: tuple[bool, Any] | None = None
        self._callbacks: tuple[Callable[[Any], None], Callable[[BaseException], None]] | None = (
            on_result, on_error)
        self._delivered = False
        self._discarded = False

    def run(self, fn: Callable[[], Any]) -> None:
        """Worker thread. Catches everything so no error escapes into Qt's pool."""
        try:
            outcome: tuple[bool, Any] = (True, fn())
        except BaseException as exc:  # noqa: BLE001 - handed to on_error, not swallowed
            outcome = (False, exc)
        with self._lock:
            self._outcome = outcome

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._outcome is not None

    @property
    def discarded(self) -> bool:
        return self._discarded

    @property
    def delivered(self) -> bool:
        return self._delivered

    def discard(self) -> None:
        # Dropping the callbacks also frees whatever they capture (a closed dialog).
        if not self._delivered:
            self._discarded = True
            self._callbacks = None

    def deliver(self) -> bool:
        """GUI thread. Calls the callback once; True if the work had finished."""
        with self._lock:
            outcome = self._outcome
        if outcome is None:
            return False
        if self._delivered or self._discarded:
            return True
        callbacks, self._callbacks = self._callbacks, None
        self._delivered = True
        assert callbacks is not None  # cleared only by discard or delivery
        ok, value = outcome
        (callbacks[0] if ok else callbacks[1])(value)
        return True


class _Relay(QObject):
    """Lives in the GUI thread; its queued signal carries "done" across threads."""

    _ready = Signal()

    def __init__(self, request: _Request, parent: QObject) -> None:
        super().__init__(parent)
        self._request = request
        # Queued even when emitted from the GUI thread (SynchronousPool), so
        # callbacks are never invoked re-entrantly from run_off_gui_thread.
        self._ready.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def work(self, fn: Callable[[], Any]) -> None:
        """Worker thread."""
        self._request.run(fn)
        try:
            self._ready.emit()
        except RuntimeError:
            # The application (our parent) is gone: nobody is left to tell.
            log.debug("result of request %s dropped: application closed", self._request.token)

    @Slot()
    def _deliver(self) -> None:
        # Scheduled first so a raising callback cannot leak the relay.
        self.deleteLater()
        try:
            self._request.deliver()
        except RuntimeError as exc:
            if not is_deleted_object_error(exc):
                raise
            # The widget that asked was closed while the work ran: nobody is
            # left to show the result. Every page's callback gets this one
            # rule rather than a liveness check of its own.
            log.info("result of request %s dropped: %s", self._request.token, exc)


def is_deleted_object_error(exc: BaseException) -> bool:
    """The error PySide raises when Python touches a Qt object C++ has deleted."""
    return isinstance(exc, RuntimeError) and "already deleted" in str(exc)


class TaskHandle:
    """Caller's view of one request.

    ``discard()`` drops a stale result (git-cola style: newer requests
    supersede older ones); the work itself keeps running — use a
    ``CancelToken`` to stop it.
    """

    def __init__(self, request: _Request) -> None:
        self._request = request

    @property
    def token(self) -> str:
        """Unique id of this request, for logs and "is this still the latest?" checks."""
        return self._request.token

    def discard(self) -> None:
        """Neither on_result nor on_error will be called (unless already delivered)."""
        self._request.discard()

    @property
    def discarded(self) -> bool:
        return self._request.discarded

    @property
    def finished(self) -> bool:
        """The callable has returned or raised (its outcome may not be delivered yet)."""
        return self._request.finished

    @property
    def delivered(self) -> bool:
        return self._request.delivered

    def flush(self) -> bool:
        """GUI thread: deliver now instead of waiting for the event loop.

        For shutdown paths that cannot spin the event loop. Returns True if
        the work has finished (its outcome is then delivered or discarded).
        """
        _require_gui_thread()
        return self._request.deliver()


def run_off_gui_thread(
    fn: Callable[[], Any],
    *,
    on_result: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    pool: WorkPool | None = None,
) -> TaskHandle:
    """Run ``fn()`` on ``pool`` (default: ``QThreadPool.globalInstance()``).

    Must be called on the GUI thread. Exactly one of ``on_result(value)`` /
    ``on_error(exception)`` is later called on the GUI thread, unless the
    handle is discarded first. ``on_error`` receives the exception object
    (traceback in ``__traceback__``); any ``BaseException`` from ``fn`` ends up
    there rather than in Qt's worker.
    """
    app = _require_gui_thread()
    if pool is None:
        from PySide6.QtCore import QThreadPool  # local: only the default needs it

        pool = QThreadPool.globalInstance()
    request = _Request(on_result, on_error)
    relay = _Relay(request, parent=app)
    try:
        # The closure references the relay, keeping it reachable while queued.
        pool.start(lambda: relay.work(fn))
    except BaseException:
        relay.deleteLater()
        raise
    return TaskHandle(request)


def _require_gui_thread() -> QCoreApplication:
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("run_off_gui_thread needs a QCoreApplication")
    if QThread.currentThread() != app.thread():
        raise RuntimeError("run_off_gui_thread must be called on the GUI thread")
    return app
