"""The connect dialog against a real demo portal: the embedded web view (real
QtWebEngine, offscreen), the browser + loopback and paste fallbacks, and the
private-app token path."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QDialog, QLineEdit

from tests.support.demo import approve_in_browser
from tests.ui.conftest import click_allow, delete_now, wait_for_consent_page
from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.services.oauth_flow import same_endpoint
from wg_desktop.store.models import Portal, PortalStatus
from wg_desktop.ui.connect_dialog import (ConnectDialog, Navigation, SignInAllowlist,
                                          classify_navigation)

WAIT = 20_000


# -- helpers ----------------------------------------------------------------------------

@pytest.fixture
def redirect_spy(redirect_uri):
    """An HTTP server on the redirect URI's port that records every request: if the
    web view ever loaded the redirect, it would show up here."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", urlsplit(redirect_uri).port),
                                             Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def open_dialog(qtbot, hubspot, runner):
    """Opens connect dialogs and really deletes them afterwards: a web view left
    for interpreter exit outlives WebEngine's shutdown (its profile goes first)."""
    dialogs: list[ConnectDialog] = []

    def open_(tab: int | None = None) -> ConnectDialog:
        dialog = ConnectDialog(hubspot, runner)
        dialogs.append(dialog)
        if tab is not None:
            dialog.tabs.setCurrentIndex(tab)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    yield open_
    delete_now(*dialogs)


def token_entries(memory_keyring, hub_id: int | None = None) -> list[str]:
    """Token sets in the keychain (of one portal, or of any)."""
    return [value for (_, name), value in memory_keyring.entries.items()
            if "token" in name and (hub_id is None or str(hub_id) in name)]


def token_exchanges(demo) -> int:
    return sum(1 for e in demo.request_log() if e.method == "POST" and e.path.endswith("/token"))


def has_colour_near(image: QImage, colour: QColor, tolerance: int = 12) -> bool:
    for y in range(0, image.height(), 3):
        for x in range(0, image.width(), 3):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - colour.red()) <= tolerance
                    and abs(pixel.green() - colour.green()) <= tolerance
                    and abs(pixel.blue() - colour.blue()) <= tolerance):
                return True
    return False


# -- pure decisions -----------------------------------------------------------------------

@pytest.mark.parametrize("auth_base, url, main_frame, expected", [
    ("http://127.0.0.1:4000", "http://127.0.0.1:4000/oauth/authorize?x=1", True, Navigation.LOAD),
    ("http://127.0.0.1:4000", "http://127.0.0.1:4001/oauth/authorize", True, Navigation.BLOCK),
    ("http://127.0.0.1:4000", "https://example.com/", True, Navigation.BLOCK),
    ("http://127.0.0.1:4000", "https://example.com/frame", False, Navigation.LOAD),
    ("http://127.0.0.1:4000", "http://localhost:5000/cb?code=a&state=b", True, Navigation.ANSWER),
    ("http://127.0.0.1:4000", "http://localhost:5000/cb?code=a", False, Navigation.SWALLOW),
    ("https://app.hubspot.com", "https://app-eu1.hubspot.com/oauth/authorize", True,
     Navigation.LOAD),
    ("https://app.hubspot.com", "https://login.hubspot.com/", True, Navigation.LOAD),
    ("https://app.hubspot.com", "https://app-na2.hubspot.com/oauth/authorize", True,
     Navigation.LOAD),
    ("http://127.0.0.1:4000", "http://localhost:4000/oauth/authorize/approve", True,
     Navigation.LOAD),
    ("https://app.hubspot.com", "http://app.hubspot.com/", True, Navigation.BLOCK),
    ("https://app.hubspot.com", "https://app.hubspot.com.evil.example/", True, Navigation.BLOCK),
    ("https://app.hubspot.com", "https://accounts.google.com/", True, Navigation.BLOCK),
    ("http://127.0.0.1:4000", "https://app.hubspot.com/", True, Navigation.BLOCK),
])
def test_navigation_rules(auth_base, url, main_frame, expected):
    allowlist = SignInAllowlist(auth_base)
    assert classify_navigation(url, main_frame, "http://localhost:5000/cb", allowlist) \
        is expected


# -- embedded web view ------------------------------------------------------------------------

def test_embedded_sign_in_intercepts_the_redirect_and_connects(
        qtbot, open_dialog, demo, redirect_uri, redirect_spy, memory_keyring, tmp_path):
    dialog = open_dialog()
    assert dialog.demo_label.isVisible() and "demo portal" in dialog.demo_label.text()
    wait_for_consent_page(qtbot, dialog)
    assert dialog.profile.isOffTheRecord()
    request = dialog.current_request
    shown = urlsplit(dialog.view.url().toString())
    query = {k: v[0] for k, v in parse_qs(shown.query).items()}
    assert query["state"] == request.state
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == request.code_challenge
    assert query["scope"].split() == list(OAUTH_SCOPES)
    qtbot.waitUntil(lambda: not dialog.load_progress.isVisible(), timeout=WAIT)

    # The screenshot shows the dialog with the demo's page rendered inside it
    # (the orange Allow button is the proof that the web content was painted).
    qtbot.waitUntil(lambda: has_colour_near(dialog.grab().toImage(), QColor("#ff7a59")),
                    timeout=WAIT)
    shot = tmp_path / "connect-dialog.png"
    assert dialog.grab().save(str(shot))
    shutil.copy(shot, "/tmp/connect-dialog.png")
    assert shot.stat().st_size > 20_000
    assert not has_colour_near(QImage(str(shot)).copy(0, 200, 40, 40), QColor("#ff7a59"))

    urls: list[str] = []
    dialog.view.urlChanged.connect(lambda url: urls.append(url.toString()))
    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        click_allow(dialog)
    hub_id = demo.portal_ids[0]
    assert connected.args == [hub_id]
    assert dialog.result() == QDialog.DialogCode.Accepted

    portal = Portal.get(Portal.hub_id == hub_id)
    assert portal.status == PortalStatus.CONNECTED and portal.auth_kind == "oauth"
    [stored] = token_entries(memory_keyring, hub_id)
    tokens = json.loads(stored)
    assert tokens["access_token"] and tokens["refresh_token"]
    # The redirect was intercepted: never requested, never the page shown.
    assert redirect_spy == []
    assert not any(same_endpoint(url, redirect_uri) for url in urls)
    assert not same_endpoint(dialog.view.url().toString(), redirect_uri)


def test_forged_state_and_foreign_sites_are_refused(
        qtbot, open_dialog, demo, redirect_uri, redirect_spy, memory_keyring):
    dialog = open_dialog()
    wait_for_consent_page(qtbot, dialog)
    request = dialog.current_request

    dialog.page.runJavaScript(f"window.location.href = '{redirect_uri}?code=x&state=forged'")
    qtbot.waitUntil(lambda: "state mismatch" in dialog.message_text(), timeout=WAIT)
    assert "refused" in dialog.message_text()
    assert Portal.select().count() == 0 and token_entries(memory_keyring) == []
    assert token_exchanges(demo) == 0
    assert redirect_spy == []

    dialog.view.setUrl(QUrl("https://example.com/"))
    qtbot.waitUntil(dialog.handoff_bar.isVisible, timeout=WAIT)
    assert "Sign-in continues at <b>example.com</b>" in dialog.handoff_label.text()
    dialog.handoff_bar.hide()
    dialog.page.runJavaScript("window.location.href = 'https://example.com/phish'")
    qtbot.waitUntil(dialog.handoff_bar.isVisible, timeout=WAIT)
    assert urlsplit(dialog.view.url().toString()).netloc == urlsplit(demo.base_url).netloc

    # The forged answer did not spend the real request: Allow still connects.
    assert dialog.current_request is request
    with qtbot.waitSignal(dialog.connected, timeout=WAIT):
        click_allow(dialog)
    assert Portal.get(Portal.hub_id == demo.portal_ids[0]).status == PortalStatus.CONNECTED
    assert redirect_spy == []


def test_portal_without_workflows_is_refused_and_a_fresh_attempt_starts(
        qtbot, open_dialog, demo, memory_keyring):
    dialog = open_dialog()
    wait_for_consent_page(qtbot, dialog)
    first = dialog.current_request
    starter = demo.portal_ids[1]
    click_allow(dialog, starter)
    qtbot.waitUntil(lambda: "Professional or Enterprise" in dialog.message_text(), timeout=WAIT)
    assert "not connected" in dialog.message_text()
    assert Portal.get_or_none(Portal.hub_id == starter) is None
    assert token_entries(memory_keyring, starter) == []
    # A new one-time request (new state and verifier) is loaded at once.
    fresh = dialog.current_request
    assert fresh is not first and fresh.state != first.state
    assert fresh.code_verifier != first.code_verifier
    wait_for_consent_page(qtbot, dialog)
    assert fresh.state in dialog.view.url().toString()
    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        click_allow(dialog)
    assert connected.args == [demo.portal_ids[0]]


def test_declining_on_the_consent_page_starts_a_fresh_attempt(qtbot, open_dialog, demo):
    dialog = open_dialog()
    wait_for_consent_page(qtbot, dialog)
    first = dialog.current_request
    dialog.page.runJavaScript("document.getElementById('deny').click()")
    qtbot.waitUntil(lambda: "did not authorize" in dialog.message_text(), timeout=WAIT)
    assert "declined" in dialog.message_text()
    assert dialog.current_request is not first          # the declined request is spent
    wait_for_consent_page(qtbot, dialog)
    assert Portal.select().count() == 0 and token_exchanges(demo) == 0


def test_a_sign_in_page_that_cannot_load_is_reported(qtbot, ctx, demo, runner, redirect_uri):
    from tests.ui.conftest import free_port
    from wg_desktop.services.connection import OAuthApp
    from wg_desktop.services.hubspot_setup import build_hubspot_services

    unreachable = f"http://127.0.0.1:{free_port()}"        # nothing listens there
    app = OAuthApp(demo.client_id, demo.client_secret, redirect_uri, unreachable)
    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, app=app,
                                      api_base=demo.base_url)
    dialog = ConnectDialog(services, runner)
    try:
        assert not dialog.demo_label.isVisibleTo(dialog)    # not the demo's sign-in
        dialog.show()
        qtbot.waitUntil(lambda: "Could not load the sign-in page" in dialog.message_text(),
                        timeout=WAIT)
        assert "Start over" in dialog.message_text()
        assert not dialog.load_progress.isVisible()
    finally:
        delete_now(dialog)
        services.clients.close()


# -- browser fallbacks (no web view) ---------------------------------------------------------

def test_browser_sign_in_returns_through_the_loopback(qtbot, open_dialog, demo,
                                                       monkeypatch, memory_keyring):
    dialog = open_dialog(ConnectDialog.BROWSER)
    answers: list[int] = []

    def browser(url: QUrl) -> bool:
        request = dialog.current_request
        assert url == QUrl(request.url)

        def person() -> None:
            location = approve_in_browser(request)
            answers.append(httpx.get(location, timeout=10).status_code)
        threading.Thread(target=person, daemon=True).start()
        return True

    monkeypatch.setattr("wg_desktop.ui.connect_dialog.QDesktopServices.openUrl", browser)
    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        dialog.open_browser_button.click()
    assert connected.args == [demo.portal_ids[0]]
    assert answers == [200]              # the browser was told it can close the tab
    assert dialog.view is None           # the web view was never needed
    assert token_entries(memory_keyring, demo.portal_ids[0])


def test_pasted_answer_connects_once_when_the_loopback_port_is_taken(
        qtbot, open_dialog, demo, redirect_uri, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr("wg_desktop.ui.connect_dialog.QDesktopServices.openUrl",
                        lambda url: opened.append(url) or True)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", urlsplit(redirect_uri).port))
    blocker.listen()
    try:
        dialog = open_dialog(ConnectDialog.BROWSER)
        dialog.paste_edit.setText(f"{redirect_uri}?code=abc&state=x")
        dialog.paste_button.click()
        assert "Start the sign-in first" in dialog.message_text()

        dialog.open_browser_button.click()
        request = dialog.current_request
        qtbot.waitUntil(lambda: "paste" in dialog.browser_status.text(), timeout=WAIT)
        assert "Cannot listen" in dialog.browser_status.text()
        assert opened == [QUrl(request.url)]
        assert dialog.auth_url_edit.text() == request.url

        # A pasted answer that belongs to another request is refused.
        dialog.paste_edit.setText(f"{redirect_uri}?code=abc&state=forged")
        dialog.paste_button.click()
        assert "state mismatch" in dialog.message_text()
        assert token_exchanges(demo) == 0

        location = approve_in_browser(request)
        dialog.paste_edit.setText(location)
        with qtbot.waitSignal(dialog.connected, timeout=WAIT):
            dialog.paste_button.click()
        assert Portal.get(Portal.hub_id == demo.portal_ids[0]).auth_kind == "oauth"

        # The same answer again (a replayed redirect) is refused without an exchange.
        dialog.paste_edit.setText(location)
        dialog.paste_button.click()
        assert "already answered" in dialog.message_text()
        assert token_exchanges(demo) == 1
    finally:
        blocker.close()


# -- private app token ---------------------------------------------------------------------

def test_private_app_token_is_checked_before_it_is_stored(qtbot, open_dialog, demo,
                                                          memory_keyring):
    dialog = open_dialog(ConnectDialog.PRIVATE_APP)
    assert dialog.token_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.view is None

    dialog.token_edit.setText("pat-na1-demo-not-a-real-token-0000")
    dialog.token_button.click()
    qtbot.waitUntil(lambda: "rejected the token" in dialog.message_text(), timeout=WAIT)

    starter = demo.portal_ids[1]
    dialog.token_edit.setText(demo.private_app_token(starter))
    dialog.token_button.click()
    qtbot.waitUntil(lambda: "Professional or Enterprise" in dialog.message_text(),
                    timeout=WAIT)
    assert Portal.select().count() == 0 and token_entries(memory_keyring) == []

    hub_id = demo.portal_ids[0]
    dialog.token_edit.setText(demo.private_app_token(hub_id))
    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        dialog.token_button.click()
    assert connected.args == [hub_id]
    portal = Portal.get(Portal.hub_id == hub_id)
    assert portal.auth_kind == "private_app" and portal.status == PortalStatus.CONNECTED
    [stored] = token_entries(memory_keyring, hub_id)
    assert json.loads(stored)["refresh_token"] is None
    assert dialog.token_edit.text() == ""
