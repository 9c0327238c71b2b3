"""Compare… from the main window's menu: a workflow with another workflow
(any portal, imported sources too: sandbox against production) or with a
workflow in a file (HubSpot's flow JSON or an export of this app).

The dialog only picks: each side is a searchable list of every stored
workflow (portal and name) and a version (the latest first). Compare opens
the diff view on the pair (:class:`PairDiffView`); the comparison itself is
``services.compare``, the same function the command line's ``diff
--workflows`` / ``diff --file`` calls. Every read — the workflow list, a
workflow's versions, the file — runs through the runner, never on the GUI
thread; a late answer for a selection no longer current is dropped.

When the file holds several workflows and none is the obvious one, the
dialog lists them and asks which, as ``--file-workflow`` does on the
command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import (QItemSelection, QModelIndex, QPersistentModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget)

from wg_desktop.services.compare import (WorkflowSide, compare_with_flow, compare_workflows,
                                         file_flow_for)
from wg_desktop.services.compare_file import FileFlow, FileFlowRef, FileWorkflowChoiceNeeded
from wg_desktop.services.workflows import WorkflowQueries, WorkflowRow
from wg_desktop.ui.pages.diff_view import VersionChoice
from wg_desktop.ui.pages.history_panel import version_choices
from wg_desktop.ui.pages.pair_diff_view import FILE_ID, PairDiffView, pair_result
from wg_desktop.ui.compare_modes import CompareMode, comparison_enabled
from wg_desktop.ui.table_model import ListTableModel

FILE_FILTER = "Workflow JSON or export (*.json *.zip);;All files (*)"


# -- reads (worker thread) -----------------------------------------------------------------

def load_workflows(queries: WorkflowQueries) -> list[WorkflowRow]:
    """Every stored workflow that has a version to compare, of every portal."""
    rows = [row for row in queries.list() if row.versions]
    return sorted(rows, key=lambda row: (row.portal_name.casefold(), row.name.casefold()))


def load_versions(queries: WorkflowQueries, workflow_id: int) -> list[VersionChoice]:
    """The workflow's versions, newest first, named as the history names them."""
    choices = version_choices(queries.history(queries.get(workflow_id)))
    if choices:
        latest = choices[0]
        choices[0] = VersionChoice(latest.id, latest.number, f"{latest.label} (latest)")
    return choices


def side_choices(row: WorkflowRow, versions: list[VersionChoice]) -> list[VersionChoice]:
    """The versions as the diff view's pickers list them: with the portal and
    workflow, since each picker holds another workflow's versions."""
    return [VersionChoice(c.id, c.number, f"{row.portal_name} › {row.name} · {c.label}")
            for c in versions]


# -- the workflow picker -------------------------------------------------------------------

class WorkflowListModel(ListTableModel):
    headers = ("Portal", "Workflow", "Flow id")

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row: WorkflowRow = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            name = row.name or "(unnamed)"
            return (row.portal_name, f"{name} (deleted)" if row.deleted else name,
                    row.flow_id)[index.column()]
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None


class WorkflowPicker(QWidget):
    """One side: a searchable list of workflows and the version to compare."""

    changed = Signal()              # the workflow or version chosen changed

    def __init__(self, title: str, queries: WorkflowQueries, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queries = queries
        self._run = runner
        self._task: Any = None
        self._row: WorkflowRow | None = None
        self._versions: list[VersionChoice] = []
        heading = QLabel(f"<b>{title}</b>")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search portal or workflow…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(f"{title}: search")
        self.model = WorkflowListModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)           # portal, name or flow id
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName(f"{title}: workflows")
        self.version = QComboBox()
        self.version.setAccessibleName(f"{title}: version")
        self.version.setEnabled(False)
        form = QFormLayout()
        form.addRow("&Version:", self.version)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.version.currentIndexChanged.connect(lambda index: self.changed.emit())

    def set_rows(self, rows: list[WorkflowRow]) -> None:
        self.model.set_rows(rows)

    def select(self, workflow_id: int) -> bool:
        """Select a workflow (clearing a search that hides it); False if not listed."""
        ids = [row.id for row in self.model.rows]
        if workflow_id not in ids:
            return False
        self.search.clear()
        index = self.proxy.mapFromSource(self.model.index(ids.index(workflow_id), 0))
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    @property
    def row(self) -> WorkflowRow | None:
        return self._row

    @property
    def ready(self) -> bool:
        """A workflow is chosen and its versions are listed."""
        return self._row is not None and bool(self._versions)

    def version_id(self) -> int | None:
        return self.version.currentData()

    def choices(self) -> list[VersionChoice]:
        assert self._row is not None
        return side_choices(self._row, self._versions)

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self._task is not None:
            self._task.discard()            # versions of a workflow no longer chosen
            self._task = None
        self._versions = []
        self.version.clear()
        self.version.setEnabled(False)
        if not rows:
            self._row = None
            self.changed.emit()
            return
        row = self.model.rows[self.proxy.mapToSource(rows[0]).row()]
        self._row = row
        self.version.addItem("Loading versions…")
        self.changed.emit()
        queries = self.queries
        self._task = self._run(lambda: load_versions(queries, row.id),
                               on_result=lambda versions: self._show_versions(row, versions),
                               on_error=lambda error: self._versions_failed(row, error))

    def _show_versions(self, row: WorkflowRow, versions: list[VersionChoice]) -> None:
        self._task = None
        if self._row is not row:
            return
        self._versions = versions
        self.version.blockSignals(True)
        self.version.clear()
        for choice in versions:
            self.version.addItem(choice.label, choice.id)
        self.version.blockSignals(False)
        self.version.setEnabled(bool(versions))
        self.changed.emit()

    def _versions_failed(self, row: WorkflowRow, error: BaseException) -> None:
        self._task = None
        if self._row is row:
            self.version.clear()
            self.version.addItem(f"Could not read the versions: {error}")
            self.changed.emit()

    def discard_pending(self) -> None:
        if self._task is not None:
            self._task.discard()
            self._task = None


# -- the dialog ----------------------------------------------------------------------------

class CompareDialog(QDialog):
    """Pick two sides, then Compare opens the diff view and this dialog closes.
    Cancel closes it and opens nothing."""

    def __init__(self, queries: WorkflowQueries, runner: Callable[..., Any], mode: CompareMode,
                 selected: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queries = queries
        self._run = runner
        self.mode = mode
        self._selected = selected
        self._load_task: Any = None      # the stored workflows, for the pickers
        self._file_task: Any = None
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(980 if mode is CompareMode.WORKFLOWS else 620, 560)
        is_pair = mode is CompareMode.WORKFLOWS
        self.setWindowTitle("Compare two workflows" if is_pair
                            else "Compare a workflow with a file")
        self.first = WorkflowPicker("First workflow" if is_pair else "Stored workflow",
                                    queries, runner)
        self.second = WorkflowPicker("Second workflow", queries, runner) if is_pair else None
        pickers = QHBoxLayout()
        pickers.addWidget(self.first, 1)
        if self.second is not None:
            pickers.addWidget(self.second, 1)

        self.file_path = QLineEdit()
        self.file_path.setPlaceholderText("A workflow as HubSpot returns it, or an export "
                                          "(.json or .zip)")
        self.file_path.setAccessibleName("File to compare with")
        self.browse_button = QPushButton("&Browse…")
        self.file_workflow = QComboBox()
        self.file_workflow.setAccessibleName("Workflow in the file")
        self.file_workflow_label = QLabel("&Workflow in the file:")
        self.file_workflow_label.setBuddy(self.file_workflow)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_path, 1)
        file_row.addWidget(self.browse_button)
        file_form = QFormLayout()
        file_label = QLabel("&File:")
        file_label.setBuddy(self.file_path)
        file_form.addRow(file_label, file_row)
        file_form.addRow(self.file_workflow_label, self.file_workflow)
        file_box = QWidget()
        file_box.setLayout(file_form)
        file_box.setVisible(not is_pair)
        self._show_file_choice([])

        self.status = QLabel("Loading the stored workflows…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.compare_button = self.buttons.addButton("&Compare",
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.compare_button.setDefault(True)
        self.compare_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(pickers, 1)
        layout.addWidget(file_box)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        for picker in self._pickers():
            picker.changed.connect(self._update_state)
        self.file_path.textChanged.connect(self._file_changed)
        self.browse_button.clicked.connect(self._choose_file)
        self.buttons.accepted.connect(self.compare)
        self.buttons.rejected.connect(self.reject)
        self._load_task = self._run(lambda: load_workflows(queries),
                                    on_result=self._show_workflows,
                                    on_error=self._load_failed)

    # -- public -----------------------------------------------------------------------

    def set_file(self, path: Path) -> None:
        self.file_path.setText(str(path))

    def compare(self) -> None:
        """Open the diff view on the chosen sides (a file is read first, on the worker)."""
        if not self._can_compare():
            return
        first = self.first.row
        assert first is not None
        if self.second is not None:
            self._open_pair()
            return
        path = Path(self.file_path.text().strip())
        choice = self.file_workflow.currentData() if self.file_workflow.count() else None
        queries = self.queries
        self.compare_button.setEnabled(False)
        self._set_status(f"Reading {path.name}…")
        self._file_task = self._run(lambda: file_flow_for(queries, first.id, path, choice),
                                    on_result=lambda found: self._open_with_file(first, found),
                                    on_error=lambda error: self._file_failed(first, error))

    # -- internals ----------------------------------------------------------------------

    def _pickers(self) -> list[WorkflowPicker]:
        return [self.first] + ([self.second] if self.second is not None else [])

    def _show_workflows(self, rows: list[WorkflowRow]) -> None:
        self._load_task = None
        for picker in self._pickers():
            picker.set_rows(rows)
        if not rows:
            self._set_status("No workflow is stored yet: sync a portal or import a file first.")
        else:
            self._set_status("")
            if self._selected is not None:
                self.first.select(self._selected)

    def _load_failed(self, error: BaseException) -> None:
        self._load_task = None
        self._set_status(f"Could not read the stored workflows: {error}")

    def _can_compare(self) -> bool:
        if not all(picker.ready for picker in self._pickers()):
            return False
        return self.second is not None or bool(self.file_path.text().strip())

    def _update_state(self) -> None:
        self.compare_button.setEnabled(self._can_compare() and self._file_task is None)

    def _file_changed(self) -> None:
        if self._file_task is not None:
            self._file_task.discard()         # a read of the file named before
            self._file_task = None
            self._set_status("")              # it said "Reading <that file>…"
        self._show_file_choice([])            # a choice of another file means nothing here
        self._update_state()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Compare with a file", "", FILE_FILTER)
        if path:
            self.set_file(Path(path))

    def _show_file_choice(self, candidates: list[FileFlowRef]) -> None:
        """List the file's workflows to choose from (none: hide the choice). An
        export's entry names the one flow exactly, even when two portals'
        flows share an id; a plain file's flows are named by flow id."""
        self.file_workflow.clear()
        file_name = Path(self.file_path.text().strip()).name
        for ref in candidates:
            in_zip = ref.entry != file_name
            self.file_workflow.addItem(f"{ref.display} · {ref.entry}" if in_zip else ref.display,
                                       ref.entry if in_zip else ref.flow_id)
        self.file_workflow.setVisible(bool(candidates))
        self.file_workflow_label.setVisible(bool(candidates))

    def _open_pair(self) -> None:
        first, second = self.first, self.second
        assert second is not None and first.row is not None and second.row is not None
        a, b = first.row, second.row
        title = f"{a.name} ↔ {b.name}"
        queries = self.queries

        def compute(old_id: int, new_id: int) -> Any:
            comparison = compare_workflows(queries, WorkflowSide(a.id, old_id),
                                           WorkflowSide(b.id, new_id))
            return pair_result(title, comparison, old_id, new_id)

        self._open(PairDiffView(queries, self._run, title, first.choices(), second.choices(),
                                first.version_id(), second.version_id(), compute,
                                workflow_id=a.id, parent=self.parentWidget()))

    def _stale_file_read(self, row: WorkflowRow) -> bool:
        """The file read for ``row`` ended; True (and it is dropped) when
        another stored workflow was chosen meanwhile: it was read for that one."""
        self._file_task = None
        if self.first.row is row:
            return False
        self._set_status("")
        self._update_state()
        return True

    def _open_with_file(self, row: WorkflowRow, found: FileFlow) -> None:
        if self._stale_file_read(row):
            return
        title = f"{row.name} ↔ {found.file_name}"
        queries = self.queries

        def compute(old_id: int, new_id: int) -> Any:
            comparison = compare_with_flow(queries, WorkflowSide(row.id, old_id), found)
            return pair_result(title, comparison, old_id, FILE_ID)

        file_side = [VersionChoice(FILE_ID, 0, found.label)]
        self._open(PairDiffView(queries, self._run, title, self.first.choices(), file_side,
                                self.first.version_id(), FILE_ID, compute, workflow_id=row.id,
                                parent=self.parentWidget()))

    def _open(self, view: PairDiffView) -> None:
        view.show()
        view.raise_()
        self.accept()

    def _file_failed(self, row: WorkflowRow, error: BaseException) -> None:
        if self._stale_file_read(row):
            return
        if isinstance(error, FileWorkflowChoiceNeeded):
            self._show_file_choice(error.candidates)
            self._set_status(f"{error}: choose the workflow in the file, then Compare.")
            self._update_state()
            return
        self._update_state()
        self._set_status(str(error))

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def done(self, result: int) -> None:
        """Closing drops every pending read: nothing is left to show it in."""
        for task in (self._load_task, self._file_task):
            if task is not None:
                task.discard()
        self._load_task = self._file_task = None
        for picker in self._pickers():
            picker.discard_pending()
        super().done(result)


__all__ = ["CompareDialog", "CompareMode", "WorkflowPicker", "comparison_enabled"]
