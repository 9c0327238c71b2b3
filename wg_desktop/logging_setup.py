"""Logging: a rotating, private log file plus stderr, every line redacted."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from wg_desktop.config import Settings
from wg_desktop.paths import Paths, make_private_file
from wg_desktop.security.redaction import RedactingFilter, SecretRegistry

FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(threadName)s] %(message)s"
_OWNED = "_wg_handler"


def remove_app_handlers() -> None:
    """Detach the handlers configure_logging added (on shutdown, and in tests)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(handler)
        handler.close()


def configure_logging(paths: Paths, settings: Settings, registry: SecretRegistry,
                      *, stderr_level: int = logging.WARNING) -> logging.Handler | None:
    """(Re)configure the root logger; returns the file handler, or None when
    the log folder cannot be written (a read-only data folder): then only
    stderr gets the records."""
    level = getattr(logging, str(settings.get("logging.level")).upper())
    root = logging.getLogger()
    remove_app_handlers()
    try:
        make_private_file(paths.log_file)
        file_handler: logging.Handler | None = logging.handlers.RotatingFileHandler(
            paths.log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8")
    except OSError:
        file_handler = None
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setLevel(max(stderr_level, level))
    redacting = RedactingFilter(registry)
    for handler in (h for h in (file_handler, stderr_handler) if h is not None):
        setattr(handler, _OWNED, True)
        handler.addFilter(redacting)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full URLs at INFO; our client logs calls itself, redacted.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    api_calls = logging.getLogger("wg_desktop.hubspot")
    api_calls.setLevel(logging.DEBUG if settings.get("logging.detailed") else logging.INFO)
    return file_handler
