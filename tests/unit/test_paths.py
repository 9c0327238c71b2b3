"""Data-folder layout, private permissions, atomic writes."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from wg_desktop import paths as paths_module
from wg_desktop.paths import (DATA_DIR_ENV, Paths, make_private_dir, make_private_file,
                              write_private_atomic)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".tmp" in p.name]


# -- layout -----------------------------------------------------------------------------

def _assert_layout(paths: Paths, root: Path) -> None:
    root = root.resolve()
    assert paths.data_dir == root
    assert paths.config_dir == root / "config"
    assert paths.log_dir == root / "logs"
    assert paths.cache_dir == root / "cache"
    assert paths.database == root / "workflowguard.db"
    assert paths.settings_file == root / "config" / "settings.json"
    assert paths.log_file == root / "logs" / "workflowguard.log"
    assert paths.backups_dir == root / "backups"
    assert paths.secrets_file == root / "config" / "secrets.enc"


def test_explicit_data_dir_holds_every_file(tmp_path):
    _assert_layout(Paths.resolve(tmp_path / "inst", {}), tmp_path / "inst")


def test_data_dir_from_environment_variable(tmp_path):
    assert DATA_DIR_ENV == "WG_DATA_DIR"
    _assert_layout(Paths.resolve(None, {"WG_DATA_DIR": str(tmp_path / "envdir")}),
                   tmp_path / "envdir")


def test_explicit_data_dir_beats_environment(tmp_path):
    paths = Paths.resolve(tmp_path / "arg", {"WG_DATA_DIR": str(tmp_path / "env")})
    _assert_layout(paths, tmp_path / "arg")


def test_data_dir_is_absolute_and_user_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _assert_layout(Paths.resolve("~/portable", {}), tmp_path / "portable")
    monkeypatch.chdir(tmp_path)
    relative = Paths.resolve("rel/inst", {})
    assert relative.data_dir.is_absolute()
    _assert_layout(relative, tmp_path / "rel" / "inst")


def test_resolve_reads_os_environ_when_no_mapping_given(tmp_path, monkeypatch):
    monkeypatch.setenv("WG_DATA_DIR", str(tmp_path / "from-os"))
    _assert_layout(Paths.resolve(), tmp_path / "from-os")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout is Linux only")
def test_without_data_dir_the_platform_folders_are_used():
    paths = Paths.resolve(None, {})
    assert paths.data_dir == Path(os.environ["XDG_DATA_HOME"]) / "WorkflowGuard"
    assert paths.config_dir == Path(os.environ["XDG_CONFIG_HOME"]) / "WorkflowGuard"
    assert paths.cache_dir == Path(os.environ["XDG_CACHE_HOME"]) / "WorkflowGuard"
    assert len({paths.data_dir, paths.config_dir, paths.cache_dir}) == 3


def test_empty_environment_value_means_platform_folders(tmp_path):
    assert Paths.resolve(None, {"WG_DATA_DIR": ""}) == Paths.resolve(None, {})


# -- ensure: private folders -------------------------------------------------------------

def test_ensure_creates_every_folder_0700(tmp_path):
    old_umask = os.umask(0o022)
    try:
        paths = Paths.resolve(tmp_path / "a" / "b", {}).ensure()
    finally:
        os.umask(old_umask)
    for folder in (paths.data_dir, paths.config_dir, paths.log_dir, paths.cache_dir,
                   paths.backups_dir):
        assert folder.is_dir(), folder
        assert _mode(folder) == 0o700, folder


def test_ensure_tightens_existing_folders_and_is_idempotent(tmp_path):
    paths = Paths.resolve(tmp_path / "inst", {})
    paths.config_dir.mkdir(parents=True)
    os.chmod(paths.data_dir, 0o755)
    os.chmod(paths.config_dir, 0o777)
    (paths.config_dir / "keep.txt").write_text("kept")
    paths.ensure()
    paths.ensure()
    assert _mode(paths.data_dir) == 0o700
    assert _mode(paths.config_dir) == 0o700
    assert (paths.config_dir / "keep.txt").read_text() == "kept"


def test_make_private_dir(tmp_path):
    folder = tmp_path / "x" / "y"
    make_private_dir(folder)
    assert _mode(folder) == 0o700


# -- private files -----------------------------------------------------------------------

def test_make_private_file_creates_0600_and_keeps_content(tmp_path):
    fresh = tmp_path / "fresh.log"
    make_private_file(fresh)
    assert fresh.exists() and fresh.read_bytes() == b""
    assert _mode(fresh) == 0o600

    existing = tmp_path / "existing.log"
    existing.write_text("old lines\n")
    existing.chmod(0o644)
    make_private_file(existing)
    assert _mode(existing) == 0o600
    assert existing.read_text() == "old lines\n"


def test_write_private_atomic_creates_0600(tmp_path):
    target = tmp_path / "settings.json"
    old_umask = os.umask(0o000)
    try:
        write_private_atomic(target, b'{"a": 1}')
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b'{"a": 1}'
    assert _mode(target) == 0o600
    assert _temp_files(tmp_path) == []


def test_write_private_atomic_replaces_and_tightens_an_existing_file(tmp_path):
    target = tmp_path / "settings.json"
    target.write_bytes(b"old content that is longer than the new one")
    target.chmod(0o644)
    write_private_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600
    assert _temp_files(tmp_path) == []


def test_write_private_atomic_is_0600_even_over_a_stale_temp_file(tmp_path):
    """A leftover temp file (e.g. from a crash of a process with the same pid) must not
    hand its looser mode to the final file."""
    target = tmp_path / "secrets.enc"
    stale = tmp_path / f".secrets.enc.tmp-{os.getpid()}"
    stale.write_bytes(b"stale stale stale")
    stale.chmod(0o644)
    write_private_atomic(target, b"sealed")
    assert target.read_bytes() == b"sealed"
    assert _mode(target) == 0o600


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch,
                                                                   failing):
    target = tmp_path / "settings.json"
    write_private_atomic(target, b"previous good content")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "replace":
        monkeypatch.setattr(paths_module.os, "replace", no_space)
    elif failing == "fsync":
        monkeypatch.setattr(paths_module.os, "fsync", no_space)
    else:
        real_fdopen = os.fdopen

        class _FullDisk:
            def __init__(self, handle):
                self._handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._handle.close()
                return False

            def write(self, data):
                self._handle.write(data[: len(data) // 2])
                no_space()

            def __getattr__(self, name):
                return getattr(self._handle, name)

        monkeypatch.setattr(paths_module.os, "fdopen",
                            lambda fd, mode="r": _FullDisk(real_fdopen(fd, mode)))

    with pytest.raises(OSError) as info:
        write_private_atomic(target, b"new content that never lands")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_bytes() == b"previous good content"
    assert _mode(target) == 0o600
    assert _temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths_module.os, "replace", no_space)
    with pytest.raises(OSError):
        write_private_atomic(tmp_path / "new.json", b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
