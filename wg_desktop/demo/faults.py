"""Fault injection for the demo portal: latency, 5xx, slow answers, dropped
connections, spurious 401s and broken bodies (garbled, cut short on the wire,
cut off mid-JSON under a matching Content-Length, oversized).

Every rate is a probability in 0..1, drawn independently per request from a
seeded generator. At most one fault hits a request; they are tried in the
order of ``FAULT_ORDER`` so a rate of 1.0 always wins over the later ones.
Faults apply to API and OAuth token paths only, never to the control
endpoints (``/__demo__/...``) nor to the authorize pages.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import random
import threading
from dataclasses import dataclass
from typing import Any, Mapping

_RATE_FIELDS = ("error_5xx_rate", "slow_rate", "drop_rate", "unauthorized_rate",
                "malformed_json_rate", "truncated_rate", "cut_off_rate", "oversized_rate")


@dataclass(frozen=True)
class Faults:
    """What can go wrong, and how often.

    Latency: each faultable request waits ``latency_ms`` plus a uniform random
    amount in ``[-latency_jitter_ms, +latency_jitter_ms]`` (never below zero).
    ``slow_rate`` requests wait ``slow_seconds`` more before answering
    (default longer than the app's 30-s client timeout). ``oversized_rate``
    answers carry a valid JSON body padded to about ``oversized_bytes``.
    ``truncated_rate`` answers stop short of their Content-Length (the HTTP
    exchange fails); ``cut_off_rate`` answers, successful ones only, carry a
    JSON body cut off mid-way under a Content-Length that matches the cut
    body, so the HTTP exchange succeeds and only the JSON is broken — what a
    misbehaving proxy or a server bug delivers.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_5xx_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 35.0
    drop_rate: float = 0.0
    unauthorized_rate: float = 0.0
    malformed_json_rate: float = 0.0
    truncated_rate: float = 0.0
    cut_off_rate: float = 0.0
    oversized_rate: float = 0.0
    oversized_bytes: int = 5 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be a probability between 0 and 1, got {value!r}")
        for name in ("latency_ms", "latency_jitter_ms", "slow_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Faults.{name} must be a number >= 0, got {value!r}")
        if not isinstance(self.oversized_bytes, int) or isinstance(self.oversized_bytes, bool) \
                or not 1024 <= self.oversized_bytes <= 512 * 1024 * 1024:
            raise ValueError("Faults.oversized_bytes must be an int between 1 KiB and 512 MiB")

    def replace(self, **changes: Any) -> "Faults":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: "Faults | None" = None) -> "Faults":
        """Apply a partial mapping (e.g. a control-endpoint JSON body) to ``base``."""
        changes = {}
        for key, value in data.items():
            if key == "oversized_bytes" and isinstance(value, float) and value.is_integer():
                value = int(value)
            changes[key] = value
        return (base or cls()).replace(**changes)


class FaultKind(enum.StrEnum):
    DROP = "drop"
    SLOW = "slow"
    ERROR_5XX = "error_5xx"
    UNAUTHORIZED = "unauthorized"
    MALFORMED_JSON = "malformed_json"
    TRUNCATED = "truncated"
    CUT_OFF = "cut_off"
    OVERSIZED = "oversized"


# (kind, rate field) in the order they are tried.
FAULT_ORDER: tuple[tuple[FaultKind, str], ...] = (
    (FaultKind.DROP, "drop_rate"),
    (FaultKind.SLOW, "slow_rate"),
    (FaultKind.ERROR_5XX, "error_5xx_rate"),
    (FaultKind.UNAUTHORIZED, "unauthorized_rate"),
    (FaultKind.MALFORMED_JSON, "malformed_json_rate"),
    (FaultKind.TRUNCATED, "truncated_rate"),
    (FaultKind.CUT_OFF, "cut_off_rate"),
    (FaultKind.OVERSIZED, "oversized_rate"),
)

# Faults that replace the answer before the request is handled.
PRE_FAULTS = frozenset({FaultKind.DROP, FaultKind.ERROR_5XX, FaultKind.UNAUTHORIZED})
# Faults that spoil the body of the real answer.
BODY_FAULTS = frozenset({FaultKind.MALFORMED_JSON, FaultKind.TRUNCATED, FaultKind.CUT_OFF,
                         FaultKind.OVERSIZED})
# Body faults that only spoil successful (2xx) answers.
SUCCESS_ONLY_FAULTS = frozenset({FaultKind.CUT_OFF})

ERROR_5XX_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class FaultPlan:
    latency_s: float = 0.0
    kind: FaultKind | None = None
    status_5xx: int = 500
    slow_seconds: float = 0.0
    oversized_bytes: int = 0


NO_FAULT = FaultPlan()


class FaultInjector:
    """Holds the current ``Faults`` (changeable at runtime) and draws plans."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._rng = random.Random(f"wg-demo-faults:{seed}")

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> Faults:
        with self._lock:
            self._faults = faults
            return faults

    def update(self, **changes: Any) -> Faults:
        with self._lock:
            self._faults = self._faults.replace(**changes)
            return self._faults

    def plan(self, *, authenticated: bool) -> FaultPlan:
        with self._lock:
            f = self._faults
            rng = self._rng
            latency = f.latency_ms
            if f.latency_jitter_ms:
                latency += rng.uniform(-f.latency_jitter_ms, f.latency_jitter_ms)
            latency_s = max(0.0, latency) / 1000.0
            chosen: FaultKind | None = None
            for kind, field_name in FAULT_ORDER:
                rate = getattr(f, field_name)
                if rate <= 0.0:
                    continue
                if kind is FaultKind.UNAUTHORIZED and not authenticated:
                    continue
                if rate >= 1.0 or rng.random() < rate:
                    chosen = kind
                    break
            status = rng.choice(ERROR_5XX_STATUSES) if chosen is FaultKind.ERROR_5XX else 500
            if chosen is None and latency_s == 0.0:
                return NO_FAULT
            return FaultPlan(latency_s=latency_s, kind=chosen, status_5xx=status,
                             slow_seconds=f.slow_seconds, oversized_bytes=f.oversized_bytes)


def malformed(body: bytes) -> bytes:
    """A body that claims to be JSON and is not: the real one cut short,
    followed by debris a broken proxy might leave."""
    cut = body[: max(1, len(body) // 2)]
    return cut + b'\x00<html>upstream reset'


def cut_off(body: bytes) -> bytes:
    """The first half of a JSON body (at least one byte). A proper prefix of
    a JSON object or array lacks its closing bracket, so it never parses;
    the demo's successful JSON answers are all objects."""
    return body[: max(1, len(body) // 2)]


def oversized(payload: Any, body: bytes, target_bytes: int) -> bytes:
    """A valid JSON body of about ``target_bytes``: the real object with a
    padding member (or the real value wrapped) so a tolerant client still
    finds the real data."""
    missing = max(0, target_bytes - len(body))
    padding = "x" * missing
    if isinstance(payload, dict):
        padded = dict(payload)
        padded["demoPadding"] = padding
        return json.dumps(padded, separators=(",", ":")).encode()
    return json.dumps({"value": payload, "demoPadding": padding}, separators=(",", ":")).encode()
