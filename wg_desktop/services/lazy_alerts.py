"""The alert service made on first use, for the Overview.

The window builds the Overview on the GUI thread; importing services/alerts
there would load the notifiers and, under them, httpx and smtplib with the
email package (some 35 modules, about 30 ms on top of what the Overview
itself loads). None of it is needed to show the page: the Overview asks for
open alerts on a worker thread (its first load), which makes the ordinary
:class:`~wg_desktop.services.alerts.AlertService` and imports its module
there.

This is the only deferral of the alerts module. services/alerts.py defers
something else, the health checks and the HubSpot client under them (loaded
when a sample is judged), so that the worker's import stays small: it can
run while the window paints (tests/unit/test_layers.py checks that importing
the alerts module loads neither).
"""

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
