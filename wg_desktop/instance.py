"""One data folder = one independent instance of the app.

Each data folder has an instance id (a random UUID in ``instance-id``) that
scopes its keychain entries, so two folders (``--data-dir``, ``WG_DATA_DIR``,
a portable copy) never read or overwrite each other's database key or tokens.

Opening a folder is serialised by ``.start.lock``: whoever holds it reads or
creates the instance id, the database key and the database, so several first
starts at once (or a window and a command) cannot each create a key and leave
a database that no key opens.

The window holds ``.window.lock`` for as long as it runs (ui/single_instance.py
claims it); a command that must not run beside a window (the whole-store
restore) takes the same lock, so neither can start while the other runs. A
portal's ``.sync-<hub>.lock`` is held by whoever syncs, restores or
disconnects that portal, window or command line.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wg_desktop.constants import APP_DISPLAY_NAME
from wg_desktop.paths import Paths, write_private_atomic
from wg_desktop.portable import FileLock

# Opening can include a schema migration of a large store.
START_LOCK_TIMEOUT_S = 120.0


WINDOW_LOCK_NAME = ".window.lock"


class InstanceBusy(RuntimeError):
    """Another process keeps the data folder locked for too long."""


class WindowOpen(InstanceBusy):
    """A window has the data folder open, and the command cannot run beside it."""


class PortalBusy(InstanceBusy):
    """A sync or restore of the portal runs in another process (or this one)."""


def sync_lock_path(data_dir: Path, hub_id: int) -> Path:
    """Held by whichever process (window or command line) syncs the portal."""
    return data_dir / f".sync-{int(hub_id)}.lock"


def window_lock_path(data_dir: Path) -> Path:
    """Held by the folder's window for as long as it runs."""
    return Path(data_dir) / WINDOW_LOCK_NAME


@contextmanager
def holding_window_lock(paths: Paths, refusal: str) -> Iterator[None]:
    """Keep the folder's window from starting for the block; raise
    :class:`WindowOpen` (naming its pid and ``refusal``, what to do instead)
    when a window has the folder open. A folder that cannot hold a lock file
    (read-only) has nothing to guard: nothing in it can be written either."""
    if not paths.writable():
        yield
        return

    def busy(pid: int | None) -> WindowOpen:
        return WindowOpen(f"{APP_DISPLAY_NAME} has {paths.data_dir} open in a window"
                          f"{held_by(pid)}; {refusal}")

    with FileLock(window_lock_path(paths.data_dir)).holding(busy):
        yield


@contextmanager
def holding_portal_lock(data_dir: Path, hub_id: int, name: str, doing: str) -> Iterator[None]:
    """Hold the portal's sync lock for ``doing`` (e.g. "disconnect it"); raise
    :class:`PortalBusy` at once when a sync or restore of it runs."""
    def busy(pid: int | None) -> PortalBusy:
        return PortalBusy(f"A sync or restore of portal {name} ({hub_id}) is already "
                          f"running{held_by(pid)}; nothing was changed. Try again to {doing} "
                          "when it has finished.")

    with FileLock(sync_lock_path(data_dir, hub_id)).holding(busy):
        yield


def held_by(pid: int | None) -> str:
    """' (pid 123)' naming a lock's holder, or nothing when it is unknown."""
    return f" (pid {pid})" if pid else ""


def read_instance_id(paths: Paths) -> str | None:
    try:
        text = paths.instance_id_file.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def ensure_instance_id(paths: Paths) -> tuple[str | None, bool]:
    """This folder's instance id and whether it was created now.

    Call while holding the start lock. A read-only folder without an id gets
    None: its entries are read under the pre-instance (unscoped) names.
    """
    existing = read_instance_id(paths)
    if existing is not None:
        return existing, False
    if not paths.writable():
        return None, False
    new_id = str(uuid.uuid4())
    write_private_atomic(paths.instance_id_file, (new_id + "\n").encode("ascii"))
    return new_id, True


@contextmanager
def holding_start_lock(paths: Paths, timeout: float = START_LOCK_TIMEOUT_S) -> Iterator[bool]:
    """Hold the folder's start lock for the block; yields False when the
    folder cannot hold a lock file (read-only), where nothing can be created."""
    if not paths.writable():
        yield False
        return

    def busy(pid: int | None) -> InstanceBusy:
        who = f"pid {pid}" if pid else "another process"
        return InstanceBusy(f"{paths.data_dir} is being opened by {who} for more than "
                            f"{timeout:.0f} s; try again when it has started.")

    with FileLock(paths.start_lock_file).holding(busy, timeout=timeout):
        yield True
