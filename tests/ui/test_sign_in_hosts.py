"""Sign-in across HubSpot's hosts: which hosts the embedded view may show, the
hand-off to the system browser when sign-in heads for an identity provider,
and a sign-in that passes through a second host of the demo portal."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from PySide6.QtCore import QUrl

from tests.support.demo import approve_in_browser
from tests.ui.conftest import delete_now, wait_for_consent_page
from wg_desktop.store.models import Portal, PortalStatus
from wg_desktop.ui.connect_dialog import ConnectDialog, SignInAllowlist, address_of

WAIT = 20_000
HUBSPOT = "https://app.hubspot.com"
DEMO = "http://127.0.0.1:4000"


@pytest.mark.parametrize("url", [
    "https://app.hubspot.com/oauth/authorize?client_id=x",
    "https://app-eu1.hubspot.com/oauth/authorize",
    "https://app-na2.hubspot.com/oauth/authorize",
    "https://app-ap1.hubspot.com/login",
    "https://login.hubspot.com/",
    "https://APP-NA2.HubSpot.com/",
    "https://app-na2.hubspot.com:443/x",
    "about:blank",
])
def test_hubspot_hosts_are_allowed(url):
    assert SignInAllowlist(HUBSPOT).allows(url)


@pytest.mark.parametrize("url", [
    "http://app.hubspot.com/",                      # downgrade to http
    "http://app-na2.hubspot.com/oauth/authorize",
    "https://app.hubspot.com:8443/",                # another port
    "https://hubspot.com.evil.io/",                 # look-alikes
    "https://app.hubspot.com.evil.io/oauth/authorize",
    "https://evilhubspot.com/",
    "https://app-hubspot.com/",
    "https://app.hubspot.com@evil.io/",             # user info, host is evil.io
    "https://accounts.google.com/o/oauth2/auth",
    "https://login.microsoftonline.com/common/oauth2",
    "https://appleid.apple.com/auth/authorize",
    "https://sso.example.com/saml",
    "http://127.0.0.1:4000/oauth/authorize",        # the demo is not part of HubSpot sign-in
    "https://app.hubspot.com:notaport/",
])
def test_everything_else_is_refused_at_hubspot(url):
    assert not SignInAllowlist(HUBSPOT).allows(url)


@pytest.mark.parametrize("url, allowed", [
    ("http://127.0.0.1:4000/oauth/authorize", True),
    ("http://localhost:4000/oauth/authorize/approve", True),   # the demo's second host
    ("http://localhost:4001/", False),                           # another local server
    ("https://127.0.0.1:4000/", False),
    ("https://app.hubspot.com/", False),
    ("https://accounts.google.com/", False),
])
def test_demo_allows_its_loopback_names_on_its_port(url, allowed):
    assert SignInAllowlist(DEMO).allows(url) is allowed


def test_address_bar_text_leaves_out_the_one_time_parameters():
    assert (address_of("https://app-na2.hubspot.com/oauth/authorize?state=s&code_challenge=c")
            == "https://app-na2.hubspot.com/oauth/authorize")


@pytest.fixture
def make_dialog(qtbot, hubspot, runner):
    dialogs: list[ConnectDialog] = []

    def make() -> ConnectDialog:
        dialog = ConnectDialog(hubspot, runner)
        dialogs.append(dialog)
        return dialog

    yield make
    delete_now(*dialogs)


def navigate(dialog, url: str) -> bool:
    """What the web engine asks the page before a link click in the main frame."""
    from PySide6.QtWebEngineCore import QWebEnginePage

    return dialog.page.acceptNavigationRequest(
        QUrl(url), QWebEnginePage.NavigationType.NavigationTypeLinkClicked, True)


@pytest.mark.parametrize("idp", ["accounts.google.com", "login.microsoftonline.com",
                                 "appleid.apple.com", "sso.example.com"])
def test_identity_provider_hop_continues_the_same_request_in_the_browser(
        qtbot, make_dialog, demo, monkeypatch, memory_keyring, idp):
    dialog = make_dialog()
    opened: list[str] = []
    answers: list[int] = []

    def browser(url: QUrl) -> bool:
        # The person finishes sign-in in their browser, which returns to the loopback.
        opened.append(url.toString())
        request = dialog.current_request

        def person() -> None:
            answers.append(httpx.get(approve_in_browser(request), timeout=10).status_code)
        threading.Thread(target=person, daemon=True).start()
        return True

    monkeypatch.setattr("wg_desktop.ui.connect_dialog.QDesktopServices.openUrl", browser)
    dialog.show()
    wait_for_consent_page(qtbot, dialog)
    assert dialog.address_bar.text() == f"{demo.base_url}/oauth/authorize"
    request = dialog.current_request
    assert not dialog.handoff_bar.isVisible()

    assert navigate(dialog, f"https://{idp}/signin?client=hubspot") is False
    qtbot.waitUntil(dialog.handoff_bar.isVisible, timeout=WAIT)
    text = dialog.handoff_label.text()
    assert f"Sign-in continues at <b>{idp}</b>" in text
    assert "does not allow embedded sign-in" in text
    assert dialog.handoff_button.text() == "Continue in your browser"
    assert dialog.address_bar.text() == f"{demo.base_url}/oauth/authorize"   # never left

    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        dialog.handoff_button.click()
    assert opened == [QUrl(request.url).toString()]          # the same request, not a new one
    assert dialog.current_request is request
    assert dialog.auth_url_edit.text() == request.url
    assert connected.args == [demo.portal_ids[0]]
    assert answers == [200]
    assert Portal.get(Portal.hub_id == demo.portal_ids[0]).status == PortalStatus.CONNECTED


def test_http_downgrade_of_a_hubspot_host_is_named_as_such(qtbot, make_dialog, demo):
    dialog = make_dialog()
    dialog.show()
    wait_for_consent_page(qtbot, dialog)
    assert navigate(dialog, "http://app.hubspot.com/login") is False
    qtbot.waitUntil(dialog.handoff_bar.isVisible, timeout=WAIT)
    assert "without encryption (http)" in dialog.handoff_label.text()


def test_demo_sign_in_through_a_second_host_completes(qtbot, make_dialog, demo, memory_keyring):
    dialog = make_dialog()
    decided: list[tuple[str, bool]] = []
    decide = dialog._decide_navigation

    def spy(url: str, main_frame: bool) -> bool:
        verdict = decide(url, main_frame)
        if main_frame:
            decided.append((url, verdict))
        return verdict

    # Before the view exists: the page asks whatever was given at its creation.
    dialog._decide_navigation = spy
    dialog.show()
    wait_for_consent_page(qtbot, dialog)
    first_host = QUrl(demo.base_url).host()
    second = "localhost" if first_host == "127.0.0.1" else "127.0.0.1"

    pid = demo.portal_ids[0]
    with qtbot.waitSignal(dialog.connected, timeout=WAIT) as connected:
        dialog.page.runJavaScript(f"document.getElementById('portal-{pid}').checked = true; "
                                  "document.getElementById('allow-regional').click()")
    assert connected.args == [pid]
    hops = [url for url, verdict in decided if verdict and QUrl(url).host() == second]
    assert hops and "/oauth/authorize/approve" in hops[0]       # went through the second host
    assert not dialog.handoff_bar.isVisible()
    assert Portal.get(Portal.hub_id == pid).status == PortalStatus.CONNECTED


def test_demo_refuses_to_continue_on_any_other_host(demo):
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        page = http.get(demo.authorize_url(state="s"))
        assert 'id="allow-regional"' in page.text
        request_id = re.search(r'name="request_id"[^>]*value="([^"]+)"', page.text).group(1)
        refused = http.post("/oauth/authorize/approve",
                            data={"request_id": request_id, "continue_on": "evil.example:80"})
        assert refused.status_code == 400
        port = QUrl(demo.base_url).port()
        other = "localhost" if QUrl(demo.base_url).host() == "127.0.0.1" else "127.0.0.1"
        hop = http.post("/oauth/authorize/approve",
                        data={"request_id": request_id, "continue_on": f"{other}:{port}"})
        assert hop.status_code == 302
        assert hop.headers["Location"].startswith(f"http://{other}:{port}/oauth/authorize/approve?")
        done = http.get(hop.headers["Location"])             # the second host approves once
        assert done.status_code == 302 and "code=" in done.headers["Location"]
        again = http.get(hop.headers["Location"])
        assert again.status_code == 400
