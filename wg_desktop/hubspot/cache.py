"""Thread-safe TTL cache of API answers, with the last good answer kept.

TTLs by kind (settings ``cache.*``): API responses 5 min, portal info 1 h,
workflow lists 10 min. Writes call :meth:`ResponseCache.invalidate` with a key
prefix so nothing stale is served after a change. An expired entry is not
served by :meth:`get`, but stays available through :meth:`stale_get` so reads
can degrade gracefully while HubSpot is unreachable.

Values are deep-copied in and out: callers may mutate what they get.
"""

from __future__ import annotations

import copy
import enum
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.clock import SYSTEM_CLOCK, Clock

T = TypeVar("T")


class CacheKind(enum.StrEnum):
    API = "api"
    PORTAL_INFO = "portal_info"
    WORKFLOW_LIST = "workflow_list"


def ttls_from_config(config: Any) -> dict[CacheKind, float]:
    return {CacheKind.API: float(config.cache_api_ttl),
            CacheKind.PORTAL_INFO: float(config.cache_portal_info_ttl),
            CacheKind.WORKFLOW_LIST: float(config.cache_workflow_list_ttl)}


@dataclass(frozen=True)
class CachedValue:
    value: Any
    stored_at: float      # clock.monotonic() when stored
    age: float            # seconds since stored, at read time
    fresh: bool


@dataclass
class _Entry:
    value: Any
    stored_at: float
    expires_at: float


class ResponseCache:
    def __init__(self, ttls: Mapping[CacheKind, float] | None = None, *,
                 clock: Clock | None = None, max_entries: int = 4096) -> None:
        self._ttls = {**ttls_from_config(ClientConfig()), **(ttls or {})}
        self._clock = clock or SYSTEM_CLOCK
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_config(cls, config: Any, clock: Clock | None = None) -> "ResponseCache":
        return cls(ttls_from_config(config), clock=clock)

    def ttl(self, kind: CacheKind) -> float:
        return self._ttls[kind]

    def put(self, key: str, value: Any, kind: CacheKind = CacheKind.API) -> None:
        ttl = self._ttls[kind]
        now = self._clock.monotonic()
        stored = copy.deepcopy(value)
        with self._lock:
            self._entries[key] = _Entry(stored, now, now + ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, key: str) -> CachedValue | None:
        """The fresh entry for ``key``, or None (missing or expired)."""
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now >= entry.expires_at:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
        return CachedValue(copy.deepcopy(entry.value), entry.stored_at, now - entry.stored_at,
                           True)

    def stale_get(self, key: str) -> CachedValue | None:
        """The last good answer for ``key`` whatever its age (``fresh`` tells)."""
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
        return CachedValue(copy.deepcopy(entry.value), entry.stored_at, now - entry.stored_at,
                           now < entry.expires_at)

    def invalidate(self, prefix: str = "") -> int:
        """Forget every entry whose key starts with ``prefix`` (all when empty),
        stale copies included. Returns how many were dropped."""
        with self._lock:
            doomed = [k for k in self._entries if k.startswith(prefix)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def get_or_load(self, key: str, loader: Callable[[], T], kind: CacheKind = CacheKind.API,
                    *, force_refresh: bool = False) -> T:
        """Serve a fresh entry, else call ``loader`` and store its result.
        ``force_refresh=True`` always calls the loader."""
        if not force_refresh:
            hit = self.get(key)
            if hit is not None:
                return hit.value
        value = loader()
        self.put(key, value, kind)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
