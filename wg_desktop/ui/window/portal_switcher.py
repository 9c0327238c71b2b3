"""The toolbar's portal switcher: which portal every page shows. It re-reads
the portal list off the GUI thread, marks portals that need reconnecting, and
tells the user once when HubSpot stops accepting a portal's sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QToolBar, QWidget

from wg_desktop.constants import APP_DISPLAY_NAME

if TYPE_CHECKING:     # the store's models load after the first frame
    from wg_desktop.services.portal_list import PortalRow

NO_PORTAL = "No portal"


class _ClientEvents(QObject):
    """A client's "reconnect needed" and rate-limit waits (worker threads) -> the GUI thread."""

    reauth_needed = Signal(str)   # portal key
    waiting = Signal(str, float, str)   # portal key, seconds, reason


class PortalSwitcher(QToolBar):
    current_changed = Signal(object)   # hub id or None
    loaded = Signal(object)            # tuple[PortalRow, ...] after every reload
    # The list changed while the same portal stayed current (its state, say).
    current_portal_updated = Signal()

    def __init__(self, runner: Callable[..., Any],
                 load_rows: Callable[[], tuple[PortalRow, ...]] | None,
                 notify: Callable[[str, str], None], show_message: Callable[[str, int], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Portal", parent)
        self.runner = runner
        self.load_rows = load_rows
        self.notify = notify
        self.show_message = show_message
        self.rows: tuple[PortalRow, ...] = ()
        self._current: int | None = None
        self._pending: Any = None
        self._pending_select: int | None = None     # portal wanted by the pending reload
        self._notified_reconnect: set[int] = set()
        self.setObjectName("portalToolbar")
        self.setMovable(False)
        self.addWidget(QLabel(" Portal: "))
        self.combo = QComboBox()
        self.combo.setObjectName("portalSwitcher")
        self.combo.setMinimumWidth(260)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.addItem(NO_PORTAL, None)
        self.combo.setEnabled(False)
        self.combo.currentIndexChanged.connect(self._index_changed)
        self.addWidget(self.combo)

    def current(self) -> int | None:
        return self._current

    def select(self, hub_id: int | None) -> None:
        index = self.combo.findData(hub_id) if hub_id is not None else -1
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def name_of(self, hub_id: int, default: str = "") -> str:
        return next((row.name for row in self.rows if row.hub_id == hub_id), default)

    def reload(self, select: int | None = None) -> None:
        """Re-read the portal list (off the GUI thread) into the switcher."""
        if self.load_rows is None:
            return
        if self._pending is not None:
            self._pending.discard()
            # A reload that replaces one still pending keeps its wanted portal.
            select = select if select is not None else self._pending_select
        self._pending_select = select
        self._pending = self.runner(
            self.load_rows, on_result=lambda rows: self.apply(rows, select),
            on_error=lambda error: self.show_message(f"Could not read the portals: {error}",
                                                     8000))

    def apply(self, rows: tuple[PortalRow, ...], select: int | None = None) -> None:
        self._pending = None
        wanted = select if select is not None else self._current
        changed = rows != self.rows
        combo = self.combo
        if changed:
            self.rows = rows
            combo.blockSignals(True)
            combo.clear()
            if not rows:
                combo.addItem(NO_PORTAL, None)
            for row in rows:
                combo.addItem(row.label, row.hub_id)
            combo.setEnabled(bool(rows))
            combo.blockSignals(False)
        index = combo.findData(wanted) if wanted is not None else -1
        combo.blockSignals(True)
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)
        before = self._current
        self._index_changed(combo.currentIndex())
        if changed and before is not None and before == self._current:
            self.current_portal_updated.emit()
        self._notify_reconnects(rows)
        self.loaded.emit(rows)

    def _index_changed(self, index: int) -> None:
        hub_id = self.combo.itemData(index) if index >= 0 else None
        if hub_id == self._current:
            return
        self._current = hub_id
        self.current_changed.emit(hub_id)

    # -- reconnect notices and waits ------------------------------------------------------

    def watch_clients(self, clients: Any) -> None:
        """Hear every HubSpot client's "reconnect needed" and rate-limit waits."""
        events = _ClientEvents(self)
        events.reauth_needed.connect(self._client_needs_reauth)
        events.waiting.connect(self._client_waiting)

        def watch(client: Any) -> None:
            # Runs inside PortalClients.client(): it must never raise there.
            try:
                client.add_reauth_listener(events.reauth_needed.emit)
                client.add_wait_listener(events.waiting.emit)
            except RuntimeError:
                pass          # the window is gone (its C++ side deleted)

        clients.on_new_client(watch)

    def _notify_reconnects(self, rows: tuple[PortalRow, ...]) -> None:
        needing = {row.hub_id: row.name for row in rows if row.needs_reconnect}
        for hub_id in needing.keys() - self._notified_reconnect:
            self._notify_reconnect(hub_id, needing[hub_id])
        self._notified_reconnect = set(needing)

    def _notify_reconnect(self, hub_id: int, name: str) -> None:
        self.notify("Reconnect needed",
                    f"HubSpot no longer accepts the sign-in of {name or hub_id}. Open "
                    f"{APP_DISPLAY_NAME} → Connection and press Reconnect.")

    def _client_waiting(self, portal_key: str, seconds: float, reason: str) -> None:
        """Say why nothing seems to happen: a rate-limit or back-off wait."""
        name = next((row.name for row in self.rows if str(row.hub_id) == portal_key),
                    portal_key)
        self.show_message(f"{name}: waiting {seconds:.0f} s — {reason}",
                          int(max(seconds, 3) * 1000))

    def _client_needs_reauth(self, portal_key: str) -> None:
        if not portal_key.isdigit():
            return
        hub_id = int(portal_key)
        if hub_id not in self._notified_reconnect:
            self._notified_reconnect.add(hub_id)
            self._notify_reconnect(hub_id, self.name_of(hub_id))
        self.reload()
