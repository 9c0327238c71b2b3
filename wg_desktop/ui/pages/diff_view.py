"""The diff view: two versions of one workflow compared. The plain-language
summary (grouped: workflow, triggers, actions, settings) is on top, the
canonical JSON of both versions side by side below with the changed lines
highlighted. Given a compare service (HubSpot set up, a synced workflow), the
right side can also be "Live in HubSpot now": read from HubSpot each time the
pair is compared, on the worker like the rest.

The comparison itself is ``flows.diff`` (pure, tested without Qt). It runs on
a worker through the runner, as does writing the HTML file; the GUI thread
only swaps finished results in. Choosing other versions while a comparison is
running drops the late answer of the older request.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog,
                               QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView,
                               QTextBrowser, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.flows.diff import (SECTION_TITLES, RowTag, SideBySideRow, diff_flows,
                                   side_by_side, unified_lines)
from wg_desktop.paths import write_private_atomic
from wg_desktop.services.compare import LIVE_LABEL, CompareService, failure_text
from wg_desktop.services.workflows import WorkflowQueries

NEXT_KEYS = ("F7", "Alt+Down")
PREVIOUS_KEYS = ("Shift+F7", "Alt+Up")
NO_DIFFERENCES_TEXT = "No differences: the two versions have the same content."
COMPARING_TEXT = "Comparing…"
# The pickers' id of "Live in HubSpot now": stored version ids are positive.
LIVE_ID = -1


# -- what is shown (pure) ------------------------------------------------------------------

@dataclass(frozen=True)
class VersionChoice:
    """A version as the pickers list it."""

    id: int
    number: int         # 1 = oldest, as the history numbers them
    label: str          # e.g. "v3 · 2026-03-03 09:30 · Sync"

    @property
    def is_live(self) -> bool:
        return self.id == LIVE_ID

    @property
    def short_label(self) -> str:
        """How the unified diff names the side ('v3', 'live')."""
        return "live" if self.is_live else f"v{self.number}"


LIVE_CHOICE = VersionChoice(LIVE_ID, 0, LIVE_LABEL)


def default_pair(version_ids: list[int], selected_id: int | None) -> tuple[int, int]:
    """(old, new) version ids to compare first: the selected version (else the
    newest) and the one stored before it. ``version_ids`` is newest first; the
    first version ever stored is compared with itself."""
    new_row = version_ids.index(selected_id) if selected_id in version_ids else 0
    return version_ids[min(new_row + 1, len(version_ids) - 1)], version_ids[new_row]


@dataclass(frozen=True)
class DiffResult:
    """One comparison, ready to show (built off the GUI thread)."""

    workflow_name: str
    old_id: int
    new_id: int
    old_label: str
    new_label: str
    identical: bool
    groups: list[tuple[str, list[str]]]    # section title, one phrase per change
    summary_line: str                      # the one-line summary, as the history shows it
    rows: list[SideBySideRow]
    unified: list[str]

    def summary_text(self) -> str:
        """The grouped summary as plain text (what Copy puts first)."""
        if self.identical:
            return NO_DIFFERENCES_TEXT
        if not self.groups:
            return self.summary_line
        lines = []
        for title, phrases in self.groups:
            lines.append(f"{title}:")
            lines.extend(f"  {phrase}" for phrase in phrases)
        return "\n".join(lines)

    def clipboard_text(self) -> str:
        head = f"{self.workflow_name}: {self.old_label} → {self.new_label}"
        body = "\n".join(self.unified)
        return f"{head}\n\n{self.summary_text()}\n" + (f"\n{body}\n" if body else "")


def compute_diff(queries: WorkflowQueries, workflow_id: int, old: VersionChoice,
                 new: VersionChoice, compare: CompareService | None = None) -> DiffResult:
    """Worker thread. A live side is read from HubSpot through ``compare``."""
    workflow = queries.get(workflow_id)

    def document(choice: VersionChoice) -> dict[str, Any]:
        if choice.is_live:
            if compare is None:
                raise ValueError("comparing with live needs HubSpot to be set up")
            return dict(compare.live(workflow_id).definition)
        return queries.version_by_id(workflow, choice.id)[3]

    old_doc, new_doc = document(old), document(new)
    diff = diff_flows(old_doc, new_doc)
    groups = [(SECTION_TITLES[section], phrases) for section, phrases in diff.grouped()]
    return DiffResult(workflow.name, old.id, new.id, old.label, new.label, diff.identical,
                      groups, diff.summary(), side_by_side(old_doc, new_doc),
                      unified_lines(old_doc, new_doc, old_label=old.short_label,
                                    new_label=new.short_label))


_HTML_STYLE = """
body{font-family:system-ui,sans-serif;color:#33475b;margin:24px}
h1{font-size:20px}h2{font-size:15px;margin:14px 0 4px}
ul{margin:0 0 8px 0}table{border-collapse:collapse;width:100%;table-layout:fixed}
td{font-family:monospace;font-size:12px;white-space:pre-wrap;word-break:break-all;
padding:0 6px;vertical-align:top}
td.n{width:3.5em;color:#7c98b6;text-align:right}
th{text-align:left;border-bottom:1px solid #cbd6e2;padding:4px 6px}
.del{background:#ffe1e1}.add{background:#dcfce7}.none{background:#f3f4f6}
"""
_SIDE_CLASSES = {RowTag.EQUAL: ("", ""), RowTag.CHANGED: ("del", "add"),
                 RowTag.REMOVED: ("del", "none"), RowTag.ADDED: ("none", "add")}


def diff_html(result: DiffResult) -> str:
    """A self-contained HTML page: the summary and the side-by-side table.
    Every stored value is escaped (names and fields are user data)."""
    e = html.escape
    parts = ["<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
             f"<title>{e(result.workflow_name)}: {e(result.old_label)} → "
             f"{e(result.new_label)}</title><style>{_HTML_STYLE}</style></head><body>",
             f"<h1>{e(result.workflow_name)}</h1>",
             f"<p>{e(result.old_label)} → {e(result.new_label)}</p>"]
    if result.identical or not result.groups:
        parts.append(f"<p><b>{e(result.summary_text())}</b></p>")
    for title, phrases in result.groups:
        parts.append(f"<h2>{e(title)}</h2><ul>")
        parts.extend(f"<li>{e(phrase)}</li>" for phrase in phrases)
        parts.append("</ul>")
    parts.append(f"<table><tr><th class='n'></th><th>{e(result.old_label)}</th>"
                 f"<th class='n'></th><th>{e(result.new_label)}</th></tr>")
    for row in result.rows:
        left, right = _SIDE_CLASSES[row.tag]
        parts.append(
            f"<tr><td class='n {left}'>{row.left_number or ''}</td>"
            f"<td class='{left}'>{e(row.left)}</td>"
            f"<td class='n {right}'>{row.right_number or ''}</td>"
            f"<td class='{right}'>{e(row.right)}</td></tr>")
    parts.append("</table></body></html>\n")
    return "".join(parts)


def write_html(path: Path, result: DiffResult) -> int:
    """Worker thread. The page holds workflow content: private to the user."""
    data = diff_html(result).encode()
    write_private_atomic(path, data)
    return len(data)


def change_starts(rows: list[SideBySideRow], shown: list[int]) -> list[int]:
    """Positions (in ``shown``) where a run of changed lines begins; ``shown``
    holds the indexes into ``rows`` that the table shows, in order."""
    starts = []
    for position, source in enumerate(shown):
        if rows[source].tag is RowTag.EQUAL:
            continue
        if source == 0 or rows[source - 1].tag is RowTag.EQUAL:
            starts.append(position)
    return starts


# -- model ---------------------------------------------------------------------------------

TAG_ROLE = Qt.ItemDataRole.UserRole + 1     # str: the RowTag of the row

# Theme roles (ui/theme.py), resolved at paint time for the light or dark palette;
# diff_none_bg: no line on this side (added / removed elsewhere).
_BACKGROUNDS = {RowTag.CHANGED: ("diff_old_bg", "diff_new_bg"),
                RowTag.REMOVED: ("diff_old_bg", "diff_none_bg"),
                RowTag.ADDED: ("diff_none_bg", "diff_new_bg")}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class SideBySideModel(QAbstractTableModel):
    """Columns: old line number, old line, new line number, new line. With
    "changes only", unchanged lines are left out (rows keep their numbers)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[SideBySideRow] = []
        self.shown: list[int] = []               # indexes into rows, in order
        self.changes_only = False
        self.current: int | None = None          # index into rows of the current line
        self.headers = ("", "Old", "", "New")
        self.font = QFont("monospace")
        self.font.setStyleHint(QFont.StyleHint.TypeWriter)
        self.current_font = QFont(self.font)
        self.current_font.setBold(True)

    def set_rows(self, rows: list[SideBySideRow], old_title: str, new_title: str) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.current = None
        self.headers = ("", old_title, "", new_title)
        self._fill_shown()
        self.endResetModel()

    def set_changes_only(self, on: bool) -> None:
        self.beginResetModel()
        self.changes_only = on
        self._fill_shown()
        self.endResetModel()

    def _fill_shown(self) -> None:
        self.shown = [n for n, row in enumerate(self.rows)
                      if not self.changes_only or row.tag is not RowTag.EQUAL]

    def set_current(self, row: int) -> None:
        """Show the line at table row ``row`` as the current one."""
        before = self.position_of(self.current) if self.current is not None else None
        self.current = self.shown[row] if 0 <= row < len(self.shown) else None
        for changed in (before, row):
            if changed is not None and 0 <= changed < len(self.shown):
                self.dataChanged.emit(self.index(changed, 0), self.index(changed, 3),
                                      [Qt.ItemDataRole.FontRole])

    def row_at(self, row: int) -> SideBySideRow:
        return self.rows[self.shown[row]]

    def position_of(self, source: int) -> int | None:
        """Where ``rows[source]`` is shown, or None when it is hidden."""
        try:
            return self.shown.index(source)
        except ValueError:
            return None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.shown)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else 4

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.row_at(index.row())
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return "" if row.left_number is None else str(row.left_number)
            if column == 1:
                return row.left
            if column == 2:
                return "" if row.right_number is None else str(row.right_number)
            return row.right
        if role == Qt.ItemDataRole.BackgroundRole and row.tag is not RowTag.EQUAL:
            return theme.color(_BACKGROUNDS[row.tag][0 if column < 2 else 1])
        if role == Qt.ItemDataRole.FontRole:
            return self.current_font if self.shown[index.row()] == self.current else self.font
        if role == Qt.ItemDataRole.ForegroundRole and column in (0, 2):
            return theme.color("muted")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 2):
            return _RIGHT
        if role == TAG_ROLE:
            return str(row.tag)
        return None


# -- the view ------------------------------------------------------------------------------

def _keys_text(keys: tuple[str, ...]) -> str:
    return " or ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                       for k in keys)


class DiffView(QDialog):
    """A window comparing two versions of one workflow (not modal: the history
    stays usable beside it)."""

    def __init__(self, queries: WorkflowQueries, runner: Callable[..., Any], workflow_id: int,
                 workflow_name: str, versions: list[VersionChoice], old_id: int, new_id: int,
                 parent: QWidget | None = None, *,
                 compare: CompareService | None = None) -> None:
        super().__init__(parent)
        self.queries = queries
        self._run = runner
        self.compare_service = compare
        self.workflow_id = workflow_id
        self.result: DiffResult | None = None
        self._task: Any = None
        self._request = 0
        self.setWindowTitle(f"Compare versions — {workflow_name}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1100, 720)

        self.old_combo = QComboBox()
        self.new_combo = QComboBox()
        self._choices = {choice.id: choice for choice in versions}
        if compare is not None:
            # Live is offered on the right only: "what changed since this version".
            # A comparer may name its side (an opened backup's "live store").
            live = VersionChoice(LIVE_ID, 0, getattr(compare, "label", LIVE_CHOICE.label))
            self._choices[LIVE_ID] = live
            self.new_combo.addItem(live.label, LIVE_ID)
            self.new_combo.setItemData(0, getattr(compare, "hint", "Read from HubSpot when "
                                                  "compared"), Qt.ItemDataRole.ToolTipRole)
        # While the right side is read: the comparer says what it reads.
        self._live_status = getattr(compare, "reading_text", COMPARING_TEXT)
        for choice in versions:          # newest first, as in the history
            for combo in (self.old_combo, self.new_combo):
                combo.addItem(choice.label, choice.id)
        self.old_combo.setCurrentIndex(max(0, self.old_combo.findData(old_id)))
        self.new_combo.setCurrentIndex(max(0, self.new_combo.findData(new_id)))
        self.old_combo.setAccessibleName("Old version")
        self.new_combo.setAccessibleName("New version")
        old_label = QLabel("&Old:")
        old_label.setBuddy(self.old_combo)
        new_label = QLabel("&New:")
        new_label.setBuddy(self.new_combo)

        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.summary.setMaximumHeight(150)
        self.summary.setAccessibleName("Summary of the changes")

        self.previous_button = QPushButton("▲ Previous change")
        self.previous_button.setToolTip(f"Previous change ({_keys_text(PREVIOUS_KEYS)})")
        self.next_button = QPushButton("▼ Next change")
        self.next_button.setToolTip(f"Next change ({_keys_text(NEXT_KEYS)})")
        self.position = QLabel("")
        self.position.setTextFormat(Qt.TextFormat.PlainText)
        self.changes_only = QCheckBox("C&hanges only")
        self.changes_only.setToolTip("Hide the lines that are the same in both versions")
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the summary and a unified diff as text")
        self.save_button = QPushButton("&Save as HTML…")
        self.close_button = QPushButton("Close")

        self.model = SideBySideModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        # No selection fill: it would paint over the red/green of the current
        # change. The current line is shown bold (see SideBySideModel.current).
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        # Fixed heights: measuring every line of a 300-action version would stall.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 4)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        number_width = self.table.fontMetrics().horizontalAdvance("99999") + 12
        self.table.setColumnWidth(0, number_width)
        self.table.setColumnWidth(2, number_width)
        self.table.setAccessibleName("Side-by-side JSON of both versions")

        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        pick = QHBoxLayout()
        pick.addWidget(old_label)
        pick.addWidget(self.old_combo, 1)
        pick.addWidget(QLabel("→"))
        pick.addWidget(new_label)
        pick.addWidget(self.new_combo, 1)
        bar = QHBoxLayout()
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.position)
        bar.addStretch(1)
        bar.addWidget(self.changes_only)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.save_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(pick)
        layout.addWidget(self.summary)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

        self.old_combo.currentIndexChanged.connect(self._pair_changed)
        self.new_combo.currentIndexChanged.connect(self._pair_changed)
        self.next_button.clicked.connect(self.next_change)
        self.previous_button.clicked.connect(self.previous_change)
        self.changes_only.toggled.connect(self.set_changes_only)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.save_button.clicked.connect(self._choose_html_file)
        self.close_button.clicked.connect(self.close)
        self.table.selectionModel().currentRowChanged.connect(self._current_moved)
        for keys, slot in ((NEXT_KEYS, self.next_change), (PREVIOUS_KEYS, self.previous_change)):
            for key in keys:
                QShortcut(QKeySequence(key), self, activated=slot)
        self._set_result_enabled(False)
        self.compare(self.old_combo.currentData(), self.new_combo.currentData())

    # -- public -----------------------------------------------------------------------

    def compare(self, old_id: int, new_id: int) -> None:
        """Compare two versions (off the GUI thread); a late older answer is dropped."""
        queries, workflow_id, service = self.queries, self.workflow_id, self.compare_service
        old, new = self._choices[old_id], self._choices[new_id]
        self.start_comparison(lambda: compute_diff(queries, workflow_id, old, new, service),
                              self._live_status if new.is_live else COMPARING_TEXT)

    def start_comparison(self, work: Callable[[], DiffResult], status: str) -> None:
        """Run ``work`` (worker thread) and show its result; ``status`` says
        what happens meanwhile. The answer of an earlier request is dropped."""
        if self._task is not None:
            self._task.discard()
        self._request += 1
        request = self._request
        self.status.setText(status)
        self._task = self._run(work, on_result=lambda result: self._show(request, result),
                               on_error=lambda error: self._failed(request, error))

    def change_rows(self) -> list[int]:
        """Table rows where a change begins."""
        return change_starts(self.model.rows, self.model.shown)

    def current_row(self) -> int:
        return self.table.currentIndex().row()

    def next_change(self) -> None:
        later = [row for row in self.change_rows() if row > self.current_row()]
        if later:
            self._go_to(later[0])

    def previous_change(self) -> None:
        earlier = [row for row in self.change_rows() if row < self.current_row()]
        if earlier:
            self._go_to(earlier[-1])

    def set_changes_only(self, on: bool) -> None:
        if self.changes_only.isChecked() != on:
            self.changes_only.setChecked(on)      # comes back here through toggled
            return
        current = self.current_row()
        source = self.model.shown[current] if 0 <= current < len(self.model.shown) else None
        self.model.set_changes_only(on)
        position = self.model.position_of(source) if source is not None else None
        if position is not None:
            self._go_to(position)
        else:
            self._go_to_first_change()

    def copy_to_clipboard(self) -> None:
        if self.result is not None:
            QGuiApplication.clipboard().setText(self.result.clipboard_text())
            self.status.setText("Copied the summary and the unified diff.")

    def save_html(self, path: Path) -> None:
        """Write the comparison as one HTML file (off the GUI thread)."""
        result = self.result
        if result is None:
            return
        self.status.setText(f"Saving {path.name}…")
        self._run(lambda: write_html(path, result),
                  on_result=lambda size: self._saved(path),
                  on_error=lambda error: self.status.setText(f"Could not save: {error}"))

    # -- internals ----------------------------------------------------------------------

    def _pair_changed(self) -> None:
        self.compare(self.old_combo.currentData(), self.new_combo.currentData())

    def _show(self, request: int, result: DiffResult) -> None:
        if request != self._request:
            return                      # an answer for versions no longer chosen
        self._task = None
        self.result = result
        self.summary.setHtml(self._summary_html(result))
        self.model.set_rows(result.rows, result.old_label, result.new_label)
        count = len(self.change_rows())
        self.status.setText("" if count else "The JSON of both versions is the same.")
        self._set_result_enabled(True)
        self._go_to_first_change()

    def _failed(self, request: int, error: BaseException) -> None:
        if request != self._request:
            return
        self._task = None
        self.result = None
        self.summary.setPlainText("")
        self.model.set_rows([], "Old", "New")
        self._set_result_enabled(False)
        message = failure_text(error)
        self.status.setText(message)

    @staticmethod
    def _summary_html(result: DiffResult) -> str:
        e = html.escape
        head = f"<p>{e(result.old_label)} → {e(result.new_label)}</p>"
        if result.identical or not result.groups:
            return head + f"<p><b>{e(result.summary_text())}</b></p>"
        parts = [head]
        for title, phrases in result.groups:
            parts.append(f"<p style='margin:6px 0 2px 0'><b>{e(title)}</b></p><ul "
                         "style='margin:0'>")
            parts.extend(f"<li>{e(phrase)}</li>" for phrase in phrases)
            parts.append("</ul>")
        return "".join(parts)

    def _go_to(self, row: int) -> None:
        index = self.model.index(row, 1)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._update_position()

    def _go_to_first_change(self) -> None:
        starts = self.change_rows()
        if starts:
            self._go_to(starts[0])
        elif self.model.rowCount():
            self._go_to(0)
        else:
            self._update_position()

    def _current_moved(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.model.set_current(current.row())
        self._update_position()

    def _update_position(self) -> None:
        starts = self.change_rows()
        current = self.current_row()
        if not starts:
            self.position.setText("No changed lines" if self.result is not None else "")
        else:
            passed = sum(1 for row in starts if row <= current)
            self.position.setText(f"Change {max(passed, 1)} of {len(starts)}")
        self.next_button.setEnabled(any(row > current for row in starts))
        self.previous_button.setEnabled(any(row < current for row in starts))

    def _set_result_enabled(self, enabled: bool) -> None:
        for widget in (self.copy_button, self.save_button, self.changes_only):
            widget.setEnabled(enabled)
        if not enabled:
            self.next_button.setEnabled(False)
            self.previous_button.setEnabled(False)

    def _choose_html_file(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save comparison as HTML", f"workflow-{self.workflow_id}-diff.html",
            "HTML files (*.html)")
        if path:
            self.save_html(Path(path))

    def _saved(self, path: Path) -> None:
        self.status.setText(f"Saved {path.name}.")

    def closeEvent(self, event: Any) -> None:
        if self._task is not None:
            self._task.discard()        # nothing left to show it in
            self._task = None
        super().closeEvent(event)
