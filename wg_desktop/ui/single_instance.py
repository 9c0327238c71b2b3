"""One window per data folder.

The first window of a data folder holds ``.window.lock`` in it (an OS lock:
the kernel drops it when the process dies, so a crash never blocks the next
start) and listens on a local socket named after the folder. A second launch
on the same folder finds the lock taken, asks the running window over the
socket to come forward and exits; it never opens the store.

A socket file left behind by a crashed window is removed before listening:
only the lock holder listens, so whatever name it finds is stale.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

from wg_desktop.constants import APP_DISPLAY_NAME, APP_ID
from wg_desktop.instance import WINDOW_LOCK_NAME, window_lock_path
from wg_desktop.portable import FileLock, LockBusy, read_holder_pid

log = logging.getLogger(__name__)

__all__ = ["WINDOW_LOCK_NAME", "SingleInstance", "bring_forward", "server_name"]

ACTIVATE = b"activate\n"
ACK = b"ok\n"
# The first window may still be starting (opening a large store) when the
# second launch knocks: its socket comes up after its lock.
HAND_OVER_TIMEOUT_S = 10.0
_IO_TIMEOUT_MS = 1000


def server_name(data_dir: Path) -> str:
    """The socket name for a data folder. Hashed: a path is too long for a
    Unix socket name and holds characters a Windows pipe name does not take."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode("utf-8")).hexdigest()[:24]
    return f"{APP_ID}-{digest}"


class SingleInstance(QObject):
    """Claim a data folder for this window, or hand over to its window."""

    activated = Signal()   # another launch asked this window to come forward

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.name = server_name(self.data_dir)
        self._lock: FileLock | None = None
        self._server: QLocalServer | None = None
        self._last_error = ""

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def claim(self) -> bool:
        """True when this process is now the folder's window (and listens);
        False when another window of the folder is running."""
        # The same lock a whole-store restore from the command line takes
        # (instance.holding_window_lock): neither starts while the other runs.
        lock = FileLock(window_lock_path(self.data_dir))
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock.acquire(timeout=0)
        except LockBusy:
            return False
        except OSError:
            # A read-only folder cannot hold the lock: the socket alone decides,
            # which is enough for the browsing-only window such a folder gets.
            if self._knock(_IO_TIMEOUT_MS):
                return False
            return self._listen()
        self._lock = lock
        if not self._listen():
            self.release()
            raise OSError(f"cannot listen on the local socket {self.name}: "
                          f"{self._last_error}")
        return True

    def hand_over(self, timeout_s: float = HAND_OVER_TIMEOUT_S) -> bool:
        """Ask the running window to come forward; True once it confirmed."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._knock(_IO_TIMEOUT_MS):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def not_answering(self) -> str:
        """What to tell the user when the folder is locked but nobody answers:
        a window still starting or hung, or a whole-store restore from the
        command line, which holds the same lock while it runs."""
        pid = read_holder_pid(window_lock_path(self.data_dir))
        who = f"process {pid}" if pid else "another process"
        return (f"{APP_DISPLAY_NAME} cannot open {self.data_dir}: {who} has it in use (a "
                "window that does not answer, or a restore from the command line). Wait "
                "for it to finish, or close it, and try again.")

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- internals -------------------------------------------------------------

    def _listen(self) -> bool:
        server = QLocalServer(self)
        # Only this user's processes may ask the window to come forward.
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        # A crashed window leaves its socket file; the lock says it is stale.
        QLocalServer.removeServer(self.name)
        if not server.listen(self.name):
            self._last_error = server.errorString()
            server.deleteLater()
            return False
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def _on_connection(self) -> None:
        while self._server is not None and self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_request(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_request(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        if bytes(socket.readLine().data()) == ACTIVATE:
            socket.write(ACK)
            self.activated.emit()
        # Sends what is buffered, then closes.
        socket.disconnectFromServer()

    def _knock(self, timeout_ms: int) -> bool:
        """Connect, ask, wait for the answer. Driven by a local event loop, not
        by blocking waits: the answering window may be in this very thread
        (tests), and a blocking wait would keep it from answering."""
        socket = QLocalSocket()
        loop = QEventLoop()
        answer: list[bool] = []

        def finish(ok: bool) -> None:
            if not answer:
                answer.append(ok)
                loop.quit()

        def read() -> None:
            if socket.canReadLine():
                finish(bytes(socket.readLine().data()) == ACK)

        socket.connected.connect(lambda: socket.write(ACTIVATE))
        socket.readyRead.connect(read)
        socket.errorOccurred.connect(lambda _error: finish(False))
        socket.disconnected.connect(lambda: finish(False))
        QTimer.singleShot(timeout_ms, loop, lambda: finish(False))
        socket.connectToServer(self.name)
        if not answer:
            loop.exec()
        socket.abort()
        return answer[0]


def bring_forward(window: QWidget) -> None:
    """Show the window (also from the tray), un-minimise it and raise it."""
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
