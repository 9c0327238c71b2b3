"""The Overview's alert service, made on first use (services/lazy_alerts.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wg_desktop.services.alerts import AlertService
from wg_desktop.services.lazy_alerts import LazyAlertService

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_overviews_service_loads_neither_the_alerts_nor_the_notifiers():
    """What the window does on the GUI thread: import the Overview's sources
    and make the lazy service. The alerts module, and the notifiers' httpx
    and smtplib under it, wait for the first load on a worker."""
    probe = ("import sys\n"
             "from wg_desktop.services.overview import OverviewSources\n"
             "from wg_desktop.services.lazy_alerts import LazyAlertService\n"
             "LazyAlertService(None, None, None)\n"
             "print(sorted(m for m in ('wg_desktop.services.alerts', "
             "'wg_desktop.services.notifiers', 'httpx', 'smtplib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_first_use_makes_one_ordinary_alert_service(ctx):
    lazy = LazyAlertService(ctx.store, ctx.settings, ctx.audit)
    service = lazy.service()
    assert isinstance(service, AlertService) and lazy.service() is service
    assert lazy.alerts(open_only=True, limit=None) == []
