"""The alert service made on first use. Its module loads the health checks and,
under them, the HubSpot client: work the window's first frame does not need.
The Overview asks it for open alerts on a worker thread, after which it is
the ordinary :class:`~wg_desktop.services.alerts.AlertService`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditLog
from wg_desktop.store.db import Store

if TYPE_CHECKING:
    from wg_desktop.services.alerts import AlertService


class LazyAlertService:
    def __init__(self, store: Store, settings: Settings, audit: AuditLog) -> None:
        self._args = (store, settings, audit)
        self._service: AlertService | None = None
        self._lock = threading.Lock()      # two first loads at once make one service

    def service(self) -> "AlertService":
        with self._lock:
            if self._service is None:
                from wg_desktop.services.alerts import AlertService

                self._service = AlertService(*self._args)
            return self._service

    def alerts(self, *args: Any, **kwargs: Any) -> Any:
        return self.service().alerts(*args, **kwargs)
