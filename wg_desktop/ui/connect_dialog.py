"""Connecting a HubSpot portal: the sign-in dialog.

Three ways in, all ending in ``ConnectionService`` (which validates the portal
before anything is stored):

* **Sign in here** — HubSpot's authorize page in an embedded web view with an
  off-the-record profile (no cookies or cache left on disk). The page object
  intercepts the navigation to the redirect URI: it is never loaded; its
  ``state`` is checked and the code exchanged (with the PKCE verifier) off the
  GUI thread. Main-frame navigation outside the sign-in hosts (any https
  ``*.hubspot.com``; for the demo, its loopback names) is refused; when sign-in
  heads for an identity provider, which refuses embedded views, one button
  carries the same request over to the system browser.
* **Use my browser** (RFC 8252) — the system browser opens the authorize URL
  and a one-shot loopback listener waits for the redirect; when it cannot
  listen, the admin pastes the address the browser ended on (or the code).
* **Private app token** — validated before it is stored.

Every attempt gets a fresh :class:`AuthorizationRequest` (one-time state and
PKCE verifier); an answer is accepted once. QtWebEngine is imported only when
the embedded view is first shown, never when this module is imported.
"""

from __future__ import annotations

import enum
import html
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QCoreApplication, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.services.connection import ConnectError
from wg_desktop.services.hubspot_setup import HubSpotServices
from wg_desktop.services.loopback import LoopbackError, LoopbackReceiver
from wg_desktop.services.oauth_flow import (AuthorizationRequest, RedirectError,
                                            code_from_pasted_text)

if TYPE_CHECKING:
    from wg_desktop.store.models import Portal

log = logging.getLogger(__name__)

# HubSpot serves sign-in from many hosts of its own domain: one per data centre
# (app.hubspot.com, app-eu1, app-na2, app-ap1, ...) and login.hubspot.com. Any
# https host under this domain may show sign-in; nothing else may.
HUBSPOT_DOMAIN = "hubspot.com"
# Names of this computer: the demo portal listens on one of them, and a page it
# serves may send the browser on to the other one (same server, same port).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
BROWSER_WAIT_S = 600.0

# Style templates (ui/theme.py): rendered for the light or dark palette in force.
_DEMO_STYLE = "${warning} border-radius:4px;padding:6px"
_ERROR_STYLE = "${error} border-radius:4px;padding:6px"
_INFO_STYLE = "${info} border-radius:4px;padding:6px"
_OK_STYLE = "${ok} border-radius:4px;padding:6px"


# -- pure decisions (no Qt) ----------------------------------------------------------------

def is_hubspot_host(host: str) -> bool:
    """``hubspot.com`` or a host under it; ``hubspot.com.evil.io`` and
    ``evilhubspot.com`` are not."""
    host = host.lower()
    return host == HUBSPOT_DOMAIN or host.endswith("." + HUBSPOT_DOMAIN)


@dataclass(frozen=True)
class SignInAllowlist:
    """Where the embedded sign-in view may go (main frame): the configured auth
    base, any https host of HubSpot's domain when signing in at HubSpot, and the
    other loopback names of a loopback auth base (the demo portal)."""

    auth_base: str

    @property
    def _base(self) -> tuple[str, str, int | None]:
        parts = urlsplit(self.auth_base)
        return parts.scheme, (parts.hostname or "").lower(), parts.port

    @property
    def is_hubspot(self) -> bool:
        return is_hubspot_host(self._base[1])

    @property
    def is_loopback(self) -> bool:
        return self._base[1] in LOOPBACK_HOSTS

    def describe(self) -> str:
        """The allowed hosts in words, for messages."""
        scheme, host, port = self._base
        if self.is_hubspot:
            return f"https://*.{HUBSPOT_DOMAIN}"
        if self.is_loopback:
            return " or ".join(f"{scheme}://{name}:{port}" if port else f"{scheme}://{name}"
                               for name in LOOPBACK_HOSTS if name != "::1")
        return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"

    def allows(self, url: str) -> bool:
        if url in ("about:blank", ""):
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        scheme, base_host, base_port = self._base
        try:
            port = parts.port
        except ValueError:
            return False
        if (parts.scheme, host, port) == (scheme, base_host, base_port):
            return True
        if self.is_loopback:
            # Another name of this computer, on the very port of the auth base:
            # the same local server answering under a second host name.
            return parts.scheme == scheme and port == base_port and host in LOOPBACK_HOSTS
        # https only: a downgrade to http would let anyone on the network edit
        # the sign-in page.
        return (self.is_hubspot and parts.scheme == "https" and port in (None, 443)
                and is_hubspot_host(host))


class Navigation(enum.Enum):
    LOAD = "load"
    ANSWER = "answer"        # the redirect to our redirect URI: intercept, never load
    SWALLOW = "swallow"      # the redirect URI in a sub-frame: not loaded, not an answer
    BLOCK = "block"          # off the allowlist


def classify_navigation(url: str, main_frame: bool, redirect_uri: str,
                        allowlist: SignInAllowlist) -> Navigation:
    from wg_desktop.services.oauth_flow import same_endpoint

    if same_endpoint(url, redirect_uri):
        return Navigation.ANSWER if main_frame else Navigation.SWALLOW
    if not main_frame or allowlist.allows(url):
        return Navigation.LOAD
    return Navigation.BLOCK


def _carries_state(url: str, state: str) -> bool:
    """Whether a redirect (or pasted address) names this request's state."""
    import hmac

    values = parse_qs(urlsplit(url).query).get("state", [])
    return bool(values) and hmac.compare_digest(values[0], state)


def describe_host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def address_of(url: str) -> str:
    """What the address bar shows: scheme, host and path. The query is left out:
    it holds the one-time state and PKCE challenge, which tell the admin nothing."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# -- the embedded view (QtWebEngine imported lazily) ----------------------------------------

def _create_web_view(parent: QWidget, decide: Callable[[str, bool], bool]) -> tuple[Any, Any, Any]:
    """An off-the-record profile, a page that asks ``decide(url, main_frame)``
    before every navigation, and a view showing it."""
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
    from PySide6.QtWebEngineWidgets import QWebEngineView

    class SignInPage(QWebEnginePage):
        def acceptNavigationRequest(self, url: QUrl, nav_type: Any,  # noqa: N802 - Qt's name
                                    is_main_frame: bool) -> bool:
            return decide(url.toString(), is_main_frame)

        def createWindow(self, _type: Any) -> None:  # noqa: N802 - Qt's name
            return None          # no pop-ups from the sign-in pages

    # A profile without a storage name is off the record: cookies, cache and
    # local storage live in memory only and vanish with the dialog.
    profile = QWebEngineProfile()
    if not profile.isOffTheRecord():
        raise RuntimeError("the sign-in profile must be off the record")
    profile.setPersistentCookiesPolicy(QWebEngineProfile.PersistentCookiesPolicy.NoPersistentCookies)
    profile.setHttpCacheType(QWebEngineProfile.HttpCacheType.MemoryHttpCache)
    view = QWebEngineView(parent)
    page = SignInPage(profile)
    # Both owned by the view, the page first: children are deleted in order, and
    # a profile must outlive its pages.
    page.setParent(view)
    profile.setParent(view)
    view.setPage(page)
    return profile, page, view


# -- the dialog ---------------------------------------------------------------------------

class ConnectDialog(QDialog):
    """Sign in to a HubSpot portal (or the demo portal) and connect it."""

    connected = Signal("qlonglong")      # hub id (64-bit: HubSpot ids are not bounded by int32)

    EMBEDDED, BROWSER, PRIVATE_APP = range(3)

    def __init__(self, services: HubSpotServices, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.runner = runner
        self.allowlist = SignInAllowlist(services.app.auth_base)
        self.redirect_uri = services.app.redirect_uri
        self.setWindowTitle("Connect a HubSpot portal")
        self.resize(860, 760)

        self._request: AuthorizationRequest | None = None   # the current attempt
        self._attempt_kind = ""                              # embedded | browser
        self._answered = False                               # its answer was taken
        self._handles: list[Any] = []
        self._browser_cancel: threading.Event | None = None
        self._receiver: LoopbackReceiver | None = None
        self._busy = False
        self._closed = False
        self.connected_portal: "Portal | None" = None
        self.profile: Any = None
        self.page: Any = None
        self.view: Any = None

        self.demo_label = QLabel()
        self.demo_label.setObjectName("demoNotice")
        self.demo_label.setWordWrap(True)
        self.demo_label.setTextFormat(Qt.TextFormat.RichText)
        if services.app.is_demo:
            self.demo_label.setText(
                "<b>Demo portal</b> — you are signing in to WorkflowGuard's built-in demo "
                f"portal at <code>{html.escape(services.app.auth_base)}</code>, not HubSpot. "
                "It holds sample data only; nothing you do here touches a real account.")
            theme.apply_style(self.demo_label, _DEMO_STYLE)
        else:
            self.demo_label.hide()

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_embedded_tab(), "Sign in here")
        self.tabs.addTab(self._build_browser_tab(), "Use my browser")
        self.tabs.addTab(self._build_private_app_tab(), "Private app token")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.message = QLabel()
        self.message.setObjectName("connectMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumHeight(6)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        # A browser wait must not outlive the app (it holds a pool thread).
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._cancel_browser_wait)

        layout = QVBoxLayout(self)
        layout.addWidget(self.demo_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        # Enter in the token or paste field acts on that field only, never on
        # whichever button happens to be the dialog's default.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)

    # -- building -----------------------------------------------------------------------

    def _build_embedded_tab(self) -> QWidget:
        tab = QWidget()
        # Read-only, like a browser's address bar: the admin sees which site
        # is asking for the password before typing it.
        self.address_bar = QLineEdit()
        self.address_bar.setObjectName("addressBar")
        self.address_bar.setReadOnly(True)
        self.address_bar.setPlaceholderText("Sign-in page not loaded yet")
        self.address_bar.setAccessibleName("Address of the sign-in page")
        self.reload_button = QPushButton("Start over")
        self.reload_button.setToolTip("Start a new sign-in (a fresh one-time request)")
        self.reload_button.clicked.connect(self.start_embedded)
        self.use_browser_button = QPushButton("Use my browser instead")
        self.use_browser_button.setToolTip("Sign in in your usual browser (needed for Google, "
                                           "Microsoft or company single sign-on)")
        self.use_browser_button.clicked.connect(self._switch_to_browser)
        top = QHBoxLayout()
        top.addWidget(self.address_bar, 1)
        top.addWidget(self.reload_button)
        top.addWidget(self.use_browser_button)
        self.load_progress = QProgressBar()
        self.load_progress.setRange(0, 100)
        self.load_progress.setMaximumHeight(10)
        self.load_progress.setTextVisible(False)
        self.load_progress.hide()
        self.handoff_bar = QWidget()
        self.handoff_bar.setObjectName("handoffBar")
        self.handoff_label = QLabel()
        self.handoff_label.setWordWrap(True)
        self.handoff_label.setTextFormat(Qt.TextFormat.RichText)
        self.handoff_button = QPushButton("Continue in your browser")
        self.handoff_button.setToolTip("Finish this sign-in in your usual browser; "
                                       "WorkflowGuard waits for it here")
        self.handoff_button.clicked.connect(self.continue_in_browser)
        handoff = QHBoxLayout(self.handoff_bar)
        handoff.setContentsMargins(6, 6, 6, 6)
        handoff.addWidget(self.handoff_label, 1)
        handoff.addWidget(self.handoff_button)
        theme.apply_style(self.handoff_bar, f"#handoffBar{{{_INFO_STYLE}}}")
        self.handoff_bar.hide()
        self.view_holder = QVBoxLayout()
        self.view_placeholder = QLabel("Loading the sign-in page…")
        self.view_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view_holder.addWidget(self.view_placeholder, 1)
        layout = QVBoxLayout(tab)
        layout.addLayout(top)
        layout.addWidget(self.load_progress)
        layout.addWidget(self.handoff_bar)
        layout.addLayout(self.view_holder, 1)
        self.embedded_tab = tab
        return tab

    def _build_browser_tab(self) -> QWidget:
        tab = QWidget()
        intro = QLabel(
            "<p>Sign in with the browser you normally use — for example when your company "
            "signs in to HubSpot through Google, Microsoft or single sign-on.</p>"
            "<ol><li>Press <b>Open HubSpot in my browser</b> and allow access.</li>"
            f"<li>HubSpot sends your browser back to <code>{html.escape(self.redirect_uri)}"
            "</code>, where WorkflowGuard is listening, and the portal connects.</li></ol>")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.open_browser_button = QPushButton("Open HubSpot in my browser")
        self.open_browser_button.clicked.connect(self.start_browser)
        self.cancel_browser_button = QPushButton("Stop waiting")
        self.cancel_browser_button.clicked.connect(self._cancel_browser_wait)
        self.cancel_browser_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.open_browser_button)
        row.addWidget(self.cancel_browser_button)
        row.addStretch(1)
        self.browser_status = QLabel("")
        self.browser_status.setWordWrap(True)
        self.auth_url_edit = QLineEdit()
        self.auth_url_edit.setReadOnly(True)
        self.auth_url_edit.setPlaceholderText("The sign-in address appears here once started")
        self.auth_url_edit.setToolTip("Copy this address into a browser if none opened")
        paste_intro = QLabel("<b>Browser did not come back?</b> After allowing access, paste "
                             "the address your browser ended on (or just the code):")
        paste_intro.setWordWrap(True)
        paste_intro.setTextFormat(Qt.TextFormat.RichText)
        self.paste_edit = QLineEdit()
        self.paste_edit.setPlaceholderText(f"{self.redirect_uri}?code=…&state=…")
        self.paste_edit.returnPressed.connect(self.connect_pasted)
        self.paste_button = QPushButton("Connect")
        self.paste_button.clicked.connect(self.connect_pasted)
        paste_row = QHBoxLayout()
        paste_row.addWidget(self.paste_edit, 1)
        paste_row.addWidget(self.paste_button)
        layout = QVBoxLayout(tab)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.browser_status)
        layout.addWidget(QLabel("Sign-in address:"))
        layout.addWidget(self.auth_url_edit)
        layout.addSpacing(12)
        layout.addWidget(paste_intro)
        layout.addLayout(paste_row)
        layout.addStretch(1)
        self.browser_tab = tab
        return tab

    def _build_private_app_tab(self) -> QWidget:
        tab = QWidget()
        intro = QLabel(
            "<p>Instead of signing in, you can connect a portal with the access token of a "
            "<b>private app</b> created in that portal (HubSpot → Settings → Integrations → "
            "Private Apps), with the scopes <code>automation</code> and the CRM read scopes.</p>"
            "<p>The token is checked with HubSpot before it is stored, and it is kept only "
            "in your system keychain.</p>")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("pat-na1-…")
        self.token_edit.returnPressed.connect(self.connect_private_app)
        self.token_button = QPushButton("Check and connect")
        self.token_button.clicked.connect(self.connect_private_app)
        row = QHBoxLayout()
        row.addWidget(QLabel("Access token:"))
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.token_button)
        layout = QVBoxLayout(tab)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addStretch(1)
        self.private_app_tab = tab
        return tab

    # -- messages -----------------------------------------------------------------------

    def show_message(self, text: str, kind: str = "info") -> None:
        style = {"error": _ERROR_STYLE, "ok": _OK_STYLE}.get(kind, _INFO_STYLE)
        theme.apply_style(self.message, style)
        self.message.setProperty("kind", kind)
        self.message.setText(text)
        self.message.show()

    def show_problems(self, title: str, problems: list[str]) -> None:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        self.show_message(f"<b>{html.escape(title)}</b><ul style='margin:4px 0'>{items}</ul>",
                          "error")

    def message_text(self) -> str:
        """The message as plain text (what the admin reads)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.message.text())
        return doc.toPlainText() if self.message.isVisibleTo(self) else ""

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.busy_bar.setVisible(busy)
        for widget in (self.token_button, self.paste_button, self.open_browser_button,
                       self.reload_button):
            widget.setEnabled(not busy)
        if busy and text:
            self.show_message(html.escape(text))

    # -- attempts -----------------------------------------------------------------------

    @property
    def current_request(self) -> AuthorizationRequest | None:
        return self._request

    def _new_attempt(self, kind: str) -> AuthorizationRequest | None:
        self._cancel_browser_wait()
        try:
            request = self.services.connection.authorization_request()
        except ConnectError as exc:
            self._request = None
            self.show_problems("Signing in is not available", exc.problems)
            return None
        self._request = request
        self._attempt_kind = kind
        self._answered = False
        return request

    def _take_answer(self, url_or_text: str, *, pasted: bool = False) -> None:
        """Check one answer to the current attempt and, if it is good, exchange it."""
        if self._busy:
            self.show_message("Still checking the previous answer; this one was ignored.",
                              "error")
            return
        request = self._request
        if request is None or self._answered:
            self.show_message("<b>This sign-in was already answered.</b> A second answer "
                              "to the same request is refused; start a new sign-in.", "error")
            return
        try:
            code = (code_from_pasted_text(request, url_or_text) if pasted
                    else request.code_from_redirect(url_or_text))
        except RedirectError as exc:
            self.show_message(f"<b>Sign-in refused.</b> {html.escape(str(exc))}", "error")
            if _carries_state(url_or_text, request.state):
                # Our own request came back with an error (e.g. access denied): it is spent.
                self._answered = True
                self._restart_embedded(request)
            return
        self._answered = True
        self._cancel_browser_wait()
        self._exchange(request, code)

    def _exchange(self, request: AuthorizationRequest, code: str) -> None:
        connection = self.services.connection
        self._set_busy(True, "Signed in. Checking the portal with HubSpot…")
        self._track(self.runner(lambda: connection.complete_oauth(request, code),
                                on_result=self._connected,
                                on_error=lambda error: self._exchange_failed(request, error)))

    def _track(self, handle: Any) -> Any:
        self._handles.append(handle)
        return handle

    def _connected(self, portal: "Portal") -> None:
        self._set_busy(False)
        self.connected_portal = portal
        self.show_message(f"Connected <b>{html.escape(portal.name)}</b> "
                          f"(hub {portal.hub_id}).", "ok")
        self.token_edit.clear()
        self.paste_edit.clear()
        self.connected.emit(int(portal.hub_id))
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        if isinstance(error, ConnectError):
            self.show_problems("This portal was not connected:", error.problems)
        else:
            log.warning("connecting failed: %s", error)
            self.show_problems("This portal was not connected:", [str(error)])

    def _exchange_failed(self, request: AuthorizationRequest, error: BaseException) -> None:
        self._failed(error)
        self._restart_embedded(request)

    def _restart_embedded(self, request: AuthorizationRequest) -> None:
        """A spent embedded attempt is replaced at once, so the admin can try again."""
        if (request is self._request and self._attempt_kind == "embedded"
                and self.view is not None and not self._closed):
            self._load_embedded(keep_message=True)

    # -- embedded sign-in ---------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.tabs.currentIndex() == self.EMBEDDED and self.view is None:
            QTimer.singleShot(0, self._start_embedded_if_shown)

    def _tab_changed(self, index: int) -> None:
        if index == self.EMBEDDED and self.isVisible() and (
                self.view is None or self._attempt_kind != "embedded"):
            self.start_embedded()

    def _start_embedded_if_shown(self) -> None:
        if (self.isVisible() and not self._closed and self.view is None
                and self.tabs.currentIndex() == self.EMBEDDED):
            self.start_embedded()

    def start_embedded(self) -> None:
        """Show HubSpot's authorize page for a fresh request in the embedded view."""
        self.handoff_bar.hide()
        self.tabs.setCurrentIndex(self.EMBEDDED)
        self._load_embedded(keep_message=False)

    def _load_embedded(self, keep_message: bool) -> None:
        if not keep_message:
            self.message.hide()
        request = self._new_attempt("embedded")
        if request is None:
            return
        self._ensure_view()
        self.view.setUrl(QUrl(request.url))

    def _ensure_view(self) -> None:
        if self.view is not None:
            return
        self.profile, self.page, self.view = _create_web_view(self, self._decide_navigation)
        self.view.setObjectName("signInView")
        self.view.setMinimumHeight(420)
        self.view_holder.removeWidget(self.view_placeholder)
        self.view_placeholder.deleteLater()
        self.view_holder.addWidget(self.view, 1)
        self.view.loadStarted.connect(self._load_started)
        self.view.loadProgress.connect(self.load_progress.setValue)
        self.view.urlChanged.connect(self._url_changed)
        self.page.loadingChanged.connect(self._loading_changed)

    def _decide_navigation(self, url: str, main_frame: bool) -> bool:
        verdict = classify_navigation(url, main_frame, self.redirect_uri, self.allowlist)
        if verdict is Navigation.ANSWER:
            # Never loaded. Handled after this call returns, outside the web engine's callback.
            QTimer.singleShot(0, self, lambda: self._take_answer(url))
            return False
        if verdict is Navigation.SWALLOW:
            return False
        if verdict is Navigation.BLOCK:
            QTimer.singleShot(0, self, lambda: self._blocked(url))
            return False
        return True

    def _blocked(self, url: str) -> None:
        """Sign-in tried to leave the allowed hosts. Identity providers (Google,
        Microsoft, Apple, company SSO) refuse embedded web views, so this is no
        dead end: one button finishes the same sign-in in the system browser."""
        parts = urlsplit(url)
        host = html.escape(parts.hostname or describe_host(url))
        if parts.scheme == "http" and is_hubspot_host(parts.hostname or ""):
            why = (f"Sign-in continues at <b>{host}</b> without encryption (http), "
                   "which this window does not allow")
        else:
            why = (f"Sign-in continues at <b>{host}</b>, which does not allow embedded "
                   "sign-in")
        self.handoff_label.setText(f"{why} — continue in your browser.")
        self.handoff_label.setToolTip(f"This window only shows {self.allowlist.describe()}.")
        self.handoff_bar.show()

    def continue_in_browser(self) -> None:
        """Hand the current embedded request to the system browser + loopback:
        the same state and PKCE verifier, so the one answer still counts once."""
        self.handoff_bar.hide()
        request = self._request
        if request is None or self._answered or self._attempt_kind != "embedded":
            self._switch_to_browser()          # nothing to carry over: a fresh request
            return
        if self.view is not None:
            self.view.stop()
        self._cancel_browser_wait()
        self._attempt_kind = "browser"
        self.tabs.setCurrentIndex(self.BROWSER)
        self._begin_browser(request)

    def _load_started(self) -> None:
        self.load_progress.setValue(0)
        self.load_progress.show()

    def _url_changed(self, url: QUrl) -> None:
        text = url.toString()
        self.address_bar.setText(address_of(text))
        self.address_bar.setCursorPosition(0)
        secure = urlsplit(text).scheme == "https"
        self.address_bar.setToolTip("Encrypted connection (https)" if secure else
                                    "Not encrypted: only the demo portal on this computer "
                                    "is shown this way")

    def _loading_changed(self, info: Any) -> None:
        from PySide6.QtWebEngineCore import QWebEngineLoadingInfo

        status = info.status()
        if status == QWebEngineLoadingInfo.LoadStatus.LoadStartedStatus:
            return
        self.load_progress.hide()
        if status == QWebEngineLoadingInfo.LoadStatus.LoadFailedStatus:
            url = info.url().toString()
            if classify_navigation(url, True, self.redirect_uri,
                                   self.allowlist) is not Navigation.LOAD:
                return     # our own interception, not a failure
            self.show_message(
                f"<b>Could not load the sign-in page</b> ({html.escape(describe_host(url))}): "
                f"{html.escape(info.errorString() or 'unknown error')}. Check the internet "
                "connection and press <b>Start over</b>, or use your browser or a private "
                "app token.", "error")

    def _switch_to_browser(self) -> None:
        self.tabs.setCurrentIndex(self.BROWSER)
        self.start_browser()

    # -- browser + loopback -------------------------------------------------------------

    def start_browser(self) -> None:
        """Open the authorize URL of a fresh request in the system browser and
        listen on the loopback redirect URI for the answer."""
        request = self._new_attempt("browser")
        if request is None:
            return
        self._begin_browser(request)

    def _begin_browser(self, request: AuthorizationRequest) -> None:
        self.message.hide()
        self.auth_url_edit.setText(request.url)
        self.auth_url_edit.setCursorPosition(0)
        # Binding a loopback socket is immediate; doing it here (not in a worker)
        # means a closing dialog can never miss a listener and leak it.
        try:
            receiver = LoopbackReceiver(request)
        except LoopbackError as error:
            self._no_loopback(request, error)
            return
        self._listening(request, receiver)

    def _open_browser(self, request: AuthorizationRequest) -> bool:
        opened = QDesktopServices.openUrl(QUrl(request.url))
        if not opened:
            self.browser_status.setText("No browser could be opened. Copy the sign-in address "
                                        "below into a browser.")
        return opened

    def _listening(self, request: AuthorizationRequest, receiver: LoopbackReceiver) -> None:
        if request is not self._request or self._closed:
            receiver.close()
            return
        cancel = threading.Event()
        self._browser_cancel = cancel
        self._receiver = receiver
        self.cancel_browser_button.setEnabled(True)
        if self._open_browser(request):
            self.browser_status.setText("Waiting for your browser… Allow access in HubSpot, "
                                        "then come back here.")
        self._track(self.runner(lambda: receiver.wait(BROWSER_WAIT_S, cancel),
                                on_result=lambda code: self._browser_answered(request, code),
                                on_error=lambda error: self._browser_failed(request, error)))

    def _no_loopback(self, request: AuthorizationRequest, error: BaseException) -> None:
        if request is not self._request:
            return
        reason = str(error) if isinstance(error, LoopbackError) else f"({error})"
        self._open_browser(request)
        self.browser_status.setText(
            f"WorkflowGuard cannot receive the answer by itself: {reason} After you allow "
            "access, paste the address your browser ended on below.")

    def _browser_answered(self, request: AuthorizationRequest, code: str) -> None:
        self._browser_cancel = None
        self.cancel_browser_button.setEnabled(False)
        if request is not self._request or self._answered:
            self.show_message("<b>Your browser came back, but this sign-in was already "
                              "answered or replaced.</b> The late answer was ignored.", "error")
            return
        self._answered = True
        self.browser_status.setText("Your browser came back.")
        self._exchange(request, code)

    def _browser_failed(self, request: AuthorizationRequest, error: BaseException) -> None:
        if request is not self._request:
            return                        # an older attempt, replaced on purpose
        self.cancel_browser_button.setEnabled(False)
        self._browser_cancel = None
        if isinstance(error, LoopbackError):
            if not self._answered:
                self.browser_status.setText(f"Stopped waiting for the browser: {error} "
                                            "You can still paste the address below.")
            return
        self._answered = True             # the listener took the (refused) answer
        self.browser_status.setText("The browser came back, but the sign-in was refused.")
        self.show_message(f"<b>Sign-in refused.</b> {html.escape(str(error))}", "error")

    def _cancel_browser_wait(self) -> None:
        if self._browser_cancel is not None:
            self._browser_cancel.set()
            self._browser_cancel = None
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.close()     # frees the port now, so a new attempt can bind it
        self.cancel_browser_button.setEnabled(False)

    # -- pasted answer ------------------------------------------------------------------

    def connect_pasted(self) -> None:
        text = self.paste_edit.text().strip()
        if not text:
            self.show_message("Paste the address your browser ended on, or the code.", "error")
            return
        if self._request is None:
            self.show_message("Start the sign-in first (<b>Open HubSpot in my browser</b>), "
                              "then paste where it ended.", "error")
            return
        self._take_answer(text, pasted=True)

    # -- private app ---------------------------------------------------------------------

    def connect_private_app(self) -> None:
        token = self.token_edit.text()
        if not token.strip():
            self.show_message("Enter the private app's access token.", "error")
            return
        if self._busy:
            return
        connection = self.services.connection
        self._set_busy(True, "Checking the token with HubSpot…")
        self._track(self.runner(lambda: connection.connect_private_app(token),
                                on_result=self._connected, on_error=self._failed))

    # -- closing ---------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self._closed = True
        self._cancel_browser_wait()
        if result != QDialog.DialogCode.Accepted:
            for handle in self._handles:
                handle.discard()
        self._handles.clear()
        if self.view is not None:
            self.view.stop()
        super().done(result)

