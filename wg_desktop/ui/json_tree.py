"""A read-only JSON tree for QTreeView.

``build_json_tree`` is plain Python (no Qt object is touched), so the history
panel builds the tree on the worker thread together with loading the version;
the GUI thread only swaps the finished tree into ``JsonTreeModel``.

Keys keep the order they are stored in (never re-sorted here). Scalars are
shown in their JSON spelling (strings quoted, escapes visible) on one line;
long values are elided in the view and the full text is in the tooltip.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

from wg_desktop.ui import theme

ELIDE_AT = 120          # characters of a value shown in the view before "…"
KEY_COLUMN, VALUE_COLUMN = 0, 1
HEADERS = ("Key", "Value")


def elide(text: str, limit: int = ELIDE_AT) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[:max(0, limit - 1)] + "…"


def plain_tooltip(text: str) -> str:
    """Tooltip markup that shows ``text`` literally.

    Qt renders a tooltip as rich text whenever it *looks* like HTML, so a
    workflow value such as ``<b>x</b>`` would turn bold (or load images);
    escaping it inside an explicit paragraph keeps it verbatim."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


def scalar_text(value: Any) -> str:
    """The JSON spelling of a scalar, on one line (newlines show as ``\\n``)."""
    return json.dumps(value, ensure_ascii=False)


def container_text(value: dict[str, Any] | list[Any]) -> str:
    n = len(value)
    if isinstance(value, dict):
        return f"{{{n} key{'s' if n != 1 else ''}}}"
    return f"[{n} item{'s' if n != 1 else ''}]"


@dataclass(eq=False, slots=True)
class JsonNode:
    """One key/value of the document. ``full_text`` is the untruncated value
    (for strings: the string itself, unquoted) used for the tooltip."""

    key: str
    kind: str                       # object | array | string | number | boolean | null
    shown: str                      # what the value column displays (possibly elided)
    full_text: str
    parent: JsonNode | None = None
    row: int = 0
    elided: bool = False
    children: list[JsonNode] = field(default_factory=list)

    def path(self) -> str:
        """A readable path such as ``actions[2].fields.name``."""
        keys: list[str] = []
        node: JsonNode | None = self
        while node is not None and node.parent is not None:
            keys.append(node.key)
            node = node.parent
        text = ""
        for key in reversed(keys):
            text += key if key.startswith("[") or not text else "." + key
        return text


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def build_json_tree(document: Any, *, elide_at: int = ELIDE_AT) -> JsonNode:
    """The whole document as nodes under an invisible root. Iterative, so a
    deeply nested definition cannot hit the recursion limit."""
    root = JsonNode("", _kind(document), "", "")
    stack: list[tuple[JsonNode, Any]] = [(root, document)]
    while stack:
        node, value = stack.pop()
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        for row, (key, child_value) in enumerate(items):
            kind = _kind(child_value)
            if kind in ("object", "array"):
                spelled = shown = full = container_text(child_value)
            else:
                spelled = scalar_text(child_value)
                full = child_value if kind == "string" else spelled
                shown = elide(spelled, elide_at)
            child = JsonNode(key, kind, shown, full, node, row, shown != spelled)
            node.children.append(child)
            if kind in ("object", "array"):
                stack.append((child, child_value))
    if root.kind not in ("object", "array"):
        # A bare scalar document still shows as one row.
        full = document if isinstance(document, str) else scalar_text(document)
        root.children.append(JsonNode("(value)", root.kind, elide(scalar_text(document),
                                                                  elide_at), full, root, 0))
    return root




class JsonTreeModel(QAbstractItemModel):
    """Two columns (key, value) over a tree made by ``build_json_tree``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = JsonNode("", "object", "", "")

    def set_tree(self, root: JsonNode) -> None:
        self.beginResetModel()
        self._root = root
        self.endResetModel()

    def clear(self) -> None:
        self.set_tree(JsonNode("", "object", "", ""))

    def node(self, index: QModelIndex | QPersistentModelIndex) -> JsonNode:
        if not index.isValid():
            return self._root
        return index.internalPointer()

    # -- QAbstractItemModel -------------------------------------------------------------

    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        owner = self.node(parent)
        if not (0 <= row < len(owner.children) and 0 <= column < len(HEADERS)):
            return QModelIndex()
        return self.createIndex(row, column, owner.children[row])

    def parent(self,  # type: ignore[override]  # QAbstractItemModel's, not QObject's
               index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        owner = self.node(index).parent
        if owner is None or owner is self._root:
            return QModelIndex()
        return self.createIndex(owner.row, 0, owner)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: JsonNode = index.internalPointer()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.key if column == KEY_COLUMN else node.shown
        if role == Qt.ItemDataRole.ToolTipRole and column == VALUE_COLUMN:
            if node.kind in ("object", "array"):
                return None
            return plain_tooltip(node.full_text)
        if role == Qt.ItemDataRole.ToolTipRole and column == KEY_COLUMN:
            return plain_tooltip(node.path())
        if role == Qt.ItemDataRole.ForegroundRole and column == VALUE_COLUMN \
                and node.kind in ("object", "array", "null"):
            return theme.color("muted")
        return None
