"""The one home of operating-system specific calls.

Most admins run macOS or Windows; Linux is where the tests run. Every call
that differs between them lives here, behind a function whose behaviour is the
same everywhere, with a test per branch (tests/unit/test_portable.py).

Locks are the OS's own advisory locks (``flock`` on POSIX, ``msvcrt.locking``
on Windows): the kernel drops them when the holding process dies, so a crash
or ``kill -9`` never leaves a stale lock that blocks the next start.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

IS_WINDOWS = os.name == "nt"

# The holder's pid is written after this offset: on Windows the locked byte
# (offset 0) cannot be read by other processes, the rest of the file can.
_PID_OFFSET = 16
_POLL_S = 0.05


class LockBusy(RuntimeError):
    """Another process holds the lock."""

    def __init__(self, path: Path, holder_pid: int | None) -> None:
        self.path = path
        self.holder_pid = holder_pid
        who = f"pid {holder_pid}" if holder_pid else "another process"
        super().__init__(f"{path} is held by {who}")


def _try_lock_posix(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock_posix(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _try_lock_windows(fd: int) -> bool:
    import msvcrt

    os.lseek(fd, 0, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock_windows(fd: int) -> None:
    import msvcrt

    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class FileLock:
    """An exclusive, inter-process lock on one file (created 0600 if missing).

    Not re-entrant and not meant to be shared between threads: each holder
    makes its own ``FileLock``. Within one process, two ``FileLock`` objects on
    the same path exclude each other on Windows and with ``flock`` on POSIX
    (each opens its own file description).
    """

    def __init__(self, path: Path, *, windows: bool = IS_WINDOWS) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._try_lock = _try_lock_windows if windows else _try_lock_posix
        self._unlock = _unlock_windows if windows else _unlock_posix

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float | None = None) -> "FileLock":
        """Take the lock, waiting up to ``timeout`` seconds (None: forever,
        0: not at all). Raises :class:`LockBusy` when it stays taken."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockBusy(self.path, read_holder_pid(self.path))
                time.sleep(_POLL_S)
            os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
            os.write(fd, f"{os.getpid():<12}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Clear the pid first so a reader never names a process that left.
            os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
            os.write(fd, b" " * 12 + b"\n")
            self._unlock(fd)
        finally:
            os.close(fd)

    @contextmanager
    def holding(self, busy: Callable[[int | None], BaseException],
                timeout: float | None = 0) -> Iterator["FileLock"]:
        """Hold the lock for the block, released however it ends. When it
        stays taken (``timeout`` as for :meth:`acquire`: by default it is not
        waited for), raise ``busy(holder_pid)`` instead of :class:`LockBusy`:
        the caller's own error, naming who holds it (None when unknown). The
        error keeps a ``__cause__`` it was given; otherwise it has none."""
        try:
            self.acquire(timeout=timeout)
        except LockBusy as exc:
            error = busy(exc.holder_pid)
            raise error from error.__cause__
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> "FileLock":
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder_pid(path: Path) -> int | None:
    """The pid written by the lock's current (or last) holder, if readable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(_PID_OFFSET)
            text = handle.read(13).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
