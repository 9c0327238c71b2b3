"""A workflow version in words: one row per ``WordLine`` (trigger, steps,
branch conditions, settings), indented as ``flows.words`` nests them.

The lines are built off the GUI thread by whoever loads the version; this
view only shows them. A list model keeps a 300-step workflow cheap to scroll;
the indentation is drawn by a delegate rather than padded with spaces, so it
lines up in any font.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QListView, QStyleOptionViewItem,
                               QStyledItemDelegate, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.flows.words import LineKind, WordLine
from wg_desktop.ui.json_tree import plain_tooltip

INDENT_ROLE = Qt.ItemDataRole.UserRole + 1      # int: nesting depth of the line
KIND_ROLE = Qt.ItemDataRole.UserRole + 2        # str: the LineKind value
ACTION_ID_ROLE = Qt.ItemDataRole.UserRole + 3   # str | None: the step's actionId
INDENT_STEP_PX = 22



def first_line_containing(lines: list[WordLine], text: str) -> int | None:
    """The row of the first line whose text contains ``text``, ignoring case."""
    needle = text.casefold()
    if not needle:
        return None
    return next((row for row, line in enumerate(lines) if needle in line.text.casefold()), None)


class WordLinesModel(QAbstractListModel):
    """The lines of one version, in reading order."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.lines: list[WordLine] = []
        self._bold: QFont | None = None

    def set_lines(self, lines: list[WordLine]) -> None:
        self.beginResetModel()
        self.lines = list(lines)
        self.endResetModel()

    def clear(self) -> None:
        self.set_lines([])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.lines)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        line = self.lines[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return line.text
        if role == Qt.ItemDataRole.ToolTipRole:
            # Long steps (a webhook URL, a filter list) are elided in the view.
            return plain_tooltip(line.text)
        if role == INDENT_ROLE:
            return line.indent
        if role == KIND_ROLE:
            return str(line.kind)
        if role == ACTION_ID_ROLE:
            return line.action_id
        if role == Qt.ItemDataRole.FontRole and line.kind is LineKind.HEADING:
            if self._bold is None:
                self._bold = QFont()
                self._bold.setBold(True)
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole:
            if line.kind is LineKind.BRANCH:
                return theme.color("accent")   # conditions read as labels, not steps
            if line.kind is LineKind.GOTO:
                return theme.color("muted")
        return None


class IndentDelegate(QStyledItemDelegate):
    """Draws each row shifted right by its nesting depth."""

    def paint(self, painter: Any, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        shifted = QStyleOptionViewItem(option)
        shifted.rect = option.rect.adjusted(self._offset(index), 0, 0, 0)
        super().paint(painter, shifted, index)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + self._offset(index), size.height())

    @staticmethod
    def _offset(index: QModelIndex | QPersistentModelIndex) -> int:
        return int(index.data(INDENT_ROLE) or 0) * INDENT_STEP_PX


class ReadableView(QWidget):
    """The readable tab of the history panel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WordLinesModel(self)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(IndentDelegate(self.list))
        self.list.setUniformItemSizes(True)      # fast with a 300-step workflow
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setAccessibleName("Version in words")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)

    def set_lines(self, lines: list[WordLine]) -> None:
        self.model.set_lines(lines)
        self.list.scrollToTop()

    def clear(self) -> None:
        self.model.clear()

    def highlight(self, text: str) -> int | None:
        """Select and scroll to the first line containing ``text`` (any case, as
        the search matched it); the row, or None (and no selection) when no
        line does."""
        row = first_line_containing(self.model.lines, text)
        if row is None:
            self.list.clearSelection()
            return None
        index = self.model.index(row, 0)
        self.list.setCurrentIndex(index)
        self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return row

    def selected_row(self) -> int | None:
        rows = self.list.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def shown_lines(self) -> list[tuple[int, str]]:
        """(indent, text) of every row, as shown."""
        return [(line.indent, line.text) for line in self.model.lines]
