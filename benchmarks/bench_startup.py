"""Start to the first painted main window (offscreen, warm runs), side by side
with a bare Qt window started in the same run — and start to the Overview
showing its data.

Each figure is measured from just before the process is spawned:

* **bare window** (``bare_window_probe``): a ``QMainWindow`` and nothing else —
  the floor any Qt app pays (interpreter, Qt libraries, platform plugin) — to
  its first Paint event.
* **app, real keychain** (``startup_probe``): the real ``run_gui`` path with
  the database key read from a real Secret Service (gnome-keyring on a private
  D-Bus session bus, see ``secret_service``) and ``keyring`` choosing its
  backend by itself — what a Linux desktop user gets. Measured only where
  gnome-keyring and dbus are installed.
* **app, in-memory keychain**: the same path with ``keyring``'s backend set to
  an in-memory one and the database key in the environment (no D-Bus).

For the app two moments: the main window's first paint (it opens before its
data and says "Opening your data…"), and the first frame of the Overview with
its first load shown — after the keychain, the database open and check, the
services and the Overview's load on a worker. The second is when the user can
work; both are reported.

The three kinds run interleaved, round after round, so a busy neighbour slows
all of them alike; the ratio compares medians of the same run. Each run's CPU
time (user + system, until the probe exits) is reported too: on a shared
machine it moves far less with the neighbours' load than the wall-clock
figure does.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks import secret_service
from benchmarks.common import Result, median

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
TARGET_S = 0.6
TARGET_RATIO = 2.5
BARE, APP_KEYCHAIN, APP_MEMORY = "bare", "keychain", "memory"


def _env(kind: str, bus_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING", "DBUS_"))}
    # "Warm" means what an installed app has: compiled bytecode on disk. With
    # PYTHONDONTWRITEBYTECODE (set on some machines) every run would compile
    # all modules from source again (~0.1 s here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    if kind == APP_MEMORY:
        env.update(PYTHON_KEYRING_BACKEND="tests.support.memory_keyring.MemoryKeyring",
                   HUBSPOT_TOKEN_ENCRYPTION_KEY="ab" * 32)
    elif kind == APP_KEYCHAIN:
        env.update(bus_env)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(kind: str, data_dir: str, bus_env: dict[str, str]
            ) -> tuple[float, float, float, str]:
    """Wall seconds to the first paint and to the Overview with its data (the
    bare window: its first paint twice), CPU seconds the child used, heavy
    modules loaded by the first paint."""
    module = "benchmarks.bare_window_probe" if kind == BARE else "benchmarks.startup_probe"
    args = [] if kind == BARE else [data_dir]
    cpu_before = _children_cpu()
    start = time.time()
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                         env=_env(kind, bus_env), cwd=ROOT, timeout=60)
    cpu = _children_cpu() - cpu_before      # runs are sequential: this child's alone
    lines = out.stdout.splitlines()
    painted = next((l for l in lines if l.startswith("painted")), None)
    if painted is None:
        raise RuntimeError(f"the {kind} window never painted: {out.stderr[-2000:]}")
    _, stamp, heavy = painted.split()
    ready = next((l for l in lines if l.startswith("ready")), None)
    if kind != BARE and ready is None:
        raise RuntimeError(f"the {kind} Overview never showed its data: {out.stderr[-2000:]}")
    ready_stamp = float(ready.split()[1]) if ready else float(stamp)
    return float(stamp) - start, ready_stamp - start, cpu, heavy.removeprefix("heavy=")


def measure(runs: int = RUNS
            ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]],
                       str, str]:
    """First-paint, ready and CPU samples per kind, the heavy modules the
    app imported by its first paint, and the keychain used."""
    with ExitStack() as stack:
        bus_env: dict[str, str] = {}
        kinds = [BARE, APP_MEMORY]
        keychain = "not measured: gnome-keyring and dbus are not installed here"
        if secret_service.available():
            bus_env = stack.enter_context(secret_service.SecretServiceSession()).env
            kinds.append(APP_KEYCHAIN)
            keychain = "gnome-keyring Secret Service on a private D-Bus session bus"
        folders = {kind: stack.enter_context(tempfile.TemporaryDirectory()) for kind in kinds}
        heavy = "none"
        for kind in kinds:      # cold: creates the database and its key, fills OS caches
            one_run(kind, folders[kind], bus_env)
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        ready: dict[str, list[float]] = {kind: [] for kind in kinds}
        cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(runs):
            for kind in kinds:
                seconds, ready_seconds, cpu_seconds, modules = one_run(kind, folders[kind],
                                                                       bus_env)
                samples[kind].append(seconds)
                ready[kind].append(ready_seconds)
                cpu[kind].append(cpu_seconds)
                if kind != BARE:
                    heavy = modules
    return samples, ready, cpu, heavy, keychain


def run() -> list[Result]:
    samples, ready, cpu, heavy, keychain = measure()
    bare = median(samples[BARE])
    bare_cpu = median(cpu[BARE])
    results = [Result("bare Qt window: start to first paint", bare, "s",
                      detail=f"median of {RUNS} warm runs, min {min(samples[BARE]):.3f} s; "
                             f"CPU {bare_cpu:.3f} s; load average {os.getloadavg()[0]:.1f}")]
    for kind, label in ((APP_KEYCHAIN, "real keychain"), (APP_MEMORY, "in-memory keychain")):
        if kind not in samples:
            results.append(Result(f"start to first painted main window, {label}", float("nan"),
                                  "s", detail=keychain))
            continue
        value = median(samples[kind])
        ratio = value / bare
        detail = (f"median of {RUNS} warm runs, min {min(samples[kind]):.3f} s; heavy "
                  f"modules imported by the first paint: {heavy}")
        if kind == APP_KEYCHAIN:
            detail += f"; {keychain}"
        usable = median(ready[kind])
        results += [
            Result(f"start to first painted main window, {label}", value, "s",
                   f"< {TARGET_S} s", value < TARGET_S, detail),
            Result(f"start-up / bare window, {label}", ratio, "x", f"<= {TARGET_RATIO}x",
                   ratio <= TARGET_RATIO, "medians of the same run"),
            # No target of its own: reported so the first frame cannot improve
            # at the expense of the moment the user can work.
            Result(f"start to the Overview showing its data, {label}", usable, "s",
                   detail=f"median of {RUNS} warm runs, min {min(ready[kind]):.3f} s, CPU "
                   f"{median(cpu[kind]):.3f} s to there ({usable / bare:.2f}x the bare "
                   f"window's first paint)"),
        ]
    return results
