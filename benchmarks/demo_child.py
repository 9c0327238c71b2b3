"""The demo portal in a child process, standing in for HubSpot in a benchmark.

HubSpot does not run inside the app: its JSON encoding of a 100-flow answer
costs the app nothing. The demo portal started in the benchmark's own process
would encode every answer on a thread of the measured process and hold its GIL
for it, so GUI-latency figures would include work no user pays for. In a child
process its CPU is only a neighbour's (two cores are shared, as on a laptop).
The control endpoints (``/__demo__/requests``, ``/__demo__/drift``) stand in for
the in-process ``request_log()`` and ``drift_once()``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import stop_process

ROOT = Path(__file__).resolve().parents[1]


class DemoChild:
    """``with DemoChild(workflows=N) as portal``: the demo portal started in a
    child process (``python -m wg_desktop.demo.command --json``), its start-up
    information in ``info``, stopped on exit. Only the faults asked for are
    passed on (a latency of 0 is no fault)."""

    def __init__(self, *, workflows: int, seed: int = 7, latency_ms: float = 0.0,
                 latency_jitter_ms: float = 0.0, burst_limit: int = 10_000,
                 burst_window_s: float | None = None) -> None:
        self.args = ["--json", "--workflows", str(workflows), "--seed", str(seed),
                     "--burst-limit", str(burst_limit)]
        if burst_window_s is not None:
            self.args += ["--burst-window", str(burst_window_s)]
        if latency_ms or latency_jitter_ms:
            self.args += ["--latency-ms", str(latency_ms),
                          "--latency-jitter-ms", str(latency_jitter_ms)]
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._http: httpx.Client | None = None

    def __enter__(self) -> "DemoChild":
        self.proc = subprocess.Popen([sys.executable, "-m", "wg_desktop.demo.command", *self.args],
                                     cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("{"):
            self.__exit__()
            raise RuntimeError(f"the demo portal child process did not start: {line!r}")
        self.info = json.loads(line)
        self._http = httpx.Client(base_url=self.base_url, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    @property
    def base_url(self) -> str:
        return str(self.info["baseUrl"])

    def oauth_app(self) -> Any:
        from wg_desktop.services.connection import OAuthApp

        return OAuthApp(self.info["clientId"], self.info["clientSecret"],
                        self.info["redirectUris"][0], self.base_url, is_demo=True)

    def private_app_token(self) -> str:
        portal = next(p for p in self.info["portals"] if p["hasWorkflows"])
        return str(portal["privateAppToken"])

    def served_paths(self) -> list[str]:
        assert self._http is not None
        answer = self._http.get("/__demo__/requests")
        answer.raise_for_status()
        return [entry["path"] for entry in answer.json()["results"]]

    def drift(self, n: int) -> None:
        assert self._http is not None
        self._http.post("/__demo__/drift", json={"n": n}).raise_for_status()
