"""Screenshots of every page of the window for the README: docs/screenshots/.

Builds a throw-away data folder offscreen the way a user gets one — the
built-in demo portal connected, a first sync, some edits made in "HubSpot"
(the demo's drift) and a second sync, a few health checks and a verified
backup — then opens the real main window (``create_main_window``, the same
as ``wg-desktop``) and saves each page with ``QWidget.grab()``. Nothing
outside a temp folder is touched: the keychain is an in-memory one.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

Run it after a change to a page so the README shows the window as it is.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "screenshots"
WINDOW_SIZE = (1280, 800)
WAIT_MS = 30_000
SETTLE_MS = 600
DRIFT_ROUNDS = 6
SEARCH_TEXT = "email"


def slug(title: str) -> str:
    """The file name of a page's screenshot: "Audit log" -> "audit-log"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _pump(done: Callable[[], bool] = lambda: False, timeout_ms: int = SETTLE_MS) -> bool:
    """Run the event loop until ``done()`` or the timeout (results of the
    runner arrive through it). Returns whether ``done()`` became true."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop, QThread

    deadline = QDeadlineTimer(timeout_ms)
    while not done():
        if deadline.hasExpired():
            return False
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QThread.msleep(10)
    return True


def _prepare(ctx: Any, demo: Any) -> Any:
    """A store with history, health samples and a backup; returns the services."""
    from wg_desktop.services.alerts import build_health_services
    from wg_desktop.services.backups import BackupService, Trigger
    from wg_desktop.services.hubspot_setup import build_hubspot_services

    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                 registry=ctx.registry, demo=demo)
    with ctx.store.session():
        portal = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
        hub.sync.sync(portal.hub_id)
        for _ in range(DRIFT_ROUNDS):
            demo.drift_once(3)
        hub.sync.sync(portal.hub_id)
        health = build_health_services(ctx.settings, ctx.store, ctx.audit, hub)
        for _ in range(3):
            health.monitor.check_all()
        BackupService.from_context(ctx).backup_now(Trigger.MANUAL)
    return hub


def _row_with_history(model: Any) -> int:
    """The first row of the Workflows table whose workflow has several
    versions (its history says the most), else the first row."""
    versions = next(c for c in range(model.columnCount())
                    if model.headerData(c, Qt.Orientation.Horizontal) == "Versions")
    for row in range(model.rowCount()):
        if int(model.index(row, versions).data() or 0) > 1:
            return row
    return 0


def _show(window: Any, title: str) -> Any:
    page = window.show_page(title)
    _pump(timeout_ms=SETTLE_MS)
    return page


def _stage(window: Any, title: str, page: Any) -> None:
    """Put the page in the state a user looking at it would be in."""
    if title == "Workflows":
        model = page.table.model()
        _pump(lambda: model.rowCount() > 0, WAIT_MS)
        page.table.selectRow(_row_with_history(model))
        _pump(timeout_ms=SETTLE_MS * 2)
    elif title == "Search":
        page.query.setText(SEARCH_TEXT)
        page.search_now()
        _pump(timeout_ms=SETTLE_MS * 2)


def main(out_dir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    import keyring
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import MemoryKeyring
    from wg_desktop.context import build_context
    from wg_desktop.demo.embedded import DEMO_SEED
    from wg_desktop.demo.server import DemoConfig, DemoPortal
    from wg_desktop.paths import Paths
    from wg_desktop.ui.app import create_main_window

    app = QApplication.instance() or QApplication([])
    keyring.set_keyring(MemoryKeyring())
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="wg-screenshots-") as data_dir:
        ctx = build_context(Paths.resolve(Path(data_dir), {}), {})
        demo = DemoPortal(DemoConfig(seed=DEMO_SEED, workflows=40, burst_limit=10_000)).start()
        hub = None
        try:
            hub = _prepare(ctx, demo)
            window = create_main_window(ctx, QThreadPool.globalInstance(), hubspot=hub)
            window.resize(*WINDOW_SIZE)
            window.show()
            window.reload_portals()
            _pump(timeout_ms=SETTLE_MS * 2)
            out_dir.mkdir(parents=True, exist_ok=True)
            for title in [page.title for page in window.pages]:
                page = _show(window, title)
                _stage(window, title, page)
                app.processEvents()
                target = out_dir / f"{slug(title)}.png"
                if not window.grab().save(str(target)):
                    raise RuntimeError(f"could not write {target}")
                written.append(target)
                print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
            window.quitting = True
            window.close()
            QThreadPool.globalInstance().waitForDone(WAIT_MS)
        finally:
            if hub is not None:
                hub.clients.close()
            demo.stop()
            ctx.close()
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
