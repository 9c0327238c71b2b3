"""Screenshot of the diff view for the docs: docs/diff-view.png.

Builds a throw-away store offscreen the way a user gets one (the built-in
demo portal, a sync, some drift in HubSpot, a second sync), opens the
history of a workflow the drift changed, presses "Compare…" and saves the
diff window with ``QWidget.grab()``. Nothing outside a temp folder is touched:
the keychain is an in-memory one.

    .venv/bin/python scripts/screenshot_diff_view.py [OUT.png]
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "diff-view.png"
WAIT_MS = 20_000
DRIFT_ROUNDS = 10


def _wait_until(done: Callable[[], bool], timeout_ms: int = WAIT_MS) -> None:
    """Run the event loop until ``done()`` (results of the runner arrive from it)."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop, QThread

    deadline = QDeadlineTimer(timeout_ms)
    while not done():
        if deadline.hasExpired():
            raise TimeoutError("the window did not finish loading")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QThread.msleep(5)


def _changed_workflow(ctx: Any, queries: Any) -> Any:
    """A workflow with two versions whose latest change says the most."""
    from wg_desktop.flows.diff import diff_flows
    from wg_desktop.store.models import Workflow

    best, best_parts = None, 0
    with ctx.store.session():
        for workflow in Workflow.select():
            versions = queries.history(workflow)
            if len(versions) < 2:
                continue
            new = queries.version_by_id(workflow, versions[0].id)[3]
            old = queries.version_by_id(workflow, versions[1].id)[3]
            parts = sum(len(texts) for _, texts in diff_flows(old, new).grouped())
            # A few changes read best; a huge action count makes a dull top screen.
            if parts > best_parts and len(new.get("actions", [])) < 80:
                best, best_parts = workflow, parts
    if best is None:
        raise RuntimeError("the drift changed no stored workflow; run again")
    return best


def main(out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    import keyring
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import MemoryKeyring
    from wg_desktop.context import build_context
    from wg_desktop.demo.server import DemoConfig, DemoPortal
    from wg_desktop.paths import Paths
    from wg_desktop.services.hubspot_setup import build_hubspot_services
    from wg_desktop.services.workflows import WorkflowQueries
    from wg_desktop.ui.app import StoreSessionPool
    from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread
    from wg_desktop.ui.pages.history_panel import HistoryPanel

    app = QApplication.instance() or QApplication([])
    keyring.set_keyring(MemoryKeyring())
    with tempfile.TemporaryDirectory(prefix="wg-screenshot-") as data_dir:
        ctx = build_context(Paths.resolve(Path(data_dir), {}), {})
        try:
            with DemoPortal(DemoConfig(seed=7, workflows=12, burst_limit=10_000)) as demo:
                hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                             demo=demo)
                try:
                    portal = hub.connection.connect_private_app(
                        demo.private_app_token(demo.portal_ids[0]))
                    hub.sync.sync(portal.hub_id)
                    for _ in range(DRIFT_ROUNDS):
                        demo.drift_once(3)
                    hub.sync.sync(portal.hub_id)
                finally:
                    hub.clients.close()
            queries = WorkflowQueries(ctx.store, ctx.audit)
            workflow = _changed_workflow(ctx, queries)
            runner = functools.partial(run_off_gui_thread,
                                       pool=StoreSessionPool(SynchronousPool(), ctx.store))
            panel = HistoryPanel(queries, runner)
            panel.resize(1100, 600)
            panel.show()
            panel.show_workflow(workflow.id)
            _wait_until(lambda: panel.shown_version_id is not None)
            view = panel.compare()
            assert view is not None
            view.resize(1100, 720)
            _wait_until(lambda: view.result is not None)
            app.processEvents()
            out.parent.mkdir(parents=True, exist_ok=True)
            if not view.grab().save(str(out)):
                raise RuntimeError(f"could not write {out}")
            print(f"{out}: {workflow.name} — {view.result.summary_line}")
            view.close()
            panel.close()
        finally:
            ctx.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
