"""Audit log page: a table of every recorded operation, with search, filters
and CSV export, and the state of the trail's hash chain (intact with N
entries, or the first broken entry). Queries and the chain check run off the
GUI thread; typing is debounced, and a late answer to an outdated query is
dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.ui.table_model import ListTableModel
from wg_desktop.services.audit import OUTCOMES, AuditBrowse, AuditLog, AuditQuery, ChainReport

COLUMNS = ("Time", "Action", "Portal", "Outcome", "Details")
ALL = "All"


class AuditTableModel(ListTableModel):
    headers = COLUMNS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.details: list[str] = []
        self.portal_names: dict[int, str] = {}

    def show(self, browse: AuditBrowse) -> None:
        """The entries of one read, their details already in words (worded by
        the service on the worker, not here on the GUI thread)."""
        self.details = list(browse.readable)
        self.portal_names = dict(browse.portal_names)
        self.set_rows(browse.entries)

    def portal_text(self, hub_id: int | None) -> str:
        if hub_id is None:
            return ""
        name = self.portal_names.get(hub_id)
        return f"{name} ({hub_id})" if name else str(hub_id)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if column == 1:
                return entry.action
            if column == 2:
                return self.portal_text(entry.portal_hub_id)
            if column == 3:
                return entry.outcome
            return self.details[index.row()]
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return entry.id if column == 0 else self.data(index)
        if role == Qt.ItemDataRole.ToolTipRole and column == 4:
            return self.details[index.row()]
        return None


class AuditPage(QWidget):
    def __init__(self, audit: AuditLog, run_off_gui_thread: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audit = audit
        self._run = run_off_gui_thread
        self._pending: Any = None
        self._pending_chain: Any = None
        self.search = QLineEdit(placeholderText="Search details…")
        self.search.setClearButtonEnabled(True)
        self.action = QComboBox()
        # Filled with the actions the trail holds once it is read (a filter
        # offering actions never recorded would only ever show nothing).
        self.action.addItem(ALL)
        self.outcome = QComboBox()
        self.outcome.addItems([ALL, *OUTCOMES])
        self.export_button = QPushButton("Export CSV…")
        self.refresh_button = QPushButton("Refresh")
        self.count_label = QLabel("")
        self.chain_label = QLabel("Checking the audit trail…")
        self.chain_label.setToolTip("Each entry carries the hash of the one before it, so an "
                                    "edited, inserted or deleted entry shows here "
                                    "(also: wg-desktop audit verify)")
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(QLabel("Action:"))
        bar.addWidget(self.action)
        bar.addWidget(QLabel("Outcome:"))
        bar.addWidget(self.outcome)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        self.model = AuditTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        status = QHBoxLayout()
        status.addWidget(self.count_label, 1)
        status.addWidget(self.chain_label)
        layout.addLayout(status)
        # Typing fires many changes; query once the user pauses.
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(self._debounce.start)
        self.action.currentTextChanged.connect(self.reload)
        self.outcome.currentTextChanged.connect(self.reload)
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(self.choose_export_file)

    def query(self, limit: int | None = 10_000) -> AuditQuery:
        action = self.action.currentText()
        outcome = self.outcome.currentText()
        return AuditQuery(text=self.search.text().strip(),
                          action=None if action == ALL else action,
                          outcome=None if outcome == ALL else outcome, limit=limit)

    def reload(self) -> None:
        if self._pending is not None:
            self._pending.discard()   # its answer is for an outdated query
        query = self.query()
        self._pending = self._run(lambda: self.audit.browse(query),
                                  on_result=self._show, on_error=self._error)
        self.check_chain()

    def check_chain(self) -> None:
        if self._pending_chain is not None:
            self._pending_chain.discard()   # the trail may have grown since
        self._pending_chain = self._run(self.audit.verify, on_result=self._show_chain,
                                        on_error=self._chain_error)

    def _show_chain(self, report: ChainReport) -> None:
        self._pending_chain = None
        if report.intact:
            self.chain_label.setText(f"Audit trail intact: {report.entries} entries")
            theme.apply_style(self.chain_label, "")
        else:
            problem = report.problem
            where = f"entry {problem.entry_id}" if problem.entry_id is not None else "its state"
            self.chain_label.setText(f"Audit trail broken at {where}")
            theme.apply_style(self.chain_label, "color: ${alert_text}; font-weight: bold;")
        self.chain_label.setToolTip(report.summary())

    def _chain_error(self, error: BaseException) -> None:
        self._pending_chain = None
        self.chain_label.setText(f"Could not check the audit trail: {error}")

    def _show(self, browse: AuditBrowse) -> None:
        self._pending = None
        entries = browse.entries
        self._offer_actions(browse.actions)
        self.model.show(browse)
        self.count_label.setText(f"{len(entries)} entries")

    def _offer_actions(self, actions: list[str]) -> None:
        current = self.action.currentText()
        wanted = [ALL, *actions]
        if current not in wanted:
            wanted.append(current)      # keep the user's choice until they change it
        if [self.action.itemText(i) for i in range(self.action.count())] == wanted:
            return
        self.action.blockSignals(True)
        self.action.clear()
        self.action.addItems(wanted)
        self.action.setCurrentText(current)
        self.action.blockSignals(False)

    def _error(self, error: BaseException) -> None:
        self._pending = None
        self.count_label.setText(f"Could not read the audit log: {error}")

    def choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export audit log", "audit-log.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        query = self.query(limit=None)
        self.count_label.setText("Exporting…")
        self._run(lambda: self.audit.export_csv(path, query),
                  on_result=lambda n: (self.count_label.setText(f"Exported {n} entries to "
                                                                f"{path}"), self.reload()),
                  on_error=self._error)
