"""Workflows page: every stored workflow of the chosen portal (or of all
portals), searchable and filterable, with "Sync now" and, below, two tabs: the
history of the selected workflow and the portal's Changes feed (what each
sync found, newest first; double-click opens that version in the history).

Rows the app stored a change of since the user last looked at the page are
bold with a marker. "Last looked" is remembered per portal by the change feed
service whenever the list is loaded while the page is on screen. "Last
changed" is HubSpot's ``updatedAt``; the capture time is in its tooltip.

Threads: the list is loaded once per reload off the GUI thread and then only
filtered (by the proxy) and sorted (in Python, see ``WorkflowTableModel.sort``)
on it. The sync runs through the runner with a ``CancelToken``; its progress
callback fires on the worker, so it is handed to the GUI thread by a queued
signal, coalesced to at most one pending update.

The same page browses an opened backup (``read_only`` set): the runner it is
given runs every load inside the backup's binding, syncing is gone, looking
is not remembered (the backup is never written), and the history compares
with the live store instead of HubSpot.

Names are shown verbatim: table cells are plain text (no rich-text delegate),
every label showing user data is ``PlainText``, and tooltips are escaped.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import (QAbstractTableModel, QItemSelection, QModelIndex, QObject,
                            QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal,
                            Slot)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSplitter, QTableView,
                               QTabWidget, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.services.backup_browse import LiveStoreCompare
from wg_desktop.services.changes import ChangeEntry, ChangeFeed, RowMarks, WorkflowListing
from wg_desktop.services.restore import RestoreService
from wg_desktop.services.schedule import CancelToken, JobCancelled
from wg_desktop.services.sync import SyncPaused, SyncProgress, SyncResult, SyncService
from wg_desktop.services.workflows import WorkflowQueries, WorkflowRow
from wg_desktop.ui.json_tree import plain_tooltip
from wg_desktop.ui.table_model import ListTableModel
from wg_desktop.ui.pages.history_panel import HistoryPanel, local_time_text

SEARCH_DEBOUNCE_MS = 200
SELECTION_DEBOUNCE_MS = 120


# -- what is shown (pure) ------------------------------------------------------------------

OBJECT_TYPE_LABELS = {"0-1": "Contact", "0-2": "Company", "0-3": "Deal", "0-5": "Ticket"}


def object_type_label(object_type_id: str) -> str:
    """HubSpot's object type id as a word; unknown ids stay as they are."""
    return OBJECT_TYPE_LABELS.get(object_type_id, object_type_id or "—")


class WorkflowState(enum.StrEnum):
    ON = "on"
    OFF = "off"
    DELETED = "deleted"


STATE_LABELS = {WorkflowState.ON: "On", WorkflowState.OFF: "Off",
                WorkflowState.DELETED: "Deleted"}
_STATE_ORDER = {WorkflowState.ON: 2, WorkflowState.OFF: 1, WorkflowState.DELETED: 0}


def workflow_state(row: WorkflowRow) -> WorkflowState:
    if row.deleted:
        return WorkflowState.DELETED
    return WorkflowState.ON if row.is_enabled else WorkflowState.OFF


@dataclass(frozen=True)
class WorkflowFilter:
    """What the search box and the filter combos ask for. ``text`` matches a
    case-insensitive substring of the name or of the flow id."""

    text: str = ""
    object_type_id: str | None = None
    state: WorkflowState | None = None

    def accepts(self, row: WorkflowRow) -> bool:
        if self.object_type_id is not None and row.object_type_id != self.object_type_id:
            return False
        if self.state is not None and workflow_state(row) is not self.state:
            return False
        needle = self.text.strip().casefold()
        return not needle or needle in row.name.casefold() or needle in row.flow_id.casefold()


class Column(enum.IntEnum):
    NAME = 0
    OBJECT_TYPE = 1
    STATE = 2
    LAST_CHANGED = 3
    VERSIONS = 4
    LAST_SYNCED = 5
    PORTAL = 6


COLUMN_TITLES = {Column.NAME: "Name", Column.OBJECT_TYPE: "Object type",
                 Column.STATE: "State", Column.LAST_CHANGED: "Last changed",
                 Column.VERSIONS: "Versions", Column.LAST_SYNCED: "Last synced",
                 Column.PORTAL: "Portal"}


def _instant(value: dt.datetime | None) -> tuple[int, float]:
    # Never-synced rows sort before every real time (ascending) instead of raising.
    return (0, 0.0) if value is None else (1, value.timestamp())


def last_changed(row: WorkflowRow, marks: RowMarks | None) -> dt.datetime | None:
    """HubSpot's updatedAt when known; else when this app captured the change."""
    if marks is not None and marks.remote_updated is not None:
        return marks.remote_updated
    return row.last_changed


def sort_key(row: WorkflowRow, column: Column, marks: RowMarks | None = None
             ) -> tuple[Any, ...]:
    """The underlying value a column sorts by (numbers as numbers, times as
    instants), then the name and id so equal values keep a stable order."""
    name = row.name.casefold()
    if column is Column.NAME:
        return (name, row.flow_id, row.id)
    primary: Any
    if column is Column.OBJECT_TYPE:
        primary = object_type_label(row.object_type_id).casefold()
    elif column is Column.STATE:
        primary = _STATE_ORDER[workflow_state(row)]
    elif column is Column.LAST_CHANGED:
        primary = _instant(last_changed(row, marks))
    elif column is Column.VERSIONS:
        primary = row.versions
    elif column is Column.LAST_SYNCED:
        primary = _instant(row.last_synced)
    else:
        primary = (row.portal_name.casefold(), row.hub_id)
    return (primary, name, row.id)


def progress_text(progress: SyncProgress) -> str:
    if progress.phase == "listing":
        return f"Listing workflows… {progress.listed:,} so far"
    return (f"{progress.listed:,} listed · {progress.changed:,} to fetch · "
            f"{progress.fetched:,} fetched · {progress.stored:,} new versions stored")


def offline_text(reason: str) -> str:
    return f"Offline — showing stored data ({reason})"


def sync_error_text(error: BaseException, stored_so_far: int) -> str:
    if isinstance(error, JobCancelled):
        return (f"Sync cancelled. Batches already stored are kept "
                f"({stored_so_far:,} new version{'s' if stored_so_far != 1 else ''}).")
    if isinstance(error, SyncPaused):
        return f"Sync paused: {error}"
    return f"Sync failed: {error}"


def last_changed_tooltip(row: WorkflowRow, marks: RowMarks | None) -> str:
    if marks is not None and marks.remote_updated is not None:
        head = f"Changed in HubSpot: {local_time_text(marks.remote_updated)}"
    elif marks is not None and marks.remote_updated_text:
        head = f"Changed in HubSpot: {marks.remote_updated_text}"
    else:
        head = "HubSpot's change time is not known; shown: when this app captured it"
    captured = local_time_text(row.last_changed) if row.last_changed else "never"
    return f"{head}\nCaptured by this app: {captured}"


# -- models --------------------------------------------------------------------------------



def _bold() -> QFont:
    # Built on first use: a QFont needs the application to exist.
    font = QFont()
    font.setBold(True)
    return font
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class WorkflowTableModel(QAbstractTableModel):
    """The loaded rows. Sorting happens here, in Python, on precomputed keys:
    QSortFilterProxyModel's own sort calls ``data()`` back into Python for
    every comparison (about 20,000 calls for 1,000 rows, 60–150 ms on the GUI
    thread), while ``list.sort`` takes well under a millisecond."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[WorkflowRow] = []
        self.marks: dict[int, RowMarks] = {}
        self._sort_column = Column.NAME
        self._sort_order = Qt.SortOrder.AscendingOrder

    def set_rows(self, rows: list[WorkflowRow], marks: dict[int, RowMarks] | None = None
                 ) -> None:
        self.beginResetModel()
        self.marks = dict(marks or {})
        self.rows = self._sorted(rows)
        self.endResetModel()

    def changed_since_look(self, row: WorkflowRow) -> bool:
        marks = self.marks.get(row.id)
        return marks is not None and marks.changed_since_look

    def row_at(self, source_row: int) -> WorkflowRow:
        return self.rows[source_row]

    def source_row_of(self, workflow_id: int) -> int | None:
        for n, row in enumerate(self.rows):
            if row.id == workflow_id:
                return n
        return None

    def _sorted(self, rows: list[WorkflowRow]) -> list[WorkflowRow]:
        column = self._sort_column
        marks = self.marks
        return sorted(rows, key=lambda r: sort_key(r, column, marks.get(r.id)),
                      reverse=self._sort_order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column):
            return
        self._sort_column = Column(column)
        self._sort_order = order
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        kept = [(self.rows[index.row()].id, index.column()) for index in persistent]
        self.rows = self._sorted(self.rows)
        position = {row.id: n for n, row in enumerate(self.rows)}
        self.changePersistentIndexList(
            persistent, [self.index(position[wid], column) for wid, column in kept])
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMN_TITLES[Column(section)]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        marks = self.marks.get(row.id)
        changed = marks is not None and marks.changed_since_look
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, marks)
        if role == Qt.ItemDataRole.FontRole and changed:
            return _bold()
        if role == Qt.ItemDataRole.DecorationRole and changed and column == Column.NAME:
            return theme.color("accent")     # the marker of rows changed since the last look
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.NAME:
                note = "\nChanged since you last looked" if changed else ""
                return plain_tooltip(f"{row.name}\nFlow {row.flow_id}{note}")
            if column == Column.LAST_CHANGED:
                return plain_tooltip(last_changed_tooltip(row, marks))
            if column == Column.OBJECT_TYPE:
                return plain_tooltip(f"Object type {row.object_type_id}")
            if column == Column.PORTAL:
                return plain_tooltip(f"Hub {row.hub_id}")
            return None
        if role == Qt.ItemDataRole.ForegroundRole and row.deleted:
            return theme.color("muted")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == Column.VERSIONS:
            return _RIGHT
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    @staticmethod
    def _display(row: WorkflowRow, column: int, marks: RowMarks | None = None) -> str:
        if column == Column.NAME:
            return row.name or "(unnamed)"
        if column == Column.OBJECT_TYPE:
            return object_type_label(row.object_type_id)
        if column == Column.STATE:
            return STATE_LABELS[workflow_state(row)]
        if column == Column.LAST_CHANGED:
            when = last_changed(row, marks)
            return local_time_text(when) if when else "—"
        if column == Column.VERSIONS:
            return str(row.versions)
        if column == Column.LAST_SYNCED:
            return local_time_text(row.last_synced) if row.last_synced else "never"
        return row.portal_name or str(row.hub_id)


CHANGE_COLUMNS = ("When", "Workflow", "What", "Summary", "Portal")
CHANGE_PORTAL_COLUMN = 4


class ChangesTableModel(ListTableModel):
    """The Changes feed, newest first, as the service answers it."""

    headers = CHANGE_COLUMNS

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return local_time_text(entry.at)[:16]
            if column == 1:
                return entry.name or ("—" if entry.flow_id else "")
            if column == 2:
                return entry.label
            if column == 3:
                return entry.summary
            return entry.portal_name or str(entry.hub_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 1 and entry.flow_id:
                was = f"\nWas named '{entry.renamed_from}'" if entry.renamed_from else ""
                return plain_tooltip(f"{entry.name}\nFlow {entry.flow_id}{was}")
            if column == 3 and entry.summary:
                return plain_tooltip(entry.summary)
        if role == Qt.ItemDataRole.UserRole:
            return entry
        return None


class WorkflowFilterProxy(QSortFilterProxyModel):
    """Filters the rows with a ``WorkflowFilter``; sorting is passed on to the
    source model (see ``WorkflowTableModel``), so this proxy keeps its order."""

    def __init__(self, source: WorkflowTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows = source
        self.filter = WorkflowFilter()
        self.setSourceModel(source)

    def set_filter(self, new: WorkflowFilter) -> None:
        if new == self.filter:
            return
        self.beginFilterChange()
        self.filter = new
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        return self.filter.accepts(self._rows.rows[source_row])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._rows.sort(column, order)


class _ProgressRelay(QObject):
    """Carries sync progress from the worker to the GUI thread, coalesced:
    at most one update is queued; a newer one replaces the waiting one."""

    progressed = Signal(object)
    _posted = Signal()

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: SyncProgress | None = None
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def post(self, progress: SyncProgress) -> None:
        """Any thread."""
        with self._lock:
            already_queued = self._latest is not None
            self._latest = progress
        if not already_queued:
            try:
                self._posted.emit()
            except RuntimeError:
                pass    # the page is gone; the sync itself must not fail for that

    @Slot()
    def _deliver(self) -> None:
        with self._lock:
            progress, self._latest = self._latest, None
        if progress is not None:
            self.progressed.emit(progress)


# -- the page ------------------------------------------------------------------------------

class LowerTab(enum.IntEnum):
    HISTORY = 0
    CHANGES = 1


_BANNER_STYLE = "${warning} border-radius:4px;padding:6px 10px;"   # ui/theme.py template
ANY = None


class WorkflowsPage(QWidget):
    loaded = Signal(int)                  # rows loaded (before filtering)
    sync_finished = Signal(object)        # SyncResult of a completed sync
    sync_failed = Signal(str)             # paused or failed (not emitted on cancel)
    workflow_selected = Signal(int)       # workflow id (after the selection settles)

    def __init__(self, queries: WorkflowQueries, sync: SyncService | None,
                 runner: Callable[..., Any], parent: QWidget | None = None, *,
                 restore: RestoreService | None = None,
                 changes: ChangeFeed | None = None, comparison: bool = True,
                 read_only: str | None = None,
                 store_compare: LiveStoreCompare | None = None) -> None:
        super().__init__(parent)
        self.queries = queries
        # An opened backup: this says so in the banner; nothing is written (its
        # browser passes no sync or restore service, and never sets it offline).
        self.read_only = read_only
        # The feed only reads (and remembers the last look in) the same store.
        self.feed = changes if changes is not None else ChangeFeed(queries.store)
        self._changes_task: Any = None
        self.sync_service = sync
        self._run = runner
        self._hub_id: int | None = None
        self._offline_reason: str | None = None
        self._load_task: Any = None
        self._sync_task: Any = None
        self._sync_cancel: CancelToken | None = None
        self._sync_relay: _ProgressRelay | None = None
        self._last_progress: SyncProgress | None = None

        self.banner = QLabel("")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setWordWrap(True)
        theme.apply_style(self.banner, _BANNER_STYLE)
        self.banner.hide()

        self.search = QLineEdit(placeholderText="Search name or flow id…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(180)
        self.object_type = QComboBox()
        self.object_type.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._fill_object_types([])
        self.state = QComboBox()
        self.state.addItem("All", ANY)
        for state in WorkflowState:
            self.state.addItem(STATE_LABELS[state], state)
        self.sync_button = QPushButton("Sync now")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.hide()

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress_label = QLabel("")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.hide()
        self.count_label = QLabel("")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        theme.apply_style(self.count_label, "color:${muted};")

        self.model = WorkflowTableModel(self)
        self.proxy = WorkflowFilterProxy(self.model, self)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        # Fixed row heights and no ResizeToContents: both would measure all 1,000 rows.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        metrics = self.table.fontMetrics()
        for column, sample in ((Column.OBJECT_TYPE, "Object type"), (Column.STATE, "Deleted"),
                               (Column.LAST_CHANGED, "2026-12-31 23:59:59"),
                               (Column.VERSIONS, "Versions"),
                               (Column.LAST_SYNCED, "2026-12-31 23:59:59"),
                               (Column.PORTAL, "Agency client portal")):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 24)

        self.history = HistoryPanel(queries, runner, restore=restore, comparison=comparison,
                                    store_compare=store_compare)
        self.changes_model = ChangesTableModel(self)
        self.changes_table = QTableView()
        self.changes_table.setModel(self.changes_model)
        self.changes_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.changes_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.changes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes_table.setAlternatingRowColors(True)
        self.changes_table.setWordWrap(False)
        self.changes_table.verticalHeader().setVisible(False)
        self.changes_table.setToolTip("What each sync found, newest first; double-click a "
                                      "change to open that version in the history")
        changes_header = self.changes_table.horizontalHeader()
        changes_header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        changes_header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, sample in ((0, "2026-12-31 23:59"), (1, "A workflow with a long name"),
                               (2, "Renamed · Turned off")):
            self.changes_table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 24)
        self.changes_status = QLabel("")
        self.changes_status.setTextFormat(Qt.TextFormat.PlainText)
        theme.apply_style(self.changes_status, "color:${muted};")
        changes = QWidget()
        changes_layout = QVBoxLayout(changes)
        changes_layout.setContentsMargins(0, 4, 0, 0)
        changes_layout.addWidget(self.changes_table, 1)
        changes_layout.addWidget(self.changes_status)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.setDocumentMode(True)
        self.lower_tabs.addTab(self.history, "History")
        self.lower_tabs.addTab(changes, "Changes")
        self.changes_table.doubleClicked.connect(self._open_change)
        self.lower_tabs.currentChanged.connect(self._lower_tab_changed)
        # A restore changed the workflow's row (revision, name, state): show it.
        self.history.restored.connect(lambda result: self.reload())

        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(QLabel("Object:"))
        bar.addWidget(self.object_type)
        bar.addWidget(QLabel("State:"))
        bar.addWidget(self.state)
        bar.addStretch(1)
        bar.addWidget(self.sync_button)
        bar.addWidget(self.cancel_button)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label, 2)
        self._progress_widgets = (self.progress, self.progress_label)
        self._set_progress_visible(False)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.count_label)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.lower_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(bar)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addWidget(self.splitter, 1)

        # Typing fires many changes; filter once the user pauses.
        self._search_debounce = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._search_debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._search_debounce.start)
        self.object_type.currentIndexChanged.connect(self.apply_filter)
        self.state.currentIndexChanged.connect(self.apply_filter)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        # Arrowing down the table must not start a history load per row passed.
        self._select_debounce = QTimer(self, singleShot=True, interval=SELECTION_DEBOUNCE_MS)
        self._select_debounce.timeout.connect(self._open_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.sync_button.clicked.connect(self.start_sync)
        self.cancel_button.clicked.connect(self.cancel_sync)
        self._update_sync_button()
        if read_only:
            self.sync_button.hide()
            self.banner.setText(read_only)
            self.banner.show()

    # -- public -----------------------------------------------------------------------

    @property
    def hub_id(self) -> int | None:
        return self._hub_id

    @property
    def syncing(self) -> bool:
        return self._sync_task is not None

    def set_portal(self, hub_id: int | None) -> None:
        """Show one portal's workflows (None = every portal) and reload."""
        changed = hub_id != self._hub_id
        self._hub_id = hub_id
        self.table.setColumnHidden(Column.PORTAL, hub_id is not None)
        if changed:
            self.history.clear()
        self._update_sync_button()
        self.reload()

    def set_offline(self, reason: str | None) -> None:
        """Offline (not connected, breaker open): say so and disable syncing;
        everything stored stays browsable. None = online."""
        self._offline_reason = reason
        self.banner.setText(offline_text(reason) if reason else "")
        self.banner.setVisible(bool(reason))
        self._update_sync_button()

    def reload(self) -> None:
        """Load the rows again (off the GUI thread); a late older answer is dropped."""
        if self._load_task is not None:
            self._load_task.discard()
        hub_id = self._hub_id
        # Loaded while on screen: the user is looking now (remembered per portal).
        look, feed, queries = self.isVisible() and not self.read_only, self.feed, self.queries
        self.count_label.setText("Loading…")
        self._load_task = self._run(lambda: feed.listing(queries, hub_id, look=look),
                                    on_result=self._show_rows, on_error=self._load_failed)
        if self.lower_tabs.currentIndex() == LowerTab.CHANGES:
            self.reload_changes()

    def reload_changes(self) -> None:
        """Load the Changes feed of the shown portal(s) (off the GUI thread)."""
        if self._changes_task is not None:
            self._changes_task.discard()
        hub_id, feed = self._hub_id, self.feed
        self.changes_table.setColumnHidden(CHANGE_PORTAL_COLUMN, hub_id is not None)
        self.changes_status.setText("Loading…")
        self._changes_task = self._run(lambda: feed.entries(hub_id),
                                       on_result=self._show_changes,
                                       on_error=self._changes_failed)

    def open_change(self, entry: ChangeEntry) -> bool:
        """Open a change's workflow in the History tab, at the version that
        sync stored (the newest one when it is no longer kept, or for a
        deletion). False for a row without a workflow (a first capture)."""
        if entry.workflow_id is None:
            return False
        self.lower_tabs.setCurrentIndex(LowerTab.HISTORY)
        if entry.version_id is not None:
            self.history.show_version(entry.workflow_id, entry.version_id)
        else:
            self.history.show_workflow(entry.workflow_id)
        self.select_workflow(entry.workflow_id)
        return True

    def current_filter(self) -> WorkflowFilter:
        state = self.state.currentData()     # Qt hands the StrEnum back as a plain str
        return WorkflowFilter(self.search.text(), self.object_type.currentData(),
                              WorkflowState(state) if state else None)

    def apply_filter(self) -> None:
        self._search_debounce.stop()
        self.proxy.set_filter(self.current_filter())
        self._update_count()

    def selected_workflow_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(Qt.ItemDataRole.UserRole) if rows else None

    def select_workflow(self, workflow_id: int) -> bool:
        """Select a workflow in the table (if loaded and not filtered out)."""
        source_row = self.model.source_row_of(workflow_id)
        if source_row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def start_sync(self) -> None:
        """Sync the current portal now (off the GUI thread, cancellable)."""
        allowed, _ = self._sync_allowed()
        if not allowed or self.sync_service is None or self._hub_id is None:
            return
        hub_id = self._hub_id
        service = self.sync_service
        cancel = CancelToken()
        relay = _ProgressRelay(self)
        relay.progressed.connect(self._show_progress)
        self._sync_cancel = cancel
        self._sync_relay = relay
        self._last_progress = None
        self._set_status("")
        self.progress.setRange(0, 0)     # busy until the listing says how much there is
        self.progress_label.setText("Starting sync…")
        self._set_progress_visible(True)
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self._sync_task = self._run(
            lambda: service.sync(hub_id, cancel=cancel, progress=relay.post, interactive=True),
            on_result=self._sync_done, on_error=self._sync_error)
        self._update_sync_button()

    def cancel_sync(self) -> None:
        """Ask the running sync to stop; whole batches already stored are kept."""
        if self._sync_cancel is not None:
            self._sync_cancel.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        # Viewing the page is looking: load again so the look is remembered.
        if self._hub_id is not None and self._load_task is None:
            self.reload()

    # -- loading ---------------------------------------------------------------------

    def _show_rows(self, listing: WorkflowListing) -> None:
        self._load_task = None
        rows = listing.rows
        keep = self.selected_workflow_id()
        self._fill_object_types(rows)
        # The chosen type may be gone from the data (the combo fell back to All).
        self.proxy.set_filter(self.current_filter())
        self.model.set_rows(rows, listing.marks)
        self._update_count()
        self.loaded.emit(len(rows))
        if keep is not None and self.select_workflow(keep):
            self.history.reload()       # a sync may have added versions

    def _load_failed(self, error: BaseException) -> None:
        self._load_task = None
        self.count_label.setText(f"Could not read the stored workflows: {error}")

    def _show_changes(self, entries: list[ChangeEntry]) -> None:
        self._changes_task = None
        self.changes_model.set_rows(entries)
        self.changes_status.setText(f"{len(entries):,} change{'s' if len(entries) != 1 else ''}"
                                    " · newest first" if entries else
                                    "No changes recorded yet: they appear after a sync.")

    def _changes_failed(self, error: BaseException) -> None:
        self._changes_task = None
        self.changes_status.setText(f"Could not read the changes: {error}")

    def _open_change(self, index: QModelIndex) -> None:
        entry = index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        if entry is not None:
            self.open_change(entry)

    def _lower_tab_changed(self, tab: int) -> None:
        if tab == LowerTab.CHANGES:
            self.reload_changes()

    def _fill_object_types(self, rows: list[WorkflowRow]) -> None:
        """The four common types always, plus any other type present in the data."""
        current = self.object_type.currentData() if self.object_type.count() else ANY
        present = {row.object_type_id for row in rows if row.object_type_id}
        others = sorted(present - OBJECT_TYPE_LABELS.keys())
        wanted = [ANY, *OBJECT_TYPE_LABELS, *others]
        existing = [self.object_type.itemData(i) for i in range(self.object_type.count())]
        if existing == wanted:
            return
        self.object_type.blockSignals(True)
        self.object_type.clear()
        self.object_type.addItem("All", ANY)
        for type_id in wanted[1:]:
            self.object_type.addItem(object_type_label(type_id), type_id)
        index = self.object_type.findData(current) if current is not ANY else 0
        self.object_type.setCurrentIndex(max(0, index))
        self.object_type.blockSignals(False)

    def _update_count(self, *args: Any) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        text = f"{total:,} workflow{'s' if total != 1 else ''}"
        if shown != total:
            text += f" · {shown:,} shown"
        marked = sum(1 for row in self.model.rows if self.model.changed_since_look(row))
        if marked:
            text += f" · {marked:,} changed since you last looked (bold)"
        self.count_label.setText(text)

    # -- selection → history -----------------------------------------------------------

    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        self._select_debounce.start()

    def _open_selected(self) -> None:
        workflow_id = self.selected_workflow_id()
        if workflow_id is None:
            return
        if workflow_id != self.history.workflow_id:
            self.history.show_workflow(workflow_id)
        self.workflow_selected.emit(workflow_id)

    # -- sync ------------------------------------------------------------------------

    def _sync_allowed(self) -> tuple[bool, str]:
        if self.sync_service is None:
            return False, "Syncing is not available (no HubSpot connection set up)."
        if self._offline_reason:
            return False, offline_text(self._offline_reason)
        if self._hub_id is None:
            return False, "Choose a portal to sync."
        if self._hub_id < 0:
            return False, "Imported workflows are read-only; there is nothing to sync."
        if self._sync_task is not None:
            return False, "A sync is running."
        return True, "Fetch the workflows that changed in HubSpot since the last sync."

    def _update_sync_button(self) -> None:
        allowed, why = self._sync_allowed()
        self.sync_button.setEnabled(allowed)
        self.sync_button.setToolTip(plain_tooltip(why))    # the reason may hold any text

    def _show_progress(self, progress: SyncProgress) -> None:
        if self._sync_task is None:
            return
        self._last_progress = progress
        if progress.phase == "listing":
            self.progress.setRange(0, 0)
        else:
            total = max(progress.changed, 1)
            self.progress.setRange(0, total)
            self.progress.setValue(total if progress.changed == 0 else progress.fetched)
        if self._sync_cancel is None or not self._sync_cancel.cancelled:
            self.progress_label.setText(progress_text(progress))

    def _finish_sync(self) -> None:
        self._sync_task = None
        self._sync_cancel = None
        if self._sync_relay is not None:
            self._sync_relay.deleteLater()
            self._sync_relay = None
        self._set_progress_visible(False)
        self.cancel_button.hide()
        self.cancel_button.setEnabled(False)
        self._update_sync_button()

    def _sync_done(self, result: SyncResult) -> None:
        self._finish_sync()
        self._set_status(f"Sync finished: {result.summary()}.")
        self.reload()
        self.sync_finished.emit(result)

    def _sync_error(self, error: BaseException) -> None:
        stored = self._last_progress.stored if self._last_progress is not None else 0
        self._finish_sync()
        message = sync_error_text(error, stored)
        self._set_status(message)
        self.reload()               # a cancelled or failed sync may have stored batches
        if not isinstance(error, JobCancelled):
            self.sync_failed.emit(message)

    def _set_status(self, text: str) -> None:
        # An empty line would leave a gap above the table.
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _set_progress_visible(self, visible: bool) -> None:
        for widget in self._progress_widgets:
            widget.setVisible(visible)
