"""The packaged app's smoke check: open the window, paint it once, report, quit.

``WG_SMOKE_EXIT_AFTER_PAINT=1 wg-desktop [--data-dir DIR]`` starts the real
GUI path (settings, keychain, store, HubSpot or the demo portal, scheduler,
main window). After the main window's first painted frame it loads a page in
the sign-in dialog's own QtWebEngine view (the part of a bundle most likely to
be missing: its helper process, its .pak resources), prints what it showed on
stdout and quits through the window's normal close path. Exit status 0 only
when the window painted and the web view loaded; otherwise 1 and one line
``smoke: FAILED ...`` on stderr.

Used by ``make dist-check`` on the PyInstaller bundle and documented in
packaging/README.md. Nothing else reads the variable.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Mapping, TextIO

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

SMOKE_ENV = "WG_SMOKE_EXIT_AFTER_PAINT"
PAINT_TIMEOUT_MS = 60_000
WEB_VIEW_TIMEOUT_MS = 30_000
PROBE_TITLE = "wg-desktop smoke"
_PROBE_HTML = f"<html><head><title>{PROBE_TITLE}</title></head><body>ok</body></html>"


def smoke_requested(environ: Mapping[str, str]) -> bool:
    return environ.get(SMOKE_ENV, "").strip() not in ("", "0")


def watch_if_requested(window: QWidget, hubspot: Any,
                       environ: Mapping[str, str]) -> "SmokeRun | None":
    """Called by run_gui with the window it opened: the smoke check when asked for."""
    if not smoke_requested(environ):
        return None
    from wg_desktop.services.hubspot_setup import describe_target

    target = describe_target(hubspot) if hubspot is not None else "no HubSpot (browsing only)"
    return SmokeRun(window, target)


def fail_if_data_never_opens(window: Any, quit_with: Callable[[int], None],
                             environ: Mapping[str, str], err: TextIO | None = None,
                             timeout_ms: int = PAINT_TIMEOUT_MS) -> None:
    """Smoke runs only: a data folder that does not open in time (a bundle
    without SQLCipher, a start-up error waiting in a dialog nobody will
    answer) fails the run in one line instead of leaving it hanging."""
    if not smoke_requested(environ):
        return

    def check() -> None:
        if window.ctx is None:
            print(f"smoke: FAILED: the data folder did not open within "
                  f"{timeout_ms / 1000:.0f} s", file=err or sys.stderr, flush=True)
            quit_with(1)

    QTimer.singleShot(timeout_ms, window, check)


def create_probe_view(parent: QWidget) -> tuple[Any, Any, Any]:
    """The sign-in dialog's web view, made the way the dialog makes it."""
    from wg_desktop.ui.connect_dialog import _create_web_view

    return _create_web_view(parent, lambda _url, _main_frame: True)


class SmokeRun(QObject):
    """Watches one window; reports and quits after its first painted frame."""

    def __init__(self, window: QWidget, describe_target: str,
                 make_view: Callable[[QWidget], tuple[Any, Any, Any]] = create_probe_view,
                 out: TextIO | None = None, err: TextIO | None = None,
                 paint_timeout_ms: int = PAINT_TIMEOUT_MS,
                 web_timeout_ms: int = WEB_VIEW_TIMEOUT_MS) -> None:
        super().__init__(window)
        self.window = window
        self.target = describe_target
        self.make_view = make_view
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.web_timeout_ms = web_timeout_ms
        self.exit_code: int | None = None
        self._painted = False
        self._holder: QWidget | None = None
        window.installEventFilter(self)
        window.update()     # a window that painted before its data paints again
        QTimer.singleShot(paint_timeout_ms, self, lambda: self._finish(
            f"the main window painted no frame within {paint_timeout_ms / 1000:.0f} s"))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() == QEvent.Type.Paint and not self._painted:
            self._painted = True
            # Reported after the paint returns: never quit from inside a paint event.
            QTimer.singleShot(0, self, self._after_paint)
        return False

    def _after_paint(self) -> None:
        window = self.window
        pages = [page.title for page in getattr(window, "pages", [])]
        nav = getattr(window, "nav", None)
        current = pages[nav.currentRow()] if nav is not None and pages else "?"
        self._say(f"smoke: painted '{window.windowTitle()}' {window.width()}x{window.height()} "
                  f"(device pixel ratio {window.devicePixelRatioF():g})")
        self._say(f"smoke: pages: {', '.join(pages) or 'none'}; showing {current}")
        self._say(f"smoke: talking to {self.target}")
        # The page icons are drawn by Qt's SVG image plugin: a bundle without
        # it would show blank icons, not fail, so the smoke check looks.
        blank = [title for row, title in enumerate(pages)
                 if nav is not None and nav.item(row).icon().isNull()]
        if blank:
            self._finish(f"page icons not drawn (SVG image plugin missing?): {', '.join(blank)}")
            return
        self._load_web_view()

    def _load_web_view(self) -> None:
        self._holder = QWidget()
        try:
            _profile, page, _view = self.make_view(self._holder)
        except Exception as exc:     # an import or library missing from the bundle
            self._finish(f"the sign-in view (QtWebEngine) cannot be created: "
                         f"{type(exc).__name__}: {exc}")
            return

        def loaded(ok: bool) -> None:
            if ok and page.title() == PROBE_TITLE:
                self._say("smoke: sign-in view (QtWebEngine) loaded a page")
                self._finish(None)
            else:
                self._finish(f"the sign-in view (QtWebEngine) did not load a page "
                             f"(ok={ok}, title {page.title()!r})")

        page.loadFinished.connect(loaded)
        QTimer.singleShot(self.web_timeout_ms, self, lambda: self._finish(
            f"the sign-in view (QtWebEngine) loaded nothing within "
            f"{self.web_timeout_ms / 1000:.0f} s"))
        page.setHtml(_PROBE_HTML)

    def _finish(self, problem: str | None) -> None:
        if self.exit_code is not None:
            return
        self.exit_code = 0 if problem is None else 1
        if problem is not None:
            print(f"smoke: FAILED: {problem}", file=self.err, flush=True)
        if self._holder is not None:
            self._holder.deleteLater()
        # The window's own quit path: jobs stopped, layout saved, tray hidden.
        self.window.quitting = True
        if self.window.close():
            app = QApplication.instance()
            if app is not None:
                app.exit(self.exit_code)

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)
