"""The whole-store restore run by the window, on a worker thread.

The window has stopped its jobs and handed its own connection over (see
ui/store_switch.py); this waits until every connection of the process let go,
runs the existing restore (services/backups.py: verified before anything is
touched, the current store kept aside, switched with one rename), checks that
the store now at the path opens, and audits the outcome in it. The ``Store``
object everyone holds stays the same: its database reconnects to the file at
the same path — the restored one after a success, the untouched current one
after a failure.

Core module: no Qt. Blocking.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from wg_desktop.services.audit import AuditAction
from wg_desktop.services.backups import RestoreResult, restore_backup, store_in_use
from wg_desktop.store.db import StoreError, current_version
from wg_desktop.store.models import Outcome

log = logging.getLogger(__name__)

# Page loads already on a worker finish within this; longer means something
# else holds the store, and the restore (which checks again) says who.
RELEASE_WAIT_S = 10.0
_POLL_S = 0.05


def wait_until_released(database: Path, key: bytes, timeout: float = RELEASE_WAIT_S) -> None:
    """Wait (worker thread) until no connection holds ``database``."""
    deadline = time.monotonic() + timeout
    while store_in_use(database, key) and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def replace_live_store(ctx: Any, source: Path, passphrase: str | None,
                       release: Callable[[], None]) -> RestoreResult:
    """Worker thread: let go of the connections, restore, check the store
    that is now at the path, and audit the outcome in it."""
    release()
    store = ctx.store
    wait_until_released(store.path, store.key)
    try:
        result = restore_backup(ctx.paths, store.key, source, secrets=ctx.secrets,
                                passphrase=passphrase)
    except Exception as exc:
        _record_failure(ctx, source, exc)
        raise
    with store.session():
        try:
            current_version(store.db)   # the restored file opens with this key
        except Exception as exc:
            error = StoreError(f"the restored store does not open ({exc}); the previous one "
                               f"is kept as {result.kept_aside}")
            _record_failure(ctx, source, error)
            raise error from exc
    ctx.audit.record(AuditAction.BACKUP_RESTORE, details={
        "file": str(source), "schema": result.restored_schema, "from": "window",
        "kept_aside": str(result.kept_aside) if result.kept_aside else None})
    return result


def _record_failure(ctx: Any, source: Path, error: Exception) -> None:
    """The failed restore in the audit trail of the store now at the path.
    A store that does not open may not take the entry either: that is
    logged, and the restore's own error is what the caller sees."""
    try:
        ctx.audit.record(AuditAction.BACKUP_RESTORE, outcome=Outcome.FAILURE,
                         details={"file": str(source), "error": str(error), "from": "window"})
    except Exception:
        log.warning("the failed restore of %s could not be audited", source, exc_info=True)
