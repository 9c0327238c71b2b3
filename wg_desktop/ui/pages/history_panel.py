"""History panel: the stored versions of one workflow, newest first, and a
read-only viewer of the selected version: first in words (the trigger, the
steps, branches indented), then as a collapsible JSON tree or the raw JSON.
"Compare…" opens the diff view on two versions of the history. With a
restore service (HubSpot set up), "Restore this version…" (button and the
timeline's context menu) opens the restore dialog for a synced workflow; an
imported one has no live workflow to restore to, so the control is hidden.
"Compare with live" (same conditions, and the workflow not deleted in
HubSpot) opens the diff view with the live workflow as the right side; it is
read through the restore service's HubSpot clients, on the worker.

In an opened backup's browser (``store_compare`` given) "Compare with the live
store" diffs a version of the backup with the live store's latest version of
the same workflow; restore and compare-with-live are never offered there.

Opened for a search hit (``show_version(..., highlight=text)``), the viewer
selects the first line in words and the first place in the raw JSON where the
matched text occurs.

Every read (the history list, a version's body) runs through the runner; the
words, the JSON tree and the raw text are built on the worker too, so the GUI
thread only swaps finished results in. Selecting versions quickly is
debounced, and a late answer for a version (or workflow) that is no longer
selected is discarded.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import (QAbstractTableModel, QItemSelection, QModelIndex,
                            QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal)
from PySide6.QtGui import QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QFileDialog, QMenu, QPlainTextEdit, QPushButton, QSplitter,
                               QTabWidget, QTableView, QTextEdit, QTreeView, QVBoxLayout,
                               QWidget)

from wg_desktop.ui import theme
from wg_desktop.flows.words import WordLine, readable_lines
from wg_desktop.services.backup_browse import LiveStoreCompare, portal_label
from wg_desktop.services.compare import CompareService
from wg_desktop.services.restore import RestoreService
from wg_desktop.services.workflows import VersionInfo, WorkflowNotFound, WorkflowQueries
from wg_desktop.ui.json_tree import JsonNode, JsonTreeModel, build_json_tree, plain_tooltip
from wg_desktop.ui.pages.diff_view import LIVE_ID, DiffView, VersionChoice, default_pair
from wg_desktop.ui.pages.readable_view import ReadableView
from wg_desktop.ui.pages.restore_dialog import RestoreDialog

SELECTION_DEBOUNCE_MS = 150
COMPARE_SHORTCUT = "Ctrl+D"


# -- what is shown (pure) ------------------------------------------------------------------

ORIGIN_LABELS = {"sync": "Sync", "restore": "Restore", "pre-restore": "Before restore",
                 "import": "Import"}


def origin_label(origin: str) -> str:
    return ORIGIN_LABELS.get(origin, origin)


def local_time_text(value: dt.datetime | None) -> str:
    """An aware UTC instant as local wall-clock time (naive values are taken as UTC)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def size_text(n: int) -> str:
    """1 536 -> '1.5 KB' (binary units, one decimal above bytes)."""
    value = float(n)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def version_label(number: int, info: VersionInfo) -> str:
    """How a version is named in pickers: 'v3 · 2026-03-03 09:30 · Sync'."""
    return f"v{number} · {local_time_text(info.captured_at)[:16]} · {origin_label(info.origin)}"


def version_choices(versions: list[VersionInfo]) -> list[VersionChoice]:
    """The versions (newest first, as the store lists them) as the pickers
    name them: numbered from the oldest, 'v3 · 2026-03-03 09:30 · Sync'."""
    total = len(versions)
    return [VersionChoice(info.id, total - row, version_label(total - row, info))
            for row, info in enumerate(versions)]


def format_json(document: Any) -> str:
    """Pretty JSON for the raw view; key order as stored, non-ASCII kept."""
    return json.dumps(document, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class WorkflowHistory:
    """What ``show_workflow`` loads: the header facts and the timeline."""

    workflow_id: int
    name: str
    flow_id: str
    hub_id: int
    deleted: bool
    versions: list[VersionInfo]
    source: str = "sync"             # sync | imported: only a synced one can be restored
    portal: str = ""                 # how the portal is named ("imported from <file>")


@dataclass(frozen=True)
class LoadedVersion:
    """A version ready to show in words (built off the GUI thread). Its JSON
    tree and raw text, for the secondary tabs, follow in a second task
    (:func:`version_detail`): the words are what the user waits for."""

    info: VersionInfo
    number: int
    total: int
    words: list[WordLine]
    document: Any


@dataclass(frozen=True)
class VersionDetail:
    """A version's JSON tree and pretty text (built off the GUI thread)."""

    tree: JsonNode
    raw_text: str


def version_detail(document: Any) -> VersionDetail:
    """Worker thread."""
    return VersionDetail(build_json_tree(document), format_json(document))


class HistoryChanged(LookupError):
    """The selected version is no longer stored (pruned, or the history moved)."""


def load_history(queries: WorkflowQueries, workflow_id: int) -> WorkflowHistory:
    """Worker thread."""
    workflow = queries.get(workflow_id)
    versions = queries.history(workflow)
    return WorkflowHistory(workflow.id, workflow.name, workflow.flow_id, workflow.portal.hub_id,
                           workflow.deleted_at is not None, versions, workflow.source,
                           portal_label(workflow.portal))


def load_version(queries: WorkflowQueries, workflow_id: int, version_id: int) -> LoadedVersion:
    """Worker thread."""
    workflow = queries.get(workflow_id)
    try:
        info, number, total, document = queries.version_by_id(workflow, version_id)
    except WorkflowNotFound:
        raise HistoryChanged("This version is no longer stored; the history was "
                             "reloaded.") from None
    return LoadedVersion(info, number, total, readable_lines(document), document)


def select_first(editor: QPlainTextEdit, text: str) -> bool:
    """Select the first occurrence of ``text`` (case-insensitive, as the
    search matched it), scroll to it and mark it: the selection alone fades
    when the editor does not have the focus."""
    found = editor.document().find(text)
    marks = []
    if not found.isNull():
        editor.setTextCursor(found)
        editor.ensureCursorVisible()
        mark = QTextEdit.ExtraSelection()
        mark.cursor = found
        mark.format.setBackground(theme.color("highlight_bg"))
        marks.append(mark)
    editor.setExtraSelections(marks)
    return not found.isNull()


# -- models --------------------------------------------------------------------------------

VERSION_COLUMNS = ("#", "Captured", "Origin", "Summary", "Size")
ALL_ORIGINS = ""


class VersionTableModel(QAbstractTableModel):
    """The timeline, newest first, as the store answers it."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.versions: list[VersionInfo] = []

    def set_versions(self, versions: list[VersionInfo]) -> None:
        self.beginResetModel()
        self.versions = list(versions)
        self.endResetModel()

    def number(self, row: int) -> int:
        return len(self.versions) - row

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.versions)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(VERSION_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return VERSION_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        info = self.versions[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"v{self.number(index.row())}"
            if column == 1:
                return local_time_text(info.captured_at)[:16]     # seconds in the tooltip
            if column == 2:
                return origin_label(info.origin)
            if column == 3:
                return info.summary
            return size_text(info.raw_size)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 3 and info.summary:
                return plain_tooltip(info.summary)
            if column == 4:
                return (f"{info.raw_size:,} bytes of JSON, {info.stored_size:,} bytes stored "
                        "(compressed)")
            if column == 1:
                text = f"Captured {local_time_text(info.captured_at)}"
                if info.revision_id:
                    text += (f"\nHubSpot revision {info.revision_id}, updated "
                             f"{info.remote_updated_at or 'unknown'}")
                return plain_tooltip(text)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return info.id
        return None


class OriginFilterProxy(QSortFilterProxyModel):
    """Keeps the store's newest-first order; filters by origin."""

    def __init__(self, source: VersionTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self._versions = source
        self._origin = ALL_ORIGINS
        self.setSourceModel(source)

    def set_origin(self, origin: str) -> None:
        self.beginFilterChange()
        self._origin = origin
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        return not self._origin or self._versions.versions[source_row].origin == self._origin


# -- the panel -----------------------------------------------------------------------------

class ViewerTab:
    """The viewer's tabs, in order: words first, JSON for the details."""

    READABLE = 0
    TREE = 1
    RAW = 2


class HistoryPanel(QWidget):
    restored = Signal(object)        # RestoreResult: HubSpot and the store changed

    def __init__(self, queries: WorkflowQueries, runner: Callable[..., Any],
                 parent: QWidget | None = None, *,
                 restore: RestoreService | None = None,
                 comparison: bool = True,
                 store_compare: LiveStoreCompare | None = None) -> None:
        super().__init__(parent)
        self.queries = queries
        self._run = runner
        self.restore_service = restore
        # An opened backup's history: its versions against the live store's.
        self.store_compare = store_compare
        # The workflow_comparison feature: off hides Compare (button, menu, shortcut).
        self.comparison = comparison
        self._restorable = False         # the shown workflow was synced (not imported)
        self._deleted = False            # the shown workflow is gone from HubSpot
        # (version id, text) a search hit asked to find once that version is open.
        self._highlight: tuple[int, str] | None = None
        self._raw_highlight: str | None = None   # to select when the raw text is laid out
        self._workflow_id: int | None = None
        self._history_task: Any = None
        self._version_task: Any = None
        self._shown_version: int | None = None
        self._wanted_version: int | None = None   # open this one when the history arrives
        self._detail_task: Any = None     # building the open version's tree and text
        self._raw_text = ""              # the open version's JSON text, for the raw view
        self._raw_stale = False          # the raw view does not show _raw_text yet

        self.title = QLabel("Select a workflow to see its history")
        self.title.setTextFormat(Qt.TextFormat.PlainText)   # names are shown verbatim
        self.title.setWordWrap(True)
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.15)
        self.title.setFont(title_font)
        self.subtitle = QLabel("")
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        theme.apply_style(self.subtitle, "color:${muted};")
        self.origin = QComboBox()
        self.origin.addItem("All origins", ALL_ORIGINS)
        for origin, label in ORIGIN_LABELS.items():
            self.origin.addItem(label, origin)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.hide()

        self.versions_model = VersionTableModel(self)
        self.versions_proxy = OriginFilterProxy(self.versions_model, self)
        self.timeline = QTableView()
        self.timeline.setModel(self.versions_proxy)
        self.timeline.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.timeline.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.timeline.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.timeline.setAlternatingRowColors(True)
        self.timeline.setWordWrap(False)
        self.timeline.verticalHeader().setVisible(False)
        header = self.timeline.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        # Widths from the font (not ResizeToContents, which measures every row).
        metrics = self.timeline.fontMetrics()
        bold = QFont(header.font())
        bold.setBold(True)       # some styles draw header text bold
        header_metrics = QFontMetrics(bold)
        for column, sample in ((0, "v100"), (1, "2026-12-31 23:59"), (2, "Restore"),
                               (4, "1023.9 KB")):
            width = max(metrics.horizontalAdvance(sample),
                        header_metrics.horizontalAdvance(VERSION_COLUMNS[column]))
            self.timeline.setColumnWidth(column, width + 20)

        self.caption = QLabel("No version selected")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setToolTip("A read-only view of the stored definition")
        self.expand_button = QPushButton("Expand all")
        self.collapse_button = QPushButton("Collapse all")
        self.save_button = QPushButton("Save JSON…")
        self.save_button.setToolTip("Save this version as a JSON file")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip(
            f"Compare this version with the one before it, or any two versions "
            f"({QKeySequence(COMPARE_SHORTCUT).toString(QKeySequence.SequenceFormat.NativeText)})")
        self.restore_button = QPushButton("Restore this version…")
        self.restore_button.setToolTip("Plan restoring this version to HubSpot: you see what "
                                       "changes and confirm before anything is sent")
        self.restore_button.hide()       # shown for synced workflows when HubSpot is set up
        self.live_button = QPushButton("Compare with live")
        self.live_button.setToolTip("Compare this version with the workflow as HubSpot holds "
                                    "it now (read from HubSpot)")
        self.live_button.hide()          # same conditions as restore, and not deleted
        self.live_store_button = QPushButton("Compare with the live store")
        self.live_store_button.setToolTip("Compare this version of the backup with the newest "
                                          "version of the same workflow in the live store")
        self.readable = ReadableView()
        self.json_model = JsonTreeModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.json_model)
        self.tree.setUniformRowHeights(True)     # fast scrolling through big definitions
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.header().setStretchLastSection(True)
        self.tree.setColumnWidth(0, 220)
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.raw.setFont(mono)
        self.viewer_tabs = QTabWidget()
        self.viewer_tabs.setDocumentMode(True)
        self.viewer_tabs.addTab(self.readable, "Readable")
        self.viewer_tabs.addTab(self.tree, "JSON tree")
        self.viewer_tabs.addTab(self.raw, "Raw JSON")
        self.viewer_tabs.setTabToolTip(ViewerTab.READABLE,
                                       "The version in words, as HubSpot's editor reads it")
        self.viewer_tabs.setTabToolTip(ViewerTab.RAW, "The stored JSON as text")

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        top.addLayout(titles, 1)
        top.addWidget(QLabel("Origin:"))
        top.addWidget(self.origin)

        viewer_bar = QHBoxLayout()
        viewer_bar.addWidget(self.caption, 1)
        viewer_bar.addWidget(self.expand_button)
        viewer_bar.addWidget(self.collapse_button)
        viewer_bar.addWidget(self.compare_button)
        if not comparison:      # never setVisible(True) here: still parentless, it
            self.compare_button.hide()     # would open as a window of its own
        viewer_bar.addWidget(self.live_button)
        viewer_bar.addWidget(self.live_store_button)
        if store_compare is None or not comparison:     # hide only, as Compare above
            self.live_store_button.hide()
        viewer_bar.addWidget(self.restore_button)
        viewer_bar.addWidget(self.save_button)
        viewer = QWidget()
        viewer_layout = QVBoxLayout(viewer)
        viewer_layout.setContentsMargins(0, 0, 0, 0)
        viewer_layout.addLayout(viewer_bar)
        viewer_layout.addWidget(self.viewer_tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.timeline)
        self.splitter.addWidget(viewer)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 540])     # room for the summary next to the viewer
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)

        # Arrowing through the timeline must not start a load per row passed.
        self._select_debounce = QTimer(self, singleShot=True, interval=SELECTION_DEBOUNCE_MS)
        self._select_debounce.timeout.connect(self._load_selected_version)
        self.timeline.selectionModel().selectionChanged.connect(self._on_version_selection)
        self.origin.currentIndexChanged.connect(
            lambda: self.versions_proxy.set_origin(self.origin.currentData()))
        self.viewer_tabs.currentChanged.connect(self._tab_changed)
        self.save_button.clicked.connect(self._choose_save_file)
        self.compare_button.clicked.connect(lambda: self.compare())
        self.restore_button.clicked.connect(lambda: self.restore_version())
        self.live_button.clicked.connect(lambda: self.compare_live())
        self.live_store_button.clicked.connect(lambda: self.compare_with_live_store())
        self.timeline.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.timeline.customContextMenuRequested.connect(self._timeline_menu)
        compare_shortcut = QShortcut(QKeySequence(COMPARE_SHORTCUT), self)
        compare_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        compare_shortcut.activated.connect(lambda: self.compare())
        self.expand_button.clicked.connect(self.tree.expandAll)
        self.collapse_button.clicked.connect(self.tree.collapseAll)
        self._set_viewer_enabled(False)

    # -- public -----------------------------------------------------------------------

    @property
    def workflow_id(self) -> int | None:
        return self._workflow_id

    @property
    def shown_version_id(self) -> int | None:
        """The version whose JSON is in the viewer (None while empty)."""
        return self._shown_version

    def show_workflow(self, workflow_id: int) -> None:
        """Load the timeline of ``workflow_id`` (the newest version is then opened)."""
        self._drop_pending()
        if workflow_id != self._workflow_id:
            self._wanted_version = None
            self._highlight = None       # asked for a version of the previous workflow
        self._workflow_id = workflow_id
        self.subtitle.setText("Loading history…")
        self._history_task = self._run(
            lambda: load_history(self.queries, workflow_id),
            on_result=lambda history: self._show_history(workflow_id, history),
            on_error=lambda error: self._history_failed(workflow_id, error))

    def reload(self) -> None:
        if self._workflow_id is not None:
            self.show_workflow(self._workflow_id)

    def show_version(self, workflow_id: int, version_id: int, *,
                     highlight: str | None = None) -> None:
        """Load the timeline of ``workflow_id`` and open ``version_id`` in it
        (e.g. a search hit), whatever was open before. ``highlight``: text to
        select where it first occurs in the words and in the raw JSON."""
        self.show_workflow(workflow_id)
        self._wanted_version = version_id
        text = (highlight or "").strip()
        self._highlight = (version_id, text) if text else None

    def clear(self) -> None:
        self._drop_pending()
        self._workflow_id = None
        self._wanted_version = None
        self.versions_model.set_versions([])
        self._restorable = False
        self._deleted = False
        self._highlight = None
        self._raw_highlight = None
        self.restore_button.hide()
        self.live_button.hide()
        self._clear_viewer()
        self.title.setText("Select a workflow to see its history")
        self.subtitle.setText("")
        self._set_status("")

    def select_version(self, version_id: int) -> bool:
        """Select (and so open) a version in the timeline; False if not listed.
        A version hidden by the origin filter is shown by clearing the filter."""
        if not any(info.id == version_id for info in self.versions_model.versions):
            return False
        if self._row_of(version_id) < 0 and self.origin.currentData() != ALL_ORIGINS:
            self.origin.setCurrentIndex(self.origin.findData(ALL_ORIGINS))
        row = self._row_of(version_id)
        if row < 0:
            return False
        self.timeline.selectRow(row)
        self.timeline.scrollTo(self.versions_proxy.index(row, 0))
        return True

    def _row_of(self, version_id: int) -> int:
        for row in range(self.versions_proxy.rowCount()):
            if self.versions_proxy.index(row, 0).data(Qt.ItemDataRole.UserRole) == version_id:
                return row
        return -1

    def compare(self, old_id: int | None = None, new_id: int | None = None, *,
                live: CompareService | None = None) -> DiffView | None:
        """Open the diff view on two versions of this history; by default the
        selected version and the one before it. None when there is no history.
        With ``live``, "Live in HubSpot now" (``LIVE_ID``) is a right side too."""
        versions = self.versions_model.versions
        if not self.comparison or self._workflow_id is None or not versions:
            return None
        choices = version_choices(versions)
        default_old, default_new = default_pair([c.id for c in choices],
                                                self._selected_version_id())
        if live is None and self.can_compare_live:
            assert self.restore_service is not None
            live = CompareService.from_restore(self.restore_service)   # offered in the pickers
        if live is None and self.store_compare is not None:
            live = self.store_compare          # an opened backup: the live store's side
        view = DiffView(self.queries, self._run, self._workflow_id, self.title.text(), choices,
                        old_id if old_id is not None else default_old,
                        new_id if new_id is not None else default_new, parent=self,
                        compare=live)
        view.show()
        view.raise_()
        return view

    @property
    def can_compare_live(self) -> bool:
        """Whether "Compare with live" is offered for the shown workflow."""
        return (self.comparison and self.restore_service is not None and self._restorable
                and not self._deleted)

    def compare_live(self, version_id: int | None = None) -> DiffView | None:
        """Open the diff view on a version (the selected one by default) and
        the workflow as HubSpot holds it now. The read happens on the worker."""
        version_id = version_id if version_id is not None else self._selected_version_id()
        if not self.can_compare_live or version_id is None or self._workflow_id is None:
            return None
        assert self.restore_service is not None
        return self.compare(version_id, LIVE_ID,
                            live=CompareService.from_restore(self.restore_service))

    def compare_with_live_store(self, version_id: int | None = None) -> DiffView | None:
        """An opened backup's version (the selected one by default) against the
        live store's latest version of the same workflow."""
        version_id = version_id if version_id is not None else self._selected_version_id()
        if self.store_compare is None or version_id is None or self._workflow_id is None:
            return None
        return self.compare(version_id, LIVE_ID, live=self.store_compare)

    @property
    def can_restore(self) -> bool:
        """Whether restoring is offered for the shown workflow."""
        return self.restore_service is not None and self._restorable

    def restore_version(self, version_id: int | None = None) -> RestoreDialog | None:
        """Open the restore dialog on a version (the selected one by default).
        It plans first; nothing is sent until the user confirms there."""
        version_id = version_id if version_id is not None else self._selected_version_id()
        if not self.can_restore or version_id is None or self._workflow_id is None:
            return None
        assert self.restore_service is not None
        dialog = RestoreDialog(self.restore_service, self._run, self._workflow_id, version_id,
                               parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self._restored)
        dialog.show()
        dialog.raise_()
        return dialog

    def _restored(self, result: Any) -> None:
        self.reload()                # the pre-restore and restore versions were stored
        self.restored.emit(result)

    def _timeline_menu(self, position: Any) -> None:
        index = self.timeline.indexAt(position)
        if not index.isValid():
            return
        version_id = index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        if self.comparison:
            compare = menu.addAction("Compare with the version before…")
            compare.triggered.connect(lambda: self._compare_with_previous(version_id))
        if self.can_compare_live:
            live = menu.addAction("Compare with live")
            live.triggered.connect(lambda: self.compare_live(version_id))
        if self.store_compare is not None and self.comparison:
            live_store = menu.addAction("Compare with the live store")
            live_store.triggered.connect(lambda: self.compare_with_live_store(version_id))
        if self.can_restore:
            restore = menu.addAction("Restore this version…")
            restore.triggered.connect(lambda: self.restore_version(version_id))
        if menu.actions():
            menu.popup(self.timeline.viewport().mapToGlobal(position))

    def _compare_with_previous(self, version_id: int) -> None:
        ids = [info.id for info in self.versions_model.versions]
        old, new = default_pair(ids, version_id)
        self.compare(old, new)

    # -- loading ---------------------------------------------------------------------

    def _drop_pending(self) -> None:
        self._select_debounce.stop()
        for task in (self._history_task, self._version_task):
            if task is not None:
                task.discard()          # its answer is for a previous selection
        self._history_task = self._version_task = None

    def _show_history(self, workflow_id: int, history: WorkflowHistory) -> None:
        self._history_task = None
        self.title.setText(history.name or "(unnamed workflow)")
        state = " · deleted in HubSpot (history kept)" if history.deleted else ""
        count = len(history.versions)
        portal = (history.portal or f"portal {history.hub_id}") if history.hub_id < 0 \
            else f"portal {history.hub_id}"
        self.subtitle.setText(f"Flow {history.flow_id} · {portal} · "
                              f"{count} version{'s' if count != 1 else ''}{state}")
        # A version asked for (a search hit) wins; a reload of the same history
        # keeps the open version; else the newest is opened.
        wanted = self._wanted_version if self._wanted_version is not None else self._shown_version
        self._wanted_version = None
        self.versions_model.set_versions(history.versions)
        self._restorable = history.source == "sync"
        self._deleted = history.deleted
        self.restore_button.setVisible(self.can_restore)
        self.live_button.setVisible(self.can_compare_live)
        self._set_status("" if count else "No stored version yet.")
        self.compare_button.setEnabled(count > 0)
        if not (wanted is not None and self.select_version(wanted)):
            self._clear_viewer()
            if self.versions_proxy.rowCount():
                self.timeline.selectRow(0)
        elif self._highlight is not None and self._highlight[0] == self._shown_version:
            # The hit's version was open already: no load follows to apply it.
            self._apply_highlight(self._highlight[1])
            self._highlight = None
            if self.viewer_tabs.currentIndex() == ViewerTab.RAW:
                self._fill_raw()

    def _history_failed(self, workflow_id: int, error: BaseException) -> None:
        self._history_task = None
        self.versions_model.set_versions([])
        self._clear_viewer()
        message = (str(error) if isinstance(error, WorkflowNotFound)
                   else f"Could not read the history: {error}")
        self._set_status(message)

    def _on_version_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        if self._version_task is not None:
            self._version_task.discard()    # superseded by the new selection
            self._version_task = None
        self._select_debounce.start()

    def _selected_version_id(self) -> int | None:
        rows = self.timeline.selectionModel().selectedRows()
        return rows[0].data(Qt.ItemDataRole.UserRole) if rows else None

    def _load_selected_version(self) -> None:
        version_id = self._selected_version_id()
        workflow_id = self._workflow_id
        if version_id is None or workflow_id is None:
            return
        if version_id == self._shown_version:
            return
        if self._version_task is not None:
            self._version_task.discard()
        self.caption.setText("Loading version…")
        self._version_task = self._run(
            lambda: load_version(self.queries, workflow_id, version_id),
            on_result=self._show_version, on_error=self._version_failed)

    def _show_version(self, loaded: LoadedVersion) -> None:
        self._version_task = None
        info = loaded.info
        self._shown_version = info.id
        self.caption.setText(f"v{loaded.number} of {loaded.total} · "
                             f"{local_time_text(info.captured_at)} · "
                             f"{origin_label(info.origin)}")
        self.readable.set_lines(loaded.words)
        self.json_model.clear()
        self._raw_text = ""
        self._raw_stale = True
        self._raw_highlight = None
        if self._highlight is not None and self._highlight[0] == info.id:
            self._apply_highlight(self._highlight[1])
            self._highlight = None
        self._set_status("")
        self._set_viewer_enabled(True)
        if self._detail_task is not None:
            self._detail_task.discard()
        document = loaded.document
        self._detail_task = self._run(lambda: version_detail(document),
                                      on_result=lambda detail: self._show_detail(info.id, detail),
                                      on_error=lambda error: self._detail_failed(info.id, error))

    def _show_detail(self, version_id: int, detail: VersionDetail) -> None:
        self._detail_task = None
        if version_id != self._shown_version:
            return                              # another version was opened meanwhile
        self.json_model.set_tree(detail.tree)
        self.tree.expandToDepth(0)
        # Laying out a large text costs the GUI thread; only when it is on screen.
        self._raw_text = detail.raw_text
        self._raw_stale = True
        if self.viewer_tabs.currentIndex() == ViewerTab.RAW:
            self._fill_raw()

    def _detail_failed(self, version_id: int, error: BaseException) -> None:
        """The tree and text could not be built: the words stay; only said
        when that version is still the one shown."""
        self._detail_task = None
        if version_id != self._shown_version:
            return
        self._set_status(f"Could not build the JSON views of this version: {error}")

    def _apply_highlight(self, text: str) -> None:
        """Select the first occurrence of ``text`` in the words; the raw JSON
        selects it when laid out (not before: that costs the GUI thread). When
        the words do not name it (a property id, an internal field), the raw
        tab is brought forward, where every stored value is."""
        self._raw_highlight = text
        if self.readable.highlight(text) is None:
            self.viewer_tabs.setCurrentIndex(ViewerTab.RAW)
        else:
            self.viewer_tabs.setCurrentIndex(ViewerTab.READABLE)

    def _version_failed(self, error: BaseException) -> None:
        self._version_task = None
        self._clear_viewer()
        if isinstance(error, (HistoryChanged, WorkflowNotFound)):
            message = str(error)
        else:
            message = f"Could not open this version: {error}"
        self.caption.setText("Could not open this version")
        self._set_status(message)
        if isinstance(error, HistoryChanged):
            self.reload()

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # -- viewer --------------------------------------------------------------------------

    def _clear_viewer(self) -> None:
        if self._detail_task is not None:
            self._detail_task.discard()     # the tree and text of a version no longer shown
            self._detail_task = None
        self._shown_version = None
        self.readable.clear()
        self.json_model.clear()
        self.raw.setExtraSelections([])
        self.raw.clear()
        self._raw_text = ""
        self._raw_highlight = None
        self._raw_stale = False
        self.caption.setText("No version selected")
        self._set_viewer_enabled(False)

    def _set_viewer_enabled(self, enabled: bool) -> None:
        for widget in (self.expand_button, self.collapse_button):
            widget.setEnabled(enabled and self.viewer_tabs.currentIndex() == ViewerTab.TREE)
        self.save_button.setEnabled(enabled)
        self.compare_button.setEnabled(bool(self.versions_model.versions))
        self.restore_button.setEnabled(enabled and self.can_restore)
        self.live_button.setEnabled(enabled and self.can_compare_live)
        self.live_store_button.setEnabled(enabled and self.store_compare is not None)

    def _choose_save_file(self) -> None:
        if self._shown_version is None or self.workflow_id is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save version as JSON",
                                              f"workflow-{self.workflow_id}-version.json",
                                              "JSON files (*.json)")
        if path:
            self.save_version(Path(path))

    def save_version(self, path: Path) -> None:
        """Write the shown version to ``path`` (off the GUI thread)."""
        workflow_id, version_id = self.workflow_id, self._shown_version
        if workflow_id is None or version_id is None:
            return
        self._run(lambda: self.queries.export_version_json(workflow_id, version_id, path),
                  on_result=lambda size: self._set_status(f"Saved {path.name}."),
                  on_error=lambda error: self._set_status(f"Could not save: {error}"))

    def _fill_raw(self) -> None:
        if not self._raw_text:
            return               # the text is still being built; filled when it arrives
        if self._raw_stale:
            self.raw.setExtraSelections([])      # marks of the previous version's text
            self.raw.setPlainText(self._raw_text)
            self._raw_stale = False
        if self._raw_highlight is not None:
            select_first(self.raw, self._raw_highlight)
            self._raw_highlight = None

    def raw_selection(self) -> str:
        """The text selected in the raw JSON view ('' when none)."""
        return self.raw.textCursor().selectedText()

    def _tab_changed(self, tab: int) -> None:
        if tab == ViewerTab.RAW:
            self._fill_raw()
        # Expanding only means something for the tree.
        for widget in (self.expand_button, self.collapse_button):
            widget.setEnabled(tab == ViewerTab.TREE and self._shown_version is not None)
