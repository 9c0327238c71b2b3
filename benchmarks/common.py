"""Shared bits of the benchmarks: the result record, a median helper, the GUI
thread's heartbeat and the collector's pauses, waiting for a Qt signal with a
deadline, and stopping a child process. Qt is imported only by the helpers
that need it, when they run."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    target: str = ""        # human text, e.g. "< 0.6 s"
    met: bool | None = None  # None when there is no target
    detail: str = ""

    def line(self) -> str:
        verdict = "" if self.met is None else ("  OK" if self.met else "  MISSED")
        target = f"  (target {self.target})" if self.target else ""
        detail = f"  [{self.detail}]" if self.detail else ""
        return f"{self.name}: {self.value:.4g} {self.unit}{target}{verdict}{detail}"


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Heartbeat:
    """Ticks on the GUI thread (a precise QTimer's timeout); remembers every
    gap between two ticks. ``restart()`` before each measured stretch."""

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
    thread too): recorded to explain a stall, not to change it. Append it to
    ``gc.callbacks`` for the measured stretch."""

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


def wait_for_signal(signal: Any, start: Callable[[], object],
                    accept: Callable[..., bool] = lambda *args: True,
                    timeout_s: float = 30.0) -> tuple:
    """Call ``start`` and run a Qt event loop until ``signal`` fires with
    arguments ``accept`` likes; returns those arguments. Raises TimeoutError
    when ``timeout_s`` passes first: a benchmark never measures a wait that
    silently gave up."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    seen: list[tuple] = []

    def fired(*args: Any) -> None:
        if not seen and accept(*args):
            seen.append(args)
            loop.quit()

    guard = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    guard.timeout.connect(loop.quit)
    signal.connect(fired)
    try:
        guard.start()
        start()
        if not seen:                  # a signal sent from within start() has been seen
            loop.exec()
    finally:
        guard.stop()
        signal.disconnect(fired)
    if not seen:
        raise TimeoutError(f"no {signal} within {timeout_s:g} s")
    return seen[0]


def stop_process(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a child process this benchmark started: terminate, wait, kill if
    it does not end within ``timeout_s``. Nothing when it already ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
