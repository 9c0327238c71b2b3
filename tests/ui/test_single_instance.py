"""One window per data folder: a second launch hands over to the first and
stops; a crashed window's leftovers (socket file, lock) never block a start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QWidget

from wg_desktop.portable import FileLock
from wg_desktop.ui.single_instance import (WINDOW_LOCK_NAME, SingleInstance, bring_forward,
                                           server_name)


@pytest.fixture
def guards():
    made: list[SingleInstance] = []
    yield made
    for guard in made:
        guard.release()


def test_second_launch_hands_over_to_the_first(qtbot, tmp_path, guards):
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    guards += [first, second]
    assert first.claim() and first.listening
    assert not second.claim() and not second.listening
    # The knock runs its own event loop, so the first guard answers from it.
    with qtbot.waitSignal(first.activated, timeout=5000):
        assert second.hand_over(timeout_s=5) is True


def test_activation_brings_a_hidden_window_forward(qtbot, tmp_path, guards):
    window = QWidget()
    qtbot.addWidget(window)
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    guards += [first, second]
    first.activated.connect(lambda: bring_forward(window))
    assert first.claim() and not second.claim()
    assert not window.isVisible()                       # closed to the tray
    with qtbot.waitSignal(first.activated, timeout=5000):
        assert second.hand_over(timeout_s=5) is True
    assert window.isVisible()


def test_other_data_folders_are_other_instances(tmp_path, guards):
    a, b = SingleInstance(tmp_path / "a"), SingleInstance(tmp_path / "b")
    guards += [a, b]
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert a.claim() and b.claim()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="socket files are a Unix thing")
def test_a_crashed_windows_socket_file_does_not_block_start(qtbot, tmp_path, guards):
    # What a killed window leaves: a bound socket file nobody listens on.
    stale_path = Path(QDir.tempPath()) / server_name(tmp_path)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(stale_path))
    stale.close()
    assert stale_path.exists()
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    guards += [first, second]
    assert first.claim() and first.listening
    # The knock runs its own event loop, so the first guard answers from it.
    with qtbot.waitSignal(first.activated, timeout=5000):
        assert second.hand_over(timeout_s=5) is True


def test_released_folder_can_be_claimed_again(tmp_path, guards):
    first = SingleInstance(tmp_path)
    assert first.claim()
    first.release()                                      # as the kernel does at a crash
    again = SingleInstance(tmp_path)
    guards.append(again)
    assert again.claim() and again.listening


def test_hand_over_fails_when_the_holder_never_answers(tmp_path):
    # The lock is held (a window still starting, or hung) but nothing listens.
    holder = FileLock(tmp_path / WINDOW_LOCK_NAME).acquire(timeout=0)
    try:
        guard = SingleInstance(tmp_path)
        assert not guard.claim()
        assert guard.hand_over(timeout_s=0.3) is False
    finally:
        holder.release()
