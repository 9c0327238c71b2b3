"""Waiting for something another thread or process does, with a deadline."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(predicate: Callable[[], object], what: str = "the condition", *,
               timeout: float = 5.0, interval: float = 0.002) -> None:
    """Poll ``predicate`` until it is true; fail the test (AssertionError)
    naming ``what`` when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
