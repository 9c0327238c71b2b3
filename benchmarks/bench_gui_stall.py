"""How long the GUI thread stalls while "Sync now" runs on the Workflows page.

An offscreen QApplication shows a ``WorkflowsPage`` wired like the app (the
real threaded runner: QThreadPool + StoreSessionPool). A 5-ms QTimer
heartbeat on the GUI thread records the longest gap between two ticks while
the page syncs a demo portal of 1,000 workflows with realistic latency
(40 ± 20 ms per call) — first the full first sync, then an incremental sync
after ``drift_once(10)`` — up to and including the reload of the table.

Reported: the longest stall of each sync (target < 50 ms), its wall time, and
the API calls the demo portal saw (first sync <= 2*ceil(N/100)+2, incremental
<= ceil(N/100)+2).
"""

from __future__ import annotations

import functools
import gc
import math
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field

from benchmarks.common import Result

WORKFLOWS = 1_000
HEARTBEAT_MS = 5
STALL_TARGET_MS = 50.0
SYNC_TIMEOUT_S = 180
PAGE = 100              # flows per listing page and per batch read


@dataclass
class Heartbeat:
    """Ticks every ``HEARTBEAT_MS`` on the GUI thread; remembers the longest gap."""

    gaps_ms: list[float] = field(default_factory=list)
    _last: float | None = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    def restart(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()

    @property
    def longest_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    def percentile(self, q: float) -> float:
        if len(self.gaps_ms) < 2:
            return self.longest_ms
        return statistics.quantiles(self.gaps_ms, n=100)[int(q) - 1]


class GcPauses:
    """Collector pauses on any thread (they hold the GIL, so they stall the GUI
    thread too): recorded to explain a stall, not to change it."""

    def __init__(self) -> None:
        self._started: dict[int, float] = {}
        self.longest_ms = 0.0
        self.full_collections = 0

    def __call__(self, phase: str, info: dict) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._started[ident] = time.perf_counter()
            return
        began = self._started.pop(ident, None)
        if began is not None:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - began) * 1000)
        if info.get("generation") == 2:
            self.full_collections += 1

    def reset(self) -> None:
        self.longest_ms = 0.0
        self.full_collections = 0


@dataclass(frozen=True)
class SyncRun:
    seconds: float
    longest_stall_ms: float
    p99_gap_ms: float
    ticks: int
    api_calls: int
    stored: int
    listed: int
    longest_gc_ms: float
    full_collections: int


def _api_calls(demo) -> int:
    return sum(1 for entry in demo.request_log() if "/automation/" in entry.path)


def _sync_once(page, demo, heartbeat: Heartbeat, timer, gc_pauses: GcPauses) -> SyncRun:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    outcome: dict[str, object] = {}

    def finished(result) -> None:
        outcome["result"] = result
        outcome["seconds"] = time.perf_counter() - started

    def failed(message: str) -> None:
        outcome["error"] = message
        loop.quit()

    def loaded(_rows: int) -> None:
        if "result" in outcome:       # the reload after the sync is part of the run
            loop.quit()

    page.sync_finished.connect(finished)
    page.sync_failed.connect(failed)
    page.loaded.connect(loaded)
    guard = QTimer(singleShot=True, interval=SYNC_TIMEOUT_S * 1000)
    guard.timeout.connect(loop.quit)
    try:
        demo.clear_request_log()
        gc_pauses.reset()
        heartbeat.restart()
        timer.start()
        guard.start()
        started = time.perf_counter()
        page.sync_button.click()
        loop.exec()
        timer.stop()
    finally:
        guard.stop()
        page.sync_finished.disconnect(finished)
        page.sync_failed.disconnect(failed)
        page.loaded.disconnect(loaded)
    if "error" in outcome:
        raise RuntimeError(f"the sync failed: {outcome['error']}")
    if "result" not in outcome:
        raise RuntimeError(f"the sync did not finish within {SYNC_TIMEOUT_S} s")
    result = outcome["result"]
    return SyncRun(float(outcome["seconds"]), heartbeat.longest_ms, heartbeat.percentile(99),
                   len(heartbeat.gaps_ms), _api_calls(demo), result.stored, result.listed,
                   gc_pauses.longest_ms, gc_pauses.full_collections)


def _wait_for(signal, start, timeout_ms: int = 30_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    start()
    loop.exec()
    signal.disconnect(loop.quit)


def measure() -> tuple[SyncRun, SyncRun]:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"    # only this process; before the app exists
    import keyring
    from PySide6.QtCore import QCoreApplication, Qt, QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import MemoryKeyring
    from wg_desktop.context import build_context
    from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
    from wg_desktop.paths import Paths
    from wg_desktop.services.hubspot_setup import build_hubspot_services
    from wg_desktop.services.workflows import WorkflowQueries
    from wg_desktop.ui.app import StoreSessionPool, tune_garbage_collector
    from wg_desktop.ui.jobs import run_off_gui_thread
    from wg_desktop.ui.pages.workflows_page import WorkflowsPage

    app = QApplication.instance() or QApplication([])
    previous_keyring = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    pool = QThreadPool.globalInstance()
    try:
        with tempfile.TemporaryDirectory(prefix="wg-bench-stall-") as data_dir:
            ctx = build_context(Paths.resolve(data_dir, {}), {})
            faults = Faults(latency_ms=40, latency_jitter_ms=20)
            try:
                with DemoPortal(DemoConfig(seed=4242, workflows=WORKFLOWS, burst_limit=10_000,
                                           faults=faults)) as demo:
                    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit,
                                                 ctx.secrets, demo=demo)
                    try:
                        hub_id = hub.connection.connect_private_app(
                            demo.private_app_token(demo.portal_ids[0])).hub_id
                        runner = functools.partial(
                            run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
                        page = WorkflowsPage(WorkflowQueries(ctx.store, ctx.audit), hub.sync,
                                             runner)
                        page.resize(1280, 800)
                        page.show()
                        _wait_for(page.loaded, lambda: page.set_portal(hub_id))
                        tune_garbage_collector()     # as run_gui does after start-up
                        heartbeat = Heartbeat()
                        timer = QTimer()
                        timer.setTimerType(Qt.TimerType.PreciseTimer)
                        timer.setInterval(HEARTBEAT_MS)
                        timer.timeout.connect(heartbeat.tick)
                        gc_pauses = GcPauses()
                        gc.callbacks.append(gc_pauses)
                        try:
                            first = _sync_once(page, demo, heartbeat, timer, gc_pauses)
                            demo.drift_once(10)
                            incremental = _sync_once(page, demo, heartbeat, timer,
                                                     gc_pauses)
                        finally:
                            gc.callbacks.remove(gc_pauses)
                        page.close()
                        page.deleteLater()
                        QCoreApplication.processEvents()
                    finally:
                        pool.waitForDone(30_000)
                        hub.clients.close()
            finally:
                pool.waitForDone(30_000)
                ctx.close()
    finally:
        keyring.set_keyring(previous_keyring)
    return first, incremental


def run() -> list[Result]:
    first, incremental = measure()
    batches = math.ceil(WORKFLOWS / PAGE)
    first_calls_target = 2 * batches + 2
    incremental_calls_target = batches + 2
    results = []
    for label, sync, calls_target in (("first sync", first, first_calls_target),
                                      ("incremental sync", incremental,
                                       incremental_calls_target)):
        detail = (f"{sync.listed} listed, {sync.stored} stored; p99 gap "
                  f"{sync.p99_gap_ms:.1f} ms over {sync.ticks} ticks; longest garbage-"
                  f"collector pause {sync.longest_gc_ms:.1f} ms, {sync.full_collections} "
                  "full collections")
        results += [
            Result(f"GUI stall during {label} of {WORKFLOWS}", sync.longest_stall_ms, "ms",
                   f"< {STALL_TARGET_MS:.0f} ms", sync.longest_stall_ms < STALL_TARGET_MS,
                   detail),
            Result(f"{label} wall time (click to summary)", sync.seconds, "s",
                   detail="latency 40 ± 20 ms per API call"),
            Result(f"{label} API calls", sync.api_calls, "calls", f"<= {calls_target}",
                   sync.api_calls <= calls_target),
        ]
    return results
