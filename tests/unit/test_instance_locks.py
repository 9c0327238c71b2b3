"""The locks a command takes to coordinate with a window: the window's own
lock (whole-store restore) and a portal's sync lock (disconnect)."""

from __future__ import annotations

import os

import pytest

from wg_desktop.cli.base import ExitCode, exit_code_for
from wg_desktop.instance import (InstanceBusy, PortalBusy, WindowOpen, holding_portal_lock,
                                 holding_start_lock, holding_window_lock, sync_lock_path,
                                 window_lock_path)
from wg_desktop.paths import Paths
from wg_desktop.portable import FileLock, LockBusy


def test_window_lock_refuses_while_held_and_names_the_holder(tmp_path):
    paths = Paths.resolve(str(tmp_path), {})
    window = FileLock(window_lock_path(tmp_path)).acquire(timeout=0)
    try:
        with pytest.raises(WindowOpen) as refused:
            with holding_window_lock(paths, "quit it first."):
                pass
    finally:
        window.release()
    assert str(refused.value) == (f"WorkflowGuard Desktop has {tmp_path} open in a window "
                                  f"(pid {os.getpid()}); quit it first.")
    assert exit_code_for(refused.value) is ExitCode.BUSY


def test_window_lock_keeps_a_window_out_while_held(tmp_path):
    paths = Paths.resolve(str(tmp_path), {})
    with holding_window_lock(paths, "unused"):
        with pytest.raises(LockBusy):
            FileLock(window_lock_path(tmp_path)).acquire(timeout=0)
    FileLock(window_lock_path(tmp_path)).acquire(timeout=0).release()   # released after


def test_a_read_only_folder_has_no_window_lock_to_take(tmp_path, monkeypatch):
    # (chmod is ignored by root, who runs the tests in CI: the check is asked directly.)
    monkeypatch.setattr(Paths, "writable", lambda self: False)
    paths = Paths.resolve(str(tmp_path), {})
    with holding_window_lock(paths, "unused"):
        pass
    assert not window_lock_path(tmp_path).exists()


def test_portal_lock_refuses_during_a_sync_and_is_busy(tmp_path):
    syncing = FileLock(sync_lock_path(tmp_path, 42)).acquire(timeout=0)
    try:
        with pytest.raises(PortalBusy) as refused:
            with holding_portal_lock(tmp_path, 42, "Acme", "disconnect it"):
                pass
    finally:
        syncing.release()
    assert str(refused.value) == (f"A sync or restore of portal Acme (42) is already running "
                                  f"(pid {os.getpid()}); nothing was changed. Try again to "
                                  "disconnect it when it has finished.")
    assert exit_code_for(refused.value) is ExitCode.BUSY
    with holding_portal_lock(tmp_path, 42, "Acme", "disconnect it"):
        with pytest.raises(LockBusy):
            FileLock(sync_lock_path(tmp_path, 42)).acquire(timeout=0)


def test_start_lock_refuses_after_its_wait_and_names_the_holder(tmp_path):
    paths = Paths.resolve(str(tmp_path), {})
    starting = FileLock(paths.start_lock_file).acquire(timeout=0)
    try:
        with pytest.raises(InstanceBusy) as refused:
            with holding_start_lock(paths, timeout=0.1):
                pass
    finally:
        starting.release()
    assert str(refused.value) == (f"{tmp_path} is being opened by pid {os.getpid()} for "
                                  "more than 0 s; try again when it has started.")
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    with holding_start_lock(paths, timeout=0) as locked:
        assert locked
        with pytest.raises(LockBusy):
            FileLock(paths.start_lock_file).acquire(timeout=0)
