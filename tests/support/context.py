"""Building a real application context for tests (in-memory keychain)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from wg_desktop.context import AppContext, build_context
from wg_desktop.paths import Paths


def make_context(data_dir: Path, environ: Mapping[str, str] | None = None) -> AppContext:
    return build_context(Paths.resolve(data_dir, {}), dict(environ or {}))
