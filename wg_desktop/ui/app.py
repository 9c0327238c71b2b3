"""Starting the GUI: the application object, the context (with the keychain
fallback offer), logging, the crash dialog, the scheduler and the window."""

from __future__ import annotations

import functools
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox, QWidget

from wg_desktop.config import Settings, SettingError
from wg_desktop.constants import APP_DISPLAY_NAME, APP_ID
from wg_desktop.context import AppContext, InstanceBusy, SetupError, build_context
from wg_desktop.logging_setup import configure_logging
from wg_desktop.paths import Paths
from wg_desktop.security.keys import DatabaseKeyMissing
from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.security.secrets import KeychainUnavailable, WrongPassphrase
from wg_desktop.services.job_runs import WriteBehindJobRunStore
from wg_desktop.services.schedule import DailyAt, Interval, JobSpec
from wg_desktop.store.db import Store, StoreError
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.first_paint import after_first_paint
from wg_desktop.ui.main_window import MainWindow
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.scheduler import JobScheduler
from wg_desktop.ui.single_instance import SingleInstance, bring_forward
from wg_desktop.ui.smoke import smoke_requested, watch_if_requested

if TYPE_CHECKING:
    from wg_desktop.services.alerts import HealthServices
    from wg_desktop.services.hubspot_setup import HubSpotServices

log = logging.getLogger(__name__)

STARTUP_ERRORS = (SettingError, SetupError, InstanceBusy, DatabaseKeyMissing, StoreError,
                  WrongPassphrase, OSError)


def ask_passphrase(parent: QWidget | None, creating: bool) -> str | None:
    label = ("Choose a passphrase for the secrets file (you will need it every time "
             "the app starts):" if creating else "Passphrase of the secrets file:")
    first, ok = QInputDialog.getText(parent, APP_DISPLAY_NAME, label, QLineEdit.EchoMode.Password)
    if not ok or not first:
        return None
    if creating:
        again, ok = QInputDialog.getText(parent, APP_DISPLAY_NAME, "Repeat the passphrase:",
                                         QLineEdit.EchoMode.Password)
        if not ok or again != first:
            QMessageBox.warning(parent, APP_DISPLAY_NAME, "The passphrases differ.")
            return None
    return first


def open_context(paths: Paths) -> AppContext | None:
    """Build the context, offering the opt-in secrets file when no keychain
    exists. Returns None when the user gives up (the reason was shown)."""
    while True:
        try:
            return build_context(paths, prompt=lambda creating: ask_passphrase(None, creating))
        except KeychainUnavailable as exc:
            choice = QMessageBox.question(
                None, APP_DISPLAY_NAME,
                f"{exc}\n\nUse a passphrase-protected secrets file in "
                f"{paths.config_dir} instead?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if choice != QMessageBox.StandardButton.Yes:
                return None
            Settings.load(paths.settings_file, {}).updated({"security.secret_backend": "file"})
        except STARTUP_ERRORS as exc:
            QMessageBox.critical(None, APP_DISPLAY_NAME, str(exc))
            return None


def install_crash_handlers(registry: SecretRegistry, parent: Callable[[], QWidget | None]) -> None:
    """Uncaught exceptions are logged (redacted) and shown in a dialog
    instead of killing the app silently."""

    def show(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        text = redact("".join(traceback.format_exception(kind, value, tb)), registry)
        log.critical("uncaught exception\n%s", text)
        app = QApplication.instance()
        if app is None or QThread.currentThread() != app.thread():
            return
        box = QMessageBox(parent())
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle(f"{APP_DISPLAY_NAME} — unexpected error")
        box.setText(redact(f"{kind.__name__}: {value}", registry))
        box.setInformativeText("The error was logged. Your stored data is unchanged.")
        box.setDetailedText(text)
        box.exec()

    sys.excepthook = show
    threading.excepthook = lambda args: log.critical(
        "uncaught exception in thread %s\n%s", args.thread.name if args.thread else "?",
        redact("".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                  args.exc_traceback)), registry))


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


# The former name, still imported by bench_backup and bench_health.
tune_garbage_collector = tune_interpreter


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
    """The window and its scheduler. ``jobs_later``: the scheduler starts
    empty and :func:`schedule_window_jobs` fills it (after the first frame:
    building the health services for its jobs is work the frame does not need)."""
    # Scheduled jobs get their own pool: a long sync never starves the pages'
    # loads, and stopping the scheduler waits for jobs only.
    job_pool: QThreadPool | Any = pool
    if isinstance(pool, QThreadPool):
        job_pool = QThreadPool()
        job_pool.setMaxThreadCount(2)
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    alerts_bridge = AlertNotices()
    scheduler = build_scheduler(ctx, StoreSessionPool(job_pool, ctx.store), hubspot,
                                desktop=alerts_bridge.post, with_jobs=not jobs_later)
    window = MainWindow(ctx, scheduler, runner, hubspot=hubspot, hubspot_later=hubspot_later)
    alerts_bridge.setParent(window)
    alerts_bridge.posted.connect(window.show_alert)
    scheduler.setParent(window)
    window.job_pool = job_pool           # keeps the pool alive as long as the window
    return window


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


INTERRUPT_POLL_MS = 200


def quit_on_interrupt(quit_app: Callable[[], None], parent: QObject) -> QTimer:
    """Ctrl-C in the terminal quits as File → Quit does (jobs stopped, layout
    saved). Python runs signal handlers only between its own bytecodes, and the
    event loop waits in C++: a timer hands the interpreter control a few times
    a second so the handler runs."""
    def interrupted(signum: int, frame: Any) -> None:
        log.info("interrupted from the terminal; quitting")
        quit_app()

    signal.signal(signal.SIGINT, interrupted)
    wake = QTimer(parent, interval=INTERRUPT_POLL_MS)
    wake.timeout.connect(lambda: None)
    wake.start()
    return wake


def run_gui(data_dir: str | None = None, *, minimized: bool = False) -> int:
    """Open the app on ``data_dir``; ``minimized`` starts it in the tray (the
    login entry's --minimized), where the platform has a tray."""
    if QCoreApplication.instance() is None:
        # QtWebEngine (the sign-in view, loaded later) shares OpenGL contexts.
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_DISPLAY_NAME)
    app.setOrganizationName("WorkflowGuard")
    app.setWindowIcon(app_icon())
    # Matches the window to resources/<APP_ID>.desktop (Wayland app id, launchers).
    app.setDesktopFileName(APP_ID)
    # The tray keeps the app (and its backups) alive when the window closes.
    app.setQuitOnLastWindowClosed(False)
    paths = Paths.resolve(data_dir)
    # One window per data folder: a second launch brings the first forward
    # and stops before it opens the store.
    guard = SingleInstance(paths.data_dir)
    try:
        claimed = guard.claim()
    except OSError as exc:
        QMessageBox.critical(None, APP_DISPLAY_NAME, str(exc))
        return 1
    if not claimed:
        if guard.hand_over():
            log.info("%s is already open in another window; brought it forward", paths.data_dir)
            return 0
        QMessageBox.critical(None, APP_DISPLAY_NAME, guard.not_answering())
        return 1
    ctx = open_context(paths)
    if ctx is None:
        return 1
    configure_logging(paths, ctx.settings, ctx.registry)
    pool = QThreadPool.globalInstance()
    # A read-only store (read-only folder, damaged file) is browsed offline:
    # no HubSpot calls (their records and budgets are writes) and no
    # scheduled jobs; the window's banner says why.
    browsing_only = ctx.store.read_only
    smoke = smoke_requested(os.environ)
    # The HubSpot services (the client, the embedded demo portal) are made
    # after the first frame, which does not need them; the smoke run names
    # its target when it starts, so it has them made first.
    hubspot: HubSpotServices | None = None
    if smoke and not browsing_only:
        try:
            hubspot = build_services(ctx)
        except STARTUP_ERRORS as exc:
            QMessageBox.critical(None, APP_DISPLAY_NAME, str(exc))
            ctx.close()
            return 1

    def services_later() -> HubSpotServices | None:
        try:
            return build_services(ctx)
        except STARTUP_ERRORS as exc:
            QMessageBox.critical(window, APP_DISPLAY_NAME, str(exc))
            QTimer.singleShot(0, window.quit)
            return None

    window = create_main_window(ctx, pool, hubspot, jobs_later=True,
                                hubspot_later=None if browsing_only or hubspot is not None
                                else services_later)
    install_crash_handlers(ctx.registry, lambda: window)
    guard.activated.connect(lambda: bring_forward(window))
    if window.tray is None:
        app.setQuitOnLastWindowClosed(True)
    app.aboutToQuit.connect(window.scheduler.stop)
    quit_on_interrupt(window.quit, window)
    # make dist-check's smoke run (WG_SMOKE_EXIT_AFTER_PAINT): report, then quit.
    watch_if_requested(window, window.hubspot, os.environ)
    # Hidden only when the tray can bring it back: without a tray a hidden
    # window could not be reached at all.
    if not (minimized and window.tray is not None):
        window.show()
    # After the first frame: run before it, these delayed it by ~0.5 s.
    # HubSpot first, then the jobs (the scheduler starts with them), the
    # pages not shown yet last.
    later: list[Callable[[], object]] = [
        window.ensure_hubspot, lambda: schedule_window_jobs(window, window.hubspot),
        lambda: reconcile_autostart_later(window)]
    if not browsing_only:
        later += [window.scheduler.start, lambda: connect_demo_portal(window, window.hubspot)
                  if window.hubspot is not None else None]
    later += [tune_interpreter, window.build_pages_when_idle]
    after_first_paint(window, later)
    try:
        return app.exec()
    finally:
        drained = pool.waitForDone(10_000) and window.job_pool.waitForDone(10_000)
        if drained:
            window.scheduler.store.close()
            if window.hubspot is not None:
                window.hubspot.close()
            ctx.close()
        else:
            # A worker is still inside an HTTP call: closing the store under it
            # could lose its last write. The process is exiting; leave it be.
            log.warning("background work did not finish within 10 s; exiting without "
                        "closing the database")
