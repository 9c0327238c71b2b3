"""One read-only table model over a list of rows: the bookkeeping every page's
table shares (reset on new rows, counts, header titles). Subclasses say how a
row is shown in ``data``."""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt


class ListTableModel(QAbstractTableModel):
    headers: tuple[str, ...] = ()

    def __init__(self, parent: Any = None, headers: Sequence[str] | None = None) -> None:
        super().__init__(parent)
        if headers is not None:
            self.headers = tuple(headers)
        self.rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None


class TextTableModel(ListTableModel):
    """Rows that are tuples of display text; each cell is its own tooltip
    (a cut-off message or path can be read in full by hovering)."""

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role in (Qt.ItemDataRole.DisplayRole,
                                        Qt.ItemDataRole.ToolTipRole):
            return self.rows[index.row()][index.column()]
        return None
