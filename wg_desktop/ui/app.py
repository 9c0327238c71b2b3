"""A window made from an opened context: its scheduler and jobs, its
runner, the HubSpot services and the demo portal. The start-up sequence that
uses it is ``ui/launch.py``; tests, scripts and benchmarks build windows here."""

from __future__ import annotations

import functools
import gc
import logging
import sys
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from wg_desktop.context import AppContext
from wg_desktop.services.job_runs import WriteBehindJobRunStore
from wg_desktop.services.schedule import DailyAt, Interval, JobSpec
from wg_desktop.store.db import Store
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.main_window import MainWindow
from wg_desktop.ui.scheduler import JobScheduler

if TYPE_CHECKING:
    from wg_desktop.services.alerts import HealthServices
    from wg_desktop.services.hubspot_setup import HubSpotServices

log = logging.getLogger(__name__)

def retention_job(ctx: AppContext) -> Callable[..., str]:
    def run(cancel: Any, progress: Any) -> str:
        return ctx.retention.summary(ctx.retention.run())
    return run


def backup_job(ctx: AppContext) -> Callable[..., str]:
    """The automatic backup. The scheduler reckons the next run from the last
    successful one, so a window missed while the app was closed runs at start."""
    from wg_desktop.services.backups import Trigger

    def run(cancel: Any, progress: Any) -> str:
        info = ctx.backups.backup_now(Trigger.SCHEDULED)
        return f"Backed up to {info.path.name} ({info.size:,} bytes, verified)"
    return run


def health_job(health: HealthServices) -> Callable[..., str]:
    """Every portal's health check; its samples feed the alerts."""
    from wg_desktop.services.health import check_summary

    def run(cancel: Any, progress: Any) -> str:
        return check_summary(health.monitor.check_all())
    return run


def token_refresh_job(services: HubSpotServices) -> Callable[..., str]:
    """The hourly check: refresh tokens that are due, retry queued revocations."""
    def run(cancel: Any, progress: Any) -> str:
        results = services.connection.refresh_due_tokens()
        pending = services.connection.retry_pending_revocations()
        return token_refresh_summary(results, pending)
    return run


def sync_job(services: HubSpotServices) -> Callable[..., str]:
    """Background sync of every connected portal (the 'real-time sync' feature)."""
    def run(cancel: Any, progress: Any) -> str:
        def report(name: str, p: Any) -> None:
            total = p.changed if p.phase in ("fetching", "storing") and p.changed else None
            progress(p.stored, total, f"{name}: {p.phase}")
        return services.sync.sync_all(services.connection.connected_portals(), cancel=cancel,
                                      progress=report)
    return run


def token_refresh_summary(results: dict[int, str], pending_revocations: int) -> str:
    if results:
        refreshed = sum(r == "refreshed" for r in results.values())
        failed = sum(r.startswith("failed") for r in results.values())
        text = (f"{len(results)} portal(s) checked: {refreshed} refreshed, "
                f"{len(results) - refreshed - failed} still valid")
        if failed:
            text += f", {failed} failed"
    else:
        text = "No connected portal"
    if pending_revocations:
        text += f"; {pending_revocations} revocation(s) still pending"
    return text


class AlertNotices(QObject):
    """Alerts raised by the health job (a worker thread) -> the tray, on the
    GUI thread: the desktop channel only posts a queued signal."""

    posted = Signal(str, str)   # title, message

    def post(self, notification: Any) -> None:
        self.posted.emit(notification.title, notification.message)


def scheduled_jobs(ctx: AppContext, hubspot: HubSpotServices | None = None,
                   desktop: Callable[[Any], None] | None = None
                   ) -> list[tuple[JobSpec, Callable[..., str]]]:
    """The background jobs the settings ask for, each with what it runs."""
    hours, minutes = (int(p) for p in str(ctx.settings.get("schedule.retention_time")).split(":"))
    specs = [(JobSpec("retention", DailyAt(hours, minutes), "Retention cleanup"),
              retention_job(ctx))]
    if hubspot is not None:
        from wg_desktop.services import weekly_report
        from wg_desktop.services.alerts import build_health_services

        every = Interval(int(ctx.settings.get("schedule.token_refresh_interval")))
        specs.append((JobSpec("token-refresh", every, "Token refresh check"),
                      token_refresh_job(hubspot)))
        if ctx.settings.feature_enabled("realtime_sync"):
            every = Interval(int(ctx.settings.get("schedule.sync_interval")))
            specs.append((JobSpec("sync", every, "Workflow sync (all portals)"),
                          sync_job(hubspot)))
        every = Interval(int(ctx.settings.get("schedule.health_check_interval")))
        health = build_health_services(ctx.settings, ctx.store, ctx.audit, hubspot,
                                       desktop=desktop)
        # A failed backup (scheduled or Back up now) raises the "backup failed" alert.
        health.alerts.subscribe(backups=ctx.backups)
        specs.append((JobSpec("health", every, "Health check (all portals)"),
                      health_job(health)))
        if ctx.settings.get("notify.weekly_report"):
            specs.append((JobSpec(weekly_report.JOB_NAME,
                                  Interval(int(weekly_report.WEEK.total_seconds())),
                                  "Weekly health report by email"),
                          weekly_report.weekly_report_job(ctx.settings, ctx.store, ctx.audit,
                                                          health.alerts)))
    if ctx.settings.feature_enabled("automatic_backups") and not ctx.store.read_only:
        every = Interval(int(ctx.settings.get("schedule.backup_interval")))
        specs.append((JobSpec("backup", every, "Automatic backup"), backup_job(ctx)))
    return specs


def build_scheduler(ctx: AppContext, pool: QThreadPool | Any,
                    hubspot: HubSpotServices | None = None,
                    desktop: Callable[[Any], None] | None = None, *,
                    with_jobs: bool = True) -> JobScheduler:
    """The scheduler over the job-run log; ``with_jobs=False`` leaves the jobs
    for :func:`register_jobs` (run_gui registers them after the first frame)."""
    scheduler = JobScheduler(WriteBehindJobRunStore(ctx.job_runs), pool=pool)
    if with_jobs:
        register_jobs(scheduler, ctx, hubspot, desktop)
    return scheduler


def register_jobs(scheduler: JobScheduler, ctx: AppContext,
                  hubspot: HubSpotServices | None = None,
                  desktop: Callable[[Any], None] | None = None) -> None:
    for spec, fn in scheduled_jobs(ctx, hubspot, desktop):
        scheduler.register(spec, fn)


# How long a busy worker thread may keep the GIL while the GUI thread waits
# for it (Python's default is 5 ms). The GUI thread takes the GIL several times
# per frame (every slot, every Python override), each time waiting up to this
# long behind a sync worker: 1 ms halved the longest stall during a first sync
# of 1,000 workflows (20 -> 11.5 ms, median of 4) at the same sync wall time.
GUI_SWITCH_INTERVAL_S = 0.001


def tune_interpreter() -> None:
    """Called once the window has painted. A full collection holds the GIL for
    as long as it takes to walk every tracked object, and the GUI thread stalls
    for all of it. Freezing what start-up built (modules, Qt wrappers, the demo
    portal's data) takes it out of every later collection, and a larger first
    threshold makes collections rarer during a sync's bursts of short-lived
    dicts. A short switch interval hands the GIL back to the GUI thread sooner."""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 5_000), gen1, gen2)
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


class StoreSessionPool:
    """Wraps a thread pool so every task runs inside a store session (see
    ``Store.session`` for why a pooled worker must close its connection)."""

    def __init__(self, pool: QThreadPool | Any, store: Store) -> None:
        self.pool = pool
        self.store = store

    def start(self, fn: Callable[[], Any], /, priority: int = 0) -> None:
        def in_session() -> Any:
            with self.store.session():
                return fn()
        self.pool.start(in_session, priority)

    def waitForDone(self, msecs: int = -1, /) -> bool:  # noqa: N802 - Qt's name
        return self.pool.waitForDone(msecs)


def create_main_window(ctx: AppContext, pool: QThreadPool | Any,
                       hubspot: HubSpotServices | None = None, *,
                       jobs_later: bool = False,
                       hubspot_later: Callable[[], HubSpotServices | None] | None = None
                       ) -> MainWindow:
    """A window on an opened context, made the way run_gui makes its own
    (``MainWindow`` first, then :func:`open_window_data`). ``jobs_later``: the
    scheduler starts empty and :func:`schedule_window_jobs` fills it (run_gui
    does so after the Overview's first load)."""
    window = MainWindow(ctx.paths, ctx.settings,
                        hubspot_later=hubspot_later if hubspot is None else None)
    open_window_data(window, ctx, pool, hubspot, hubspot_later=hubspot_later,
                     jobs_later=jobs_later)
    return window


def open_window_data(window: MainWindow, ctx: AppContext, pool: QThreadPool | Any,
                     hubspot: HubSpotServices | None = None, *,
                     hubspot_later: Callable[[], HubSpotServices | None] | None = None,
                     jobs_later: bool = True) -> None:
    """Hand a window made before its data the opened context, with its
    scheduler (and its jobs, unless ``jobs_later``) and its runner."""
    # Scheduled jobs get their own pool: a long sync never starves the pages'
    # loads, and stopping the scheduler waits for jobs only.
    job_pool: QThreadPool | Any = pool
    if isinstance(pool, QThreadPool):
        job_pool = QThreadPool()
        job_pool.setMaxThreadCount(2)
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    bridge = AlertNotices(window)
    bridge.posted.connect(window.show_alert)
    scheduler = build_scheduler(ctx, StoreSessionPool(job_pool, ctx.store), hubspot,
                                desktop=bridge.post, with_jobs=not jobs_later)
    scheduler.setParent(window)
    window.job_pool = job_pool
    window.open_data(ctx, scheduler, runner, hubspot, hubspot_later)


def schedule_window_jobs(window: MainWindow, hubspot: HubSpotServices | None) -> None:
    """The jobs of a window made with ``jobs_later``; the pages that list
    them read again."""
    bridge = window.findChild(AlertNotices)
    register_jobs(window.scheduler, window.ctx, hubspot,
                  bridge.post if bridge is not None else None)
    overview, jobs = window.built_page("Overview"), window.built_page("Background jobs")
    if overview is not None:
        overview.reload()
    if jobs is not None:
        jobs.refresh()


def reconcile_autostart_later(window: MainWindow) -> None:
    """The login entry follows the setting in force, even one set only in the
    environment or the settings file (a few bytes of one small file, written
    off the GUI thread once the window is up)."""
    from wg_desktop.services.settings_service import SettingsService

    ctx = window.ctx
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit)
    window.runner(service.reconcile_autostart, on_result=lambda created: None,
                  on_error=lambda error: log.warning("could not update the login entry: %s",
                                                     error))


def build_services(ctx: AppContext) -> HubSpotServices:
    """HubSpot or, when asked for (or nothing is configured), the demo portal in-process."""
    from wg_desktop.demo.embedded import start_demo_portal
    from wg_desktop.services.demo_choice import wants_demo
    from wg_desktop.services.hubspot_setup import build_hubspot_services

    demo = start_demo_portal(ctx.registry) if wants_demo(ctx.settings) else None
    try:
        return build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                      registry=ctx.registry, demo=demo)
    except BaseException:
        if demo is not None:
            demo.stop()
        raise


def connect_demo_portal(window: MainWindow, services: HubSpotServices) -> None:
    """Demo mode: connect the demo's main portal, off the GUI thread."""
    if services.demo is None:
        return
    from wg_desktop.services.hubspot_setup import ensure_demo_portal_connected

    # Once connected, capture its workflows at once (the background job may
    # already have run, before there was a portal to sync).
    window.runner(lambda: ensure_demo_portal_connected(services),
                  on_result=lambda portal: window.sync_portal_when_shown(portal.hub_id)
                  if portal is not None else None,
                  on_error=lambda error: log.warning("could not connect the demo portal: %s",
                                                     error))
