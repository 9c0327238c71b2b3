"""The one platform module: each branch of each call, on any OS."""

from __future__ import annotations

import multiprocessing
import os
import sys
import types

import pytest

from wg_desktop import portable
from wg_desktop.portable import FileLock, LockBusy, read_holder_pid


@pytest.mark.skipif(os.name == "nt", reason="the POSIX branch")
def test_posix_lock_excludes_a_second_holder_and_names_the_first(tmp_path):
    path = tmp_path / "x.lock"
    first = FileLock(path, windows=False).acquire()
    with pytest.raises(LockBusy) as busy:
        FileLock(path, windows=False).acquire(timeout=0)
    assert busy.value.holder_pid == os.getpid()
    first.release()
    assert read_holder_pid(path) is None          # a released lock names nobody
    FileLock(path, windows=False).acquire(timeout=0).release()


def _hold_and_die(path: str, ready) -> None:
    FileLock(portable.Path(path)).acquire()
    ready.set()
    os._exit(9)      # like kill -9: no release, no cleanup


@pytest.mark.skipif(os.name == "nt", reason="fork start method")
def test_a_holder_that_dies_leaves_no_stale_lock(tmp_path):
    path = tmp_path / "x.lock"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_hold_and_die, args=(str(path), ready))
    child.start()
    child.join(10)
    assert ready.is_set() and child.exitcode == 9
    FileLock(path).acquire(timeout=1).release()


class _FakeMsvcrt(types.ModuleType):
    """msvcrt.locking's contract: LK_NBLCK raises OSError when any other
    descriptor holds the byte; LK_UNLCK releases it."""
    LK_NBLCK, LK_UNLCK = 2, 0

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.holders: dict[int, int] = {}      # offset -> fd
        self.calls: list[tuple[int, int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((fd, mode, offset))
        if mode == self.LK_NBLCK:
            if self.holders.get(offset, fd) != fd:
                raise OSError(36, "Resource deadlock avoided")
            self.holders[offset] = fd
        elif self.holders.get(offset) == fd:
            del self.holders[offset]


def test_windows_branch_locks_byte_zero_and_releases_it(tmp_path, monkeypatch):
    fake = _FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    path = tmp_path / "x.lock"
    first = FileLock(path, windows=True).acquire()
    with pytest.raises(LockBusy) as busy:
        FileLock(path, windows=True).acquire(timeout=0)
    assert busy.value.holder_pid == os.getpid()
    assert all(offset == 0 for _, _, offset in fake.calls)
    first.release()
    assert fake.holders == {}
    FileLock(path, windows=True).acquire(timeout=0).release()


def test_acquire_waits_for_the_holder_up_to_the_timeout(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path):
        with pytest.raises(LockBusy):
            FileLock(path).acquire(timeout=0.2)


class _Refused(RuntimeError):
    def __init__(self, pid):
        super().__init__(f"busy: {pid}")
        self.pid = pid


def test_holding_keeps_the_lock_for_the_block_and_releases_it_however_it_ends(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path).holding(_Refused) as lock:
        assert lock.held
        with pytest.raises(LockBusy):
            FileLock(path).acquire(timeout=0)
    assert not lock.held
    with pytest.raises(ValueError):
        with FileLock(path).holding(_Refused):
            raise ValueError("the block failed")
    FileLock(path).acquire(timeout=0).release()


def test_holding_raises_the_callers_error_naming_the_holder(tmp_path):
    path = tmp_path / "x.lock"
    first = FileLock(path).acquire()
    try:
        with pytest.raises(_Refused) as refused:
            with FileLock(path).holding(_Refused):
                pytest.fail("the block ran without the lock")
        assert refused.value.pid == os.getpid()
        assert refused.value.__cause__ is None and refused.value.__suppress_context__

        def with_a_cause(pid):
            error = _Refused(pid)
            error.__cause__ = KeyError("why")
            return error
        with pytest.raises(_Refused) as caused:
            with FileLock(path).holding(with_a_cause, timeout=0.1):
                pass
        assert isinstance(caused.value.__cause__, KeyError)
    finally:
        first.release()
