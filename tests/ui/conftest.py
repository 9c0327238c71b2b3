from __future__ import annotations

import functools
import socket

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from wg_desktop.ui.jobs import SynchronousPool

if QCoreApplication.instance() is None:
    # QtWebEngine (the connect dialog's sign-in view) wants this before the app exists.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


@pytest.fixture
def window(qtbot, ctx):
    from wg_desktop.ui.app import create_main_window

    win = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.quitting = True
    win.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redirect_uri() -> str:
    """A loopback redirect URI on a free port (not the shared default 53682)."""
    return f"http://localhost:{free_port()}/oauth/callback"


@pytest.fixture
def demo(redirect_uri):
    from wg_desktop.demo.server import DemoConfig, DemoPortal

    config = DemoConfig(seed=11, workflows=6, extra_portals=1, burst_limit=10_000,
                        redirect_uris=(redirect_uri,))
    with DemoPortal(config) as portal:
        yield portal


@pytest.fixture
def hubspot(ctx, demo):
    from wg_desktop.services.hubspot_setup import build_hubspot_services

    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                      demo=demo)
    yield services
    services.clients.close()


@pytest.fixture
def runner(ctx):
    """The app's runner over a synchronous pool (results still arrive from the event loop)."""
    from wg_desktop.ui.app import StoreSessionPool
    from wg_desktop.ui.jobs import run_off_gui_thread

    return functools.partial(run_off_gui_thread,
                             pool=StoreSessionPool(SynchronousPool(), ctx.store))


@pytest.fixture
def hub_window(qtbot, ctx, hubspot):
    from wg_desktop.ui.app import create_main_window

    win = create_main_window(ctx, SynchronousPool(), hubspot)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.quitting = True
    win.close()


# -- driving the connect dialog's real web view --------------------------------------------

WEB_WAIT_MS = 20_000


def wait_for_consent_page(qtbot, dialog) -> None:
    """Until the consent page of the dialog's current request is fully loaded
    (asked of the page itself: the view's url changes before the old page goes)."""
    import json

    qtbot.waitUntil(lambda: dialog.view is not None and dialog.current_request is not None,
                    timeout=WEB_WAIT_MS)
    script = ("document.readyState === 'complete' && !!document.getElementById('allow') && "
              f"location.href.indexOf({json.dumps(dialog.current_request.state)}) >= 0")
    answers: list[bool] = []

    def ready() -> bool:
        if answers and answers[-1]:
            return True
        dialog.page.runJavaScript(script, 0, lambda value: answers.append(bool(value)))
        return False

    qtbot.waitUntil(ready, timeout=WEB_WAIT_MS)


def click_allow(dialog, portal_id: int | None = None) -> None:
    """What the admin does on the consent page: (choose a portal and) press Allow."""
    script = "document.getElementById('allow').click()"
    if portal_id is not None:
        script = f"document.getElementById('portal-{portal_id}').checked = true; " + script
    dialog.page.runJavaScript(script)


def delete_now(*widgets) -> None:
    """Really delete widgets (deleteLater alone waits for an event loop that may never
    run again): a web view left for interpreter exit outlives WebEngine's shutdown."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for widget in widgets:
        if widget is not None:
            widget.close()
            widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def open_settings_dialog(qtbot, window, open_it=None):
    """Open the window's settings dialog as the user does (``open_it``: a
    keystroke, say; the menu's action by default) and return it once shown
    (it opens after the stored-secret flags are read off the GUI thread)."""
    from wg_desktop.ui.settings_dialog import SettingsDialog

    (open_it or window.open_settings)()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(SettingsDialog)),
                    timeout=5000)
    return next(d for d in window.findChildren(SettingsDialog) if d.isVisible())
