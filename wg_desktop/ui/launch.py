"""Starting the GUI: the window first, the data behind it.

The window paints before the data folder is opened: the keychain (D-Bus
round trips on Linux, and a prompt when the keychain is locked), the
encrypted database and its check, and the services over them take longer
than the window itself, and none of it belongs on the GUI thread. So
:func:`run_gui` shows the main window at once ("Opening your data…"), opens
the context on a worker (:class:`DataOpener`), asks on the GUI thread when
the worker needs the user (no keychain, the secrets file's passphrase), and
then hands the window its data (``ui/app.open_window_data``).

This module imports only what the first frame needs; the store, the keychain
and the services load on the worker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox, QWidget

from wg_desktop.config import SettingError, Settings
from wg_desktop.constants import APP_DISPLAY_NAME, APP_ID
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.ui.first_paint import after_first_paint
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.main_window import MainWindow
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.single_instance import SingleInstance, bring_forward
from wg_desktop.ui.smoke import fail_if_data_never_opens, smoke_requested, watch_if_requested

if TYPE_CHECKING:
    from wg_desktop.context import AppContext
    from wg_desktop.services.hubspot_setup import HubSpotServices

log = logging.getLogger(__name__)


def startup_errors() -> tuple[type[BaseException], ...]:
    """What stops the app with a message for the user (each says why and
    what to do), as opposed to a bug."""
    from wg_desktop.context import InstanceBusy, SetupError
    from wg_desktop.security.keys import DatabaseKeyMissing
    from wg_desktop.security.secrets import WrongPassphrase
    from wg_desktop.store.db import StoreError

    return (SettingError, SetupError, InstanceBusy, DatabaseKeyMissing, StoreError,
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


class PassphraseNeeded(Exception):
    """Raised on the worker when the secrets file needs its passphrase: the
    GUI thread asks for it and opens the data again."""

    def __init__(self, creating: bool) -> None:
        super().__init__("the secrets file needs its passphrase")
        self.creating = creating


class DataOpener(QObject):
    """Opens the data folder (``build_context``) on a worker thread.

    ``opened(ctx)`` runs on the GUI thread with the context; ``failed(message)``
    when the user gave up or the folder cannot be opened (the reason was
    shown in a dialog). A context made after the window is gone is kept in
    :attr:`context` so the teardown still closes it."""

    def __init__(self, paths: Paths, settings: Settings, registry: SecretRegistry,
                 window: QWidget, opened: Callable[[AppContext], None],
                 failed: Callable[[str], None], pool: QThreadPool | None = None) -> None:
        super().__init__(window)
        self.paths = paths
        self.settings = settings
        self.registry = registry
        self.window = window
        self._opened = opened
        self._failed = failed
        self._pool = pool
        self._passphrase: str | None = None
        self._asked = False
        self._use_secrets_file = False      # the user accepted it: the worker switches
        self.context: AppContext | None = None

    def start(self) -> None:
        run_off_gui_thread(self._open, on_result=self._done, on_error=self._error,
                           pool=self._pool)

    def _open(self) -> AppContext:
        from wg_desktop.context import build_context

        if self._use_secrets_file:
            self._use_secrets_file = False
            self.settings.updated({"security.secret_backend": "file"})
        ctx = build_context(self.paths, settings=self.settings, registry=self.registry,
                            prompt=self._prompt)
        self.context = ctx
        # A pooled worker must not keep a connection (see Store.session): the
        # window's reads open their own.
        ctx.store.end_thread_connection()
        return ctx

    def _prompt(self, creating: bool) -> str | None:
        if not self._asked:
            raise PassphraseNeeded(creating)
        return self._passphrase

    def _done(self, ctx: AppContext) -> None:
        self._opened(ctx)

    def _error(self, error: BaseException) -> None:
        from wg_desktop.security.secrets import KeychainUnavailable

        if isinstance(error, PassphraseNeeded) and not self._asked:
            self._passphrase = ask_passphrase(self.window, error.creating)
            self._asked = True
            self.start()
            return
        if isinstance(error, KeychainUnavailable):
            choice = QMessageBox.question(
                self.window, APP_DISPLAY_NAME,
                f"{error}\n\nUse a passphrase-protected secrets file in "
                f"{self.paths.config_dir} instead?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if choice == QMessageBox.StandardButton.Yes:
                self._use_secrets_file = True
                self.start()
                return
            self._failed(str(error))
            return
        if isinstance(error, startup_errors()):
            self._give_up(str(error))
            return
        # A bug, not a situation the user can fix: logged (redacted: the
        # logging is not set up yet, so this goes to stderr) and shown once.
        log.error("could not open the data folder\n%s", redact("".join(
            traceback.format_exception(type(error), error, error.__traceback__)),
            self.registry))
        self._give_up(redact(f"The data folder could not be opened: "
                             f"{type(error).__name__}: {error}", self.registry))

    def _give_up(self, message: str) -> None:
        QMessageBox.critical(self.window, APP_DISPLAY_NAME, message)
        self._failed(message)


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
    try:
        settings = Settings.load(paths.settings_file, os.environ)
    except SettingError as exc:
        QMessageBox.critical(None, APP_DISPLAY_NAME, str(exc))
        return 1
    pool = QThreadPool.globalInstance()
    registry = SecretRegistry()
    install_crash_handlers(registry, lambda: window)

    def quit_with(code: int) -> None:
        window.quitting = True
        window.close()
        app.exit(code)

    def services_later() -> HubSpotServices | None:
        return services_or_quit(window, quit_with)

    window = MainWindow(paths, settings, hubspot_later=services_later)
    guard.activated.connect(lambda: bring_forward(window))
    if window.tray is None:
        app.setQuitOnLastWindowClosed(True)
    quit_on_interrupt(window.quit, window)

    def opened(ctx: AppContext) -> None:
        if not open_window(window, ctx, pool, services_later):
            quit_with(1)

    def failed(message: str) -> None:
        window.data_failed(message)
        quit_with(1)

    opener = DataOpener(paths, settings, registry, window, opened, failed, pool)
    fail_if_data_never_opens(window, quit_with, os.environ)
    # Hidden only when the tray can bring it back: without a tray a hidden
    # window could not be reached at all.
    if not (minimized and window.tray is not None):
        window.show()
    after_first_paint(window, [opener.start])
    try:
        return app.exec()
    finally:
        job_pool = window.job_pool
        drained = pool.waitForDone(10_000) and (job_pool is None
                                                or job_pool.waitForDone(10_000))
        if drained:
            if window.scheduler is not None:
                window.scheduler.store.close()
            if window.hubspot is not None:
                window.hubspot.close()
            if opener.context is not None:
                opener.context.close()
        else:
            # A worker is still inside an HTTP call: closing the store under it
            # could lose its last write. The process is exiting; leave it be.
            log.warning("background work did not finish within 10 s; exiting without "
                        "closing the database")


def services_or_quit(window: MainWindow, quit_with: Callable[[int], None]
                     ) -> HubSpotServices | None:
    """The window's HubSpot services, made when first needed; when they
    cannot be (the demo portal's port, a setting), the reason is shown and
    the app ends with status 1."""
    from wg_desktop.ui.app import build_services

    try:
        return build_services(window.ctx)
    except startup_errors() as exc:
        QMessageBox.critical(window, APP_DISPLAY_NAME, str(exc))
        QTimer.singleShot(0, lambda: quit_with(1))
        return None


def open_window(window: MainWindow, ctx: AppContext, pool: QThreadPool,
                services_later: Callable[[], HubSpotServices | None]) -> bool:
    """The data is open: logging, the window's scheduler and pages, then what
    can wait until the Overview has painted. False when the smoke run's
    HubSpot services could not be made (the reason was shown)."""
    from wg_desktop.logging_setup import configure_logging
    from wg_desktop.ui.app import (build_services, connect_demo_portal, open_window_data,
                                   reconcile_autostart_later, schedule_window_jobs,
                                   tune_interpreter)

    configure_logging(ctx.paths, ctx.settings, ctx.registry)
    # A read-only store (read-only folder, damaged file) is browsed offline:
    # no HubSpot calls (their records and budgets are writes) and no
    # scheduled jobs; the window's banner says why.
    browsing_only = ctx.store.read_only
    # The HubSpot services (the client, the embedded demo portal) are made
    # after the Overview's first frame; the smoke run names its target when
    # it starts, so it has them made first.
    hubspot: HubSpotServices | None = None
    if smoke_requested(os.environ) and not browsing_only:
        try:
            hubspot = build_services(ctx)
        except startup_errors() as exc:
            QMessageBox.critical(window, APP_DISPLAY_NAME, str(exc))
            return False
    open_window_data(window, ctx, pool, hubspot,
                     hubspot_later=None if browsing_only or hubspot is not None
                     else services_later)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(window.scheduler.stop)
    # make dist-check's smoke run (WG_SMOKE_EXIT_AFTER_PAINT): report, then quit.
    watch_if_requested(window, window.hubspot, os.environ)
    # After the Overview's first frame: HubSpot first, then the jobs (the
    # scheduler starts with them), the pages not shown yet last.
    later: list[Callable[[], object]] = [
        window.ensure_hubspot, lambda: schedule_window_jobs(window, window.hubspot),
        lambda: reconcile_autostart_later(window)]
    if not browsing_only:
        later += [window.scheduler.start, lambda: connect_demo_portal(window, window.hubspot)
                  if window.hubspot is not None else None]
    later += [tune_interpreter, window.build_pages_when_idle]
    overview = window.built_page("Overview")
    if overview is None:
        after_first_paint(window, later)
    else:
        after_first_load(overview, later)
    return True


# The longest the deferred start-up work waits for the Overview's first load.
FIRST_LOAD_WAIT_MS = 3_000


def after_first_load(overview: Any, calls: list[Callable[[], object]]) -> None:
    """Run ``calls`` once the Overview has shown its first load (or could
    not read it), after that frame: making the HubSpot services and the
    garbage-collector freeze hold the GUI thread, and the jobs' threads the
    GIL, which would hold back the very frame the user is waiting for. A
    load that takes longer than :data:`FIRST_LOAD_WAIT_MS` does not hold
    them back either."""
    if not overview.isVisible():        # started in the tray: it loads when shown
        after_first_paint(overview, calls)
        return
    started = False

    def start(*_: object) -> None:
        nonlocal started
        if started:
            return
        started = True
        overview.loaded.disconnect(start)
        after_first_paint(overview, calls)
        overview.update()     # a frame comes even when nothing changed (a load given up on)

    overview.loaded.connect(start)
    QTimer.singleShot(FIRST_LOAD_WAIT_MS, overview, start)
