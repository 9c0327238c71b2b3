"""Restoring the whole store from inside the window, and the reload after it.

``restore_in_window`` stops what uses the store (the scheduler and its jobs,
the status refresh, a running sync), lets go of every connection of this
process, and runs the existing whole-store restore (services/backups.py:
verified before anything is touched, the current store kept aside, switched
with one rename) on a worker (services/store_restore.py). The ``Store``
object everyone holds stays the same: its database reconnects to the file at
the same path, which is the restored one after a success and the untouched
current one after a failure. ``reload_pages`` then has every page read the
store again — "the app reloads".
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from wg_desktop.services.backups import RestoreResult
from wg_desktop.services.store_restore import RELEASE_WAIT_S, replace_live_store

log = logging.getLogger(__name__)


def reload_pages(window: Any) -> None:
    """The app reloads: every page built so far reads the store again (it may
    be another one); a page built later reads it then."""
    page = window.built_page("Workflows")
    if page is not None:
        page.history.clear()
        page.reload()
    for title in ("Overview", "Audit log", "Backups", "Health", "Connection"):
        other = window.built_page(title)
        if other is not None:
            other.reload()
    jobs = window.built_page("Background jobs")
    if jobs is not None:
        jobs.refresh()
    search = window.built_page("Search")
    if search is not None:
        search.set_portal(window.current_portal())
    window.reload_portals()
    window.refresh_status()


def restore_in_window(window: Any, source: Path, passphrase: str | None,
                      finished: Callable[[str, bool], None]) -> None:
    """Stop, restore on a worker, reload. ``finished(text, ok)`` gets the one
    line to show; on failure the current store is open and usable again."""
    # The status refresh, the scheduler's jobs and a sync would each open a
    # connection meanwhile.
    was_running = window.pause_background()
    release_gui = window.ctx.store.detach_connection()
    jobs = window.job_pool

    def release() -> None:
        release_gui()
        if jobs is not None:
            jobs.waitForDone(int(RELEASE_WAIT_S * 1000))

    started = time.perf_counter()

    def resume() -> None:
        window.resume_background(was_running)
        reload_pages(window)

    def done(result: RestoreResult) -> None:
        resume()
        kept = f"; the previous store is kept as {result.kept_aside.name}" \
            if result.kept_aside else ""
        log.info("restored %s in the window in %.1f s", source, time.perf_counter() - started)
        finished(f"Restored the store from {Path(source).name} in "
                 f"{time.perf_counter() - started:.1f} s{kept}.", True)

    def failed(error: BaseException) -> None:
        resume()
        finished(f"Nothing was restored: {error}. The current store is open as before.",
                 False)

    ctx = window.ctx
    window.runner(lambda: replace_live_store(ctx, Path(source), passphrase, release),
                  on_result=done, on_error=failed)
