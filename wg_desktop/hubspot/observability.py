"""What every HubSpot call leaves behind: one :class:`ApiCallRecord`, and a
redacted debug log line.

Records go to a :class:`CallRecorder` (the health monitor's database-backed
recorder in the app, :class:`InMemoryCallRecorder` in tests and the CLI).
Secrets never reach a log line: no Authorization header, no request bodies
(OAuth forms hold the client secret), path templates instead of paths (v1
token metadata puts the token in the path), and query parameters such as
``code`` or ``refresh_token`` masked.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Mapping, Protocol
from urllib.parse import urlencode

from wg_desktop.hubspot.errors import ErrorCategory
from wg_desktop.security.redaction import MASK, SECRET_PARAM_NAMES

LOGGER_NAME = "wg_desktop.hubspot"
log = logging.getLogger(LOGGER_NAME)

# One list of secret parameter names for the whole app (security/redaction.py).
SECRET_QUERY_PARAMS = SECRET_PARAM_NAMES


@dataclass(frozen=True)
class ApiCallRecord:
    portal_key: str
    endpoint: str                    # path template, e.g. /automation/v4/flows/{flowId}
    method: str
    status: int | None               # final HTTP status; None when no answer came
    latency_ms: float                # duration of the final HTTP exchange
    bytes: int                       # size of the final response body
    error: ErrorCategory | None      # None on success
    retries: int                     # HTTP sends beyond the first (retries, 401 re-send)
    waited_for_limit_ms: float       # time spent waiting for rate limits (incl. 429 waits)
    timestamp: float                 # wall clock (epoch s) when the request started
    total_ms: float = 0.0            # whole call: waits, back-offs, retries included
    correlation_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class CallRecorder(Protocol):
    def record(self, rec: ApiCallRecord) -> None: ...


class InMemoryCallRecorder:
    """Keeps the last ``maxlen`` records (thread-safe)."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._records: deque[ApiCallRecord] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, rec: ApiCallRecord) -> None:
        with self._lock:
            self._records.append(rec)

    def records(self) -> list[ApiCallRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


class NullRecorder:
    def record(self, rec: ApiCallRecord) -> None:
        pass


def redact_params(params: Mapping[str, object] | None) -> str:
    """A query string fit for a log line: secret parameters masked."""
    if not params:
        return ""
    items = [(k, MASK if k.lower() in SECRET_QUERY_PARAMS else str(v))
             for k, v in params.items()]
    return urlencode(items, safe="[]")
