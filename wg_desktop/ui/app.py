"""Starting the GUI: the application object, the context (with the keychain
fallback offer), logging, the crash dialog, the scheduler and the window."""

from __future__ import annotations

import functools
import gc
import logging
import signal
import sys
import threading
import traceback
from typing import Any, Callable

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
from wg_desktop.demo.embedded import start_demo_portal
from wg_desktop.services.hubspot_setup import (HubSpotServices, build_hubspot_services,
                                               ensure_demo_portal_connected, wants_demo)
from wg_desktop.services.backups import BackupService, Trigger
from wg_desktop.services.alerts import HealthServices, build_health_services
from wg_desktop.services.health import check_summary
from wg_desktop.services.job_runs import WriteBehindJobRunStore
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.services.schedule import DailyAt, Interval, JobSpec
from wg_desktop.store.db import Store, StoreError
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.main_window import MainWindow
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.scheduler import JobScheduler
from wg_desktop.ui.single_instance import SingleInstance, bring_forward

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
    def run(cancel: Any, progress: Any) -> str:
        info = BackupService.from_context(ctx).backup_now(Trigger.SCHEDULED)
        return f"Backed up to {info.path.name} ({info.size:,} bytes, verified)"
    return run


def health_job(health: HealthServices) -> Callable[..., str]:
    """Every portal's health check; its samples feed the alerts."""
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


def build_scheduler(ctx: AppContext, pool: QThreadPool | Any,
                    hubspot: HubSpotServices | None = None,
                    desktop: Callable[[Any], None] | None = None) -> JobScheduler:
    hours, minutes = (int(p) for p in str(ctx.settings.get("schedule.retention_time")).split(":"))
    specs = [(JobSpec("retention", DailyAt(hours, minutes), "Retention cleanup"),
              retention_job(ctx))]
    if hubspot is not None:
        every = Interval(int(ctx.settings.get("schedule.token_refresh_interval")))
        specs.append((JobSpec("token-refresh", every, "Token refresh check"),
                      token_refresh_job(hubspot)))
        if ctx.settings.feature_enabled("realtime_sync"):
            every = Interval(int(ctx.settings.get("schedule.sync_interval")))
            specs.append((JobSpec("sync", every, "Workflow sync (all portals)"),
                          sync_job(hubspot)))
        every = Interval(int(ctx.settings.get("schedule.health_check_interval")))
        specs.append((JobSpec("health", every, "Health check (all portals)"),
                      health_job(build_health_services(ctx.settings, ctx.store, ctx.audit,
                                                       hubspot, desktop=desktop))))
    if ctx.settings.feature_enabled("automatic_backups") and not ctx.store.read_only:
        every = Interval(int(ctx.settings.get("schedule.backup_interval")))
        specs.append((JobSpec("backup", every, "Automatic backup"), backup_job(ctx)))
    scheduler = JobScheduler(WriteBehindJobRunStore(ctx.job_runs), pool=pool)
    for spec, fn in specs:
        scheduler.register(spec, fn)
    return scheduler


def tune_garbage_collector() -> None:
    """Called once the window is up. A full collection holds the GIL for as
    long as it takes to walk every tracked object — 40-60 ms with a sync's
    parsed batches in memory — and the GUI thread stalls for all of it.
    Freezing what start-up built (modules, Qt wrappers, the demo portal's data)
    takes it out of every later collection, and a larger first threshold makes
    collections rarer during a sync's bursts of short-lived dicts."""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 5_000), gen1, gen2)


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
                       hubspot: HubSpotServices | None = None) -> MainWindow:
    # Scheduled jobs get their own pool: a long sync never starves the pages'
    # loads, and stopping the scheduler waits for jobs only.
    job_pool: QThreadPool | Any = pool
    if isinstance(pool, QThreadPool):
        job_pool = QThreadPool()
        job_pool.setMaxThreadCount(2)
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    alerts_bridge = AlertNotices()
    scheduler = build_scheduler(ctx, StoreSessionPool(job_pool, ctx.store), hubspot,
                                desktop=alerts_bridge.post)
    window = MainWindow(ctx, scheduler, runner, hubspot=hubspot)
    alerts_bridge.setParent(window)
    alerts_bridge.posted.connect(window.show_alert)
    scheduler.setParent(window)
    window.job_pool = job_pool           # keeps the pool alive as long as the window
    window.jobs_page.refresh()
    return window


def build_services(ctx: AppContext) -> HubSpotServices:
    """HubSpot or, when asked for (or nothing is configured), the demo portal in-process."""
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
        QMessageBox.critical(None, APP_DISPLAY_NAME,
                             f"{APP_DISPLAY_NAME} is already running on {paths.data_dir} "
                             "but does not answer. Close it (or end its process) and try again.")
        return 1
    ctx = open_context(paths)
    if ctx is None:
        return 1
    configure_logging(paths, ctx.settings, ctx.registry)
    # The login entry follows the setting in force, even one set only in the
    # environment or the settings file (a few bytes of one small file).
    SettingsService(ctx.settings, ctx.secrets, ctx.audit).reconcile_autostart()
    pool = QThreadPool.globalInstance()
    # A read-only store (read-only folder, damaged file) is browsed offline:
    # no HubSpot calls (their records and budgets are writes) and no
    # scheduled jobs; the window's banner says why.
    browsing_only = ctx.store.read_only
    try:
        hubspot = None if browsing_only else build_services(ctx)
    except STARTUP_ERRORS as exc:
        QMessageBox.critical(None, APP_DISPLAY_NAME, str(exc))
        ctx.close()
        return 1
    window = create_main_window(ctx, pool, hubspot)
    install_crash_handlers(ctx.registry, lambda: window)
    guard.activated.connect(lambda: bring_forward(window))
    if window.tray is None:
        app.setQuitOnLastWindowClosed(True)
    app.aboutToQuit.connect(window.scheduler.stop)
    quit_on_interrupt(window.quit, window)
    # Hidden only when the tray can bring it back: without a tray a hidden
    # window could not be reached at all.
    if not (minimized and window.tray is not None):
        window.show()
    if not browsing_only:
        QTimer.singleShot(0, window.scheduler.start)
        QTimer.singleShot(0, lambda: connect_demo_portal(window, hubspot))
    QTimer.singleShot(0, window.audit_page.reload)
    QTimer.singleShot(0, tune_garbage_collector)
    try:
        return app.exec()
    finally:
        drained = pool.waitForDone(10_000) and window.job_pool.waitForDone(10_000)
        if drained:
            window.scheduler.store.close()
            if hubspot is not None:
                hubspot.close()
            ctx.close()
        else:
            # A worker is still inside an HTTP call: closing the store under it
            # could lose its last write. The process is exiting; leave it be.
            log.warning("background work did not finish within 10 s; exiting without "
                        "closing the database")
