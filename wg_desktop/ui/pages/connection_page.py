"""Connection page: the current portal's link to HubSpot.

Shows whether the portal works (connected / reconnect needed / offline /
paused by the circuit breaker), who it is (account details, from the client's
1-hour cache), the sign-in (method, token expiry countdown, last refresh,
granted scopes), and offers: test the connection, connect another portal,
reconnect, disconnect. Everything that touches the network, the keychain or
the database runs through the runner; the 1-second countdown is pure display.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListView,
                               QMessageBox, QPushButton, QStackedWidget, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.services.connection import ConnectionTest
from wg_desktop.services.hubspot_setup import HubSpotServices
from wg_desktop.services.portal_link import (LinkState, LinkWatch, PortalSnapshot,
                                             load_portal_snapshot)

log = logging.getLogger(__name__)

COUNTDOWN_MS = 1_000


# -- what is shown (pure) ------------------------------------------------------------------

_STATE_LABEL = {
    LinkState.CONNECTED: "Connected",
    LinkState.RECONNECT_NEEDED: "Reconnect needed",
    LinkState.OFFLINE: "Offline",
    LinkState.BREAKER_OPEN: "Paused (HubSpot keeps failing)",
    LinkState.DISCONNECTED: "Disconnected",
}
_STATE_STYLE = {
    # ui/theme.py templates: rendered for the light or dark palette in force.
    LinkState.CONNECTED: "${ok}",
    LinkState.RECONNECT_NEEDED: "${error}",
    LinkState.OFFLINE: "${warning}",
    LinkState.BREAKER_OPEN: "${warning}",
    LinkState.DISCONNECTED: "${neutral}",
}


def link_detail(state: LinkState, retry_in: float, last_test: ConnectionTest | None) -> str:
    if state is LinkState.RECONNECT_NEEDED:
        return ("HubSpot no longer accepts this portal's sign-in (the app was uninstalled, "
                "access was revoked or the token was replaced). Background jobs for it are "
                "paused until you reconnect.")
    if state is LinkState.BREAKER_OPEN:
        when = f"in {duration_text(retry_in)}" if retry_in > 0 else "now"
        return ("HubSpot failed several times in a row, so requests are paused to let it "
                f"recover (circuit breaker open). The next attempt is {when}.")
    if state is LinkState.OFFLINE:
        message = last_test.message if last_test is not None else ""
        return f"The last connection test failed: {message}"
    if state is LinkState.DISCONNECTED:
        return "This portal is disconnected; its local history is kept."
    return ""


def duration_text(seconds: float) -> str:
    seconds = int(round(abs(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def expiry_text(auth_kind: str, expires_at: float | None, now: float) -> str:
    """The access token's countdown, from the stored expiry (no network)."""
    if auth_kind == "private_app":
        return "Private app token — does not expire"
    if expires_at is None:
        return "Unknown (no expiry stored)"
    left = expires_at - now
    if left > 0:
        return f"Expires in {duration_text(left)} (renewed automatically)"
    return f"Expired {duration_text(left)} ago (renewed at the next use)"


def when_text(value: dt.datetime | None, never: str = "never") -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else never


class _ClientEvents(QObject):
    """Carries breaker and re-authentication events from worker threads to the GUI."""

    breaker_changed = Signal(str, str)      # portal key, new state
    reauth_needed = Signal(str)             # portal key


# -- the page -------------------------------------------------------------------------------

class ConnectionPage(QWidget):
    portals_changed = Signal(object)     # hub id to show next (or None)
    status_changed = Signal(str)         # one line for the status bar
    link_state_changed = Signal(str)     # LinkState of the shown portal ("" for none)
    portal_connected = Signal("qlonglong")  # a portal was just connected (or reconnected)
    disconnected = Signal(object)        # list of steps

    def __init__(self, services: HubSpotServices, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.runner = runner
        self._hub_id: int | None = None
        self._snapshot: PortalSnapshot | None = None
        self._last_test: ConnectionTest | None = None
        self._pending: Any = None
        self.connect_dialog: Any = None
        self.disconnect_box: QMessageBox | None = None
        self._events = _ClientEvents(self)
        self._events.breaker_changed.connect(self._breaker_changed)
        self._events.reauth_needed.connect(self._reauth_needed)

        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.RichText)
        self.notice.hide()

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty())
        self.stack.addWidget(self._build_details())

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.stack, 1)

        self._countdown = QTimer(self, interval=COUNTDOWN_MS)
        self._countdown.timeout.connect(self._tick)
        self._show_empty()

    # -- building -------------------------------------------------------------------------

    def _build_empty(self) -> QWidget:
        page = QWidget()
        text = ("<h2>No portal connected</h2><p>Connect a HubSpot portal to start keeping "
                "the history of its workflows.</p>")
        if self.services.app.is_demo:
            text += ("<p>This session uses the <b>built-in demo portal</b>: sign in there to "
                     "try WorkflowGuard with sample data.</p>")
        self.empty_label = QLabel(text)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_connect_button = QPushButton("Connect a portal…")
        self.empty_connect_button.clicked.connect(lambda: self.open_connect_dialog())
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.empty_connect_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _build_details(self) -> QWidget:
        page = QWidget()
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle = QLabel()
        self.subtitle.setTextFormat(Qt.TextFormat.RichText)
        self.state_badge = QLabel()
        self.state_badge.setObjectName("stateBadge")
        self.state_detail = QLabel()
        self.state_detail.setWordWrap(True)

        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.setToolTip("Sign in again; the portal's history is kept")
        self.reconnect_button.clicked.connect(self.reconnect)
        self.disconnect_button = QPushButton("Disconnect…")
        self.disconnect_button.clicked.connect(self.ask_disconnect)
        self.connect_button = QPushButton("Connect a portal…")
        self.connect_button.clicked.connect(lambda: self.open_connect_dialog())
        self.test_result = QLabel("")
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.test_button, self.reconnect_button, self.disconnect_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.connect_button)

        portal_box = QGroupBox("Portal")
        self.info_form = QFormLayout(portal_box)
        self.info: dict[str, QLabel] = {}
        for key, label in (("hub_id", "Hub ID"), ("domain", "Domain"),
                           ("account_type", "Account type"), ("time_zone", "Time zone"),
                           ("currency", "Currency"), ("hosting", "Data hosting"),
                           ("user", "Signed in as"), ("connected_at", "Connected since")):
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.info[key] = value
            self.info_form.addRow(f"{label}:", value)
        self.details_note = QLabel()
        self.details_note.setWordWrap(True)
        theme.apply_style(self.details_note, "color:${muted}")
        self.info_form.addRow(self.details_note)

        sign_in_box = QGroupBox("Sign-in")
        sign_in = QFormLayout(sign_in_box)
        self.method_label = QLabel()
        self.expiry_label = QLabel()
        self.expiry_label.setObjectName("expiryLabel")
        self.expiry_label.setWordWrap(True)
        self.expiry_label.setToolTip("WorkflowGuard renews the access token before it runs "
                                     "out; the hourly token check catches idle portals.")
        self.refresh_label = QLabel()
        sign_in.addRow("Method:", self.method_label)
        sign_in.addRow("Access token:", self.expiry_label)
        sign_in.addRow("Last refresh:", self.refresh_label)
        self.scopes_model = QStringListModel(self)
        self.scopes_view = QListView()
        self.scopes_view.setModel(self.scopes_model)
        self.scopes_view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.scopes_view.setMaximumHeight(150)
        self.scopes_note = QLabel()
        self.scopes_note.setWordWrap(True)
        sign_in.addRow("Granted scopes:", self.scopes_view)
        sign_in.addRow(self.scopes_note)
        self.sign_in_form = sign_in

        boxes = QHBoxLayout()
        boxes.addWidget(portal_box, 1)
        boxes.addWidget(sign_in_box, 1)

        layout = QVBoxLayout(page)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.state_badge)
        badge_row.addStretch(1)
        layout.addLayout(badge_row)
        layout.addWidget(self.state_detail)
        layout.addLayout(buttons)
        layout.addWidget(self.test_result)
        layout.addLayout(boxes)
        layout.addStretch(1)
        return page

    # -- loading ------------------------------------------------------------------------

    @property
    def hub_id(self) -> int | None:
        return self._hub_id

    @property
    def snapshot(self) -> PortalSnapshot | None:
        return self._snapshot

    @property
    def loading(self) -> bool:
        """A portal's details are being read (what shows is not yet its answer)."""
        return self._pending is not None

    def set_portal(self, hub_id: int | None) -> None:
        """Show this portal (None: the "connect a portal" prompt)."""
        if hub_id != self._hub_id:
            self._last_test = None
            self.test_result.setText("")
        self._hub_id = hub_id
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
        if hub_id is None:
            self._show_empty()
            return
        services = self.services
        self._pending = self.runner(lambda: load_portal_snapshot(services, hub_id),
                                    on_result=lambda snap: self._apply(hub_id, snap),
                                    on_error=lambda error: self._load_failed(hub_id, error))

    def reload(self) -> None:
        self.set_portal(self._hub_id)

    def _load_failed(self, hub_id: int, error: BaseException) -> None:
        self._pending = None
        log.warning("could not load portal %s: %s", hub_id, error)
        self.show_notice(f"Could not load portal {hub_id}: {html.escape(str(error))}", "error")

    def _show_empty(self) -> None:
        self._snapshot = None
        self._countdown.stop()
        self.stack.setCurrentIndex(0)
        self.status_changed.emit("No portal connected")
        self.link_state_changed.emit("")

    def _apply(self, hub_id: int, snapshot: PortalSnapshot | None) -> None:
        self._pending = None
        if hub_id != self._hub_id:
            return
        if snapshot is None:
            self._show_empty()
            return
        self._snapshot = snapshot
        self._watch(snapshot.watch)
        self.stack.setCurrentIndex(1)
        self._render()
        if self.isVisible():
            self._countdown.start()

    def _watch(self, watch: LinkWatch | None) -> None:
        """Follow the portal's breaker and re-authentication state; the
        listeners post queued signals, so widgets are touched on this thread."""
        if watch is not None:
            events = self._events
            watch.listen(events, events.breaker_changed.emit, events.reauth_needed.emit)

    # -- rendering ----------------------------------------------------------------------

    def current_state(self) -> LinkState | None:
        snap = self._snapshot
        if snap is None:
            return None
        return snap.state(self._last_test)

    def _render(self) -> None:
        snap = self._snapshot
        assert snap is not None
        details = snap.details
        name = (details.portal_name if details and details.portal_name else snap.name)
        self.title.setText(f"<h2 style='margin:0'>{html.escape(name)}</h2>")
        parts = [f"Hub {snap.hub_id}"]
        if snap.domain:
            parts.append(html.escape(snap.domain))
        if snap.is_demo:
            parts.append(f"<b style='color:{theme.hex_color('warning_text')}'>"
                         "Demo portal — sample data</b>")
        self.subtitle.setText(" · ".join(parts))

        info = {
            "hub_id": str(snap.hub_id),
            "domain": snap.domain or (details.ui_domain if details else "") or "—",
            "account_type": (details.account_type if details else None) or snap.account_type
            or "—",
            "time_zone": (details.time_zone if details else None) or snap.time_zone or "—",
            "currency": (details.company_currency if details else None) or "—",
            "hosting": (details.data_hosting_location if details else None) or "—",
            "user": snap.user_email or ("—" if snap.auth_kind == "oauth"
                                        else "— (private app token)"),
            "connected_at": when_text(snap.connected_at, "—"),
        }
        for key, value in info.items():
            self.info[key].setText(value)
        self.details_note.setText(snap.details_note)
        self.details_note.setVisible(bool(snap.details_note))

        self.method_label.setText("HubSpot sign-in (OAuth)" if snap.auth_kind == "oauth"
                                  else "Private app token")
        self.refresh_label.setText(when_text(snap.last_refresh_at) if snap.auth_kind == "oauth"
                                   else "Not needed (private app token)")
        self.scopes_model.setStringList(list(snap.scopes))
        missing = [s for s in OAUTH_SCOPES if s not in snap.scopes]
        oauth = snap.auth_kind == "oauth"
        # A private app token carries no scope list: an empty box would read as
        # "nothing granted", so the row goes and the note says why.
        self.sign_in_form.setRowVisible(self.scopes_view, oauth)
        if oauth and missing:
            self.scopes_note.setText("Missing: " + ", ".join(missing))
        elif oauth:
            self.scopes_note.setText("All scopes WorkflowGuard needs are granted.")
        else:
            self.scopes_note.setText("Granted scopes: not applicable (private app token). "
                                     "A private app's scopes are set in HubSpot; the token "
                                     "was checked for workflow access when it was connected.")
        self._render_state()
        self._tick()

    def _render_state(self) -> None:
        snap = self._snapshot
        state = self.current_state()
        if snap is None or state is None:
            return
        retry_in = snap.watch.retry_in() if snap.watch is not None else 0.0
        self.state_badge.setText(_STATE_LABEL[state])
        self.state_badge.setProperty("state", str(state))
        theme.apply_style(self.state_badge, _STATE_STYLE[state] + "border-radius:4px;padding:3px 10px;"
                                       "font-weight:bold")
        detail = link_detail(state, retry_in, self._last_test)
        self.state_detail.setText(detail)
        self.state_detail.setVisible(bool(detail))
        needs_reconnect = state is LinkState.RECONNECT_NEEDED
        self.reconnect_button.setVisible(needs_reconnect)
        self.test_button.setEnabled(state is not LinkState.DISCONNECTED and not needs_reconnect)
        self.disconnect_button.setEnabled(state is not LinkState.DISCONNECTED)
        self.status_changed.emit(f"{snap.name}: {_STATE_LABEL[state].lower()}")
        self.link_state_changed.emit(str(state))

    def _tick(self) -> None:
        snap = self._snapshot
        if snap is None:
            return
        state = self.current_state()
        if state is LinkState.RECONNECT_NEEDED:
            self.expiry_label.setText("Not usable — HubSpot refused the sign-in; reconnect")
        elif state is LinkState.DISCONNECTED:
            self.expiry_label.setText("Deleted from this computer")
        else:
            self.expiry_label.setText(expiry_text(snap.auth_kind, snap.expires_at, time.time()))
        if state is LinkState.BREAKER_OPEN:
            self._render_state()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._snapshot is not None:
            self._tick()
            self._countdown.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self._countdown.stop()

    def _breaker_changed(self, portal_key: str, _state: str) -> None:
        if self._hub_id is not None and portal_key == str(self._hub_id):
            self._render_state()

    def _reauth_needed(self, portal_key: str) -> None:
        if self._hub_id is not None and portal_key == str(self._hub_id):
            self.reload()

    def show_notice(self, text: str, kind: str = "info") -> None:
        style = {"error": _STATE_STYLE[LinkState.RECONNECT_NEEDED],
                 "ok": _STATE_STYLE[LinkState.CONNECTED]}.get(
            kind, "${info}")
        theme.apply_style(self.notice, style + "border-radius:4px;padding:6px")
        self.notice.setText(text)
        self.notice.show()

    # -- actions ------------------------------------------------------------------------

    def test_connection(self) -> None:
        hub_id = self._hub_id
        if hub_id is None:
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")
        connection = self.services.connection
        self.runner(lambda: connection.test_connection(hub_id),
                    on_result=lambda result: self._tested(hub_id, result),
                    on_error=lambda error: self._tested(
                        hub_id, ConnectionTest(hub_id, False, 0.0, str(error))))

    def _tested(self, hub_id: int, result: ConnectionTest) -> None:
        if hub_id != self._hub_id:
            return
        self._last_test = result
        self.test_button.setEnabled(True)
        if result.ok:
            self.test_result.setText(f"✔ HubSpot answered in {result.response_ms:.0f} ms.")
        else:
            self.test_result.setText(f"✘ Test failed after {result.response_ms:.0f} ms: "
                                     f"{result.message}")
        if self._snapshot is not None:
            self._render_state()

    def open_connect_dialog(self, tab: int | None = None) -> Any:
        """The connect dialog (QtWebEngine is loaded only when its sign-in view shows)."""
        from wg_desktop.ui.connect_dialog import ConnectDialog

        if self.connect_dialog is not None:
            self.connect_dialog.raise_()
            self.connect_dialog.activateWindow()
            return self.connect_dialog
        dialog = ConnectDialog(self.services, self.runner, self)
        if tab is not None:
            dialog.tabs.setCurrentIndex(tab)
        dialog.connected.connect(self._portal_connected)
        dialog.finished.connect(lambda _result: self._dialog_closed(dialog))
        self.connect_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: Any) -> None:
        if self.connect_dialog is dialog:
            self.connect_dialog = None
        dialog.deleteLater()

    def reconnect(self) -> Any:
        """One click: the connect dialog, on the way this portal was connected."""
        from wg_desktop.ui.connect_dialog import ConnectDialog

        snap = self._snapshot
        tab = (ConnectDialog.PRIVATE_APP if snap is not None and snap.auth_kind == "private_app"
               else ConnectDialog.EMBEDDED)
        return self.open_connect_dialog(tab)

    def _portal_connected(self, hub_id: int) -> None:
        self.show_notice(f"Connected portal {hub_id}.", "ok")
        self._last_test = None
        self.set_portal(hub_id)
        self.portals_changed.emit(hub_id)
        self.portal_connected.emit(hub_id)

    def ask_disconnect(self) -> QMessageBox | None:
        """Ask whether to keep the local history (the default) or delete it."""
        snap = self._snapshot
        if snap is None:
            return None
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Disconnect portal")
        box.setText(f"Disconnect {snap.name} (hub {snap.hub_id})?")
        box.setInformativeText(
            "WorkflowGuard revokes its access at HubSpot and deletes the portal's tokens from "
            "this computer. The workflow history stored here can be kept (you can browse it "
            "and reconnect later) or deleted.")
        keep = box.addButton("Disconnect, keep history", QMessageBox.ButtonRole.AcceptRole)
        delete = box.addButton("Disconnect and delete history",
                               QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.keep_button = keep            # type: ignore[attr-defined]
        box.delete_button = delete        # type: ignore[attr-defined]
        hub_id = snap.hub_id

        def chosen(button: Any) -> None:
            if button is keep:
                self.disconnect_portal(hub_id, keep_history=True)
            elif button is delete:
                self.disconnect_portal(hub_id, keep_history=False)
            box.deleteLater()
            self.disconnect_box = None

        box.buttonClicked.connect(chosen)
        self.disconnect_box = box
        box.open()
        return box

    def disconnect_portal(self, hub_id: int, *, keep_history: bool = True) -> None:
        self.disconnect_button.setEnabled(False)
        self.show_notice("Disconnecting…")
        connection = self.services.connection
        self.runner(lambda: connection.disconnect(hub_id, keep_history=keep_history),
                    on_result=lambda steps: self._disconnected(hub_id, steps),
                    on_error=lambda error: self._disconnect_failed(hub_id, error))

    def _disconnected(self, hub_id: int, steps: list[str]) -> None:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in steps)
        self.show_notice(f"<b>Disconnected portal {hub_id}.</b><ul style='margin:2px 0'>"
                         f"{items}</ul>", "ok")
        self.disconnected.emit(steps)
        if hub_id == self._hub_id:
            self.set_portal(None)
        self.portals_changed.emit(None)

    def _disconnect_failed(self, hub_id: int, error: BaseException) -> None:
        self.disconnect_button.setEnabled(True)
        self.show_notice(f"Could not disconnect portal {hub_id}: {html.escape(str(error))}",
                         "error")
