"""Shared bits of the benchmarks: the result record and a median helper."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


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
