"""Search page: full-text search over every stored version of every workflow
(names, action fields, property names, email and list ids, webhook URLs,
custom code). A hit opens the workflow's history at that version, with the
match (``match_text``) highlighted there.

The search runs off the GUI thread through the runner. Typing searches once
the user pauses; Enter searches at once. Each request carries a number and an
answer for an older request is dropped, so a slow early search never
overwrites the results of a newer one.
"""

from __future__ import annotations

import enum
import html
from typing import Any, Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QAbstractTextDocumentLayout, QKeySequence, QPalette, QShortcut,
                           QTextDocument)
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QCheckBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QStyle, QStyleOptionViewItem,
                               QStyledItemDelegate, QTableView, QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.services.search import SearchHit, SearchService, Snippet
from wg_desktop.ui.table_model import ListTableModel
from wg_desktop.ui.json_tree import plain_tooltip
from wg_desktop.ui.pages.history_panel import local_time_text, origin_label

SEARCH_DEBOUNCE_MS = 300
RESULT_LIMIT = 50


# -- what is shown (pure) ------------------------------------------------------------------

def snippet_html(snippet: Snippet | None) -> str:
    """The snippet with its matches in bold; everything else escaped (it is user data)."""
    if snippet is None:
        return "<i>(this version could not be read)</i>"
    out, last = [], 0
    for start, end in snippet.marks:
        out.append(html.escape(snippet.text[last:start]))
        out.append(f"<b>{html.escape(snippet.text[start:end])}</b>")
        last = end
    out.append(html.escape(snippet.text[last:]))
    path = f"<span style='color:{theme.hex_color('muted')}'>{html.escape(snippet.path)}:</span> " \
        if snippet.path else ""
    return path + "".join(out).replace("\n", " ")


def snippet_plain(snippet: Snippet | None) -> str:
    if snippet is None:
        return "(this version could not be read)"
    text = snippet.text.replace("\n", " ")
    return f"{snippet.path}: {text}" if snippet.path else text


def match_text(hit: SearchHit) -> str | None:
    """What to highlight in the opened version: the snippet's first matched
    span, as stored (the query may be a prefix or a phrase in FTS syntax;
    the span is what the version really contains). None when the version
    could not be read or nothing was marked."""
    snippet = hit.snippet
    if snippet is None or not snippet.marks:
        return None
    start, end = snippet.marks[0]
    return snippet.text[start:end].strip() or None


def results_text(query: str, hits: list[SearchHit], limit: int) -> str:
    if not query.strip():
        return ""
    if not hits:
        return f"No stored version contains “{query.strip()}”."
    if len(hits) >= limit:
        return f"The {limit} most recently stored matching versions."
    return f"{len(hits)} matching version{'s' if len(hits) != 1 else ''}."


# -- model ---------------------------------------------------------------------------------

class Column(enum.IntEnum):
    WORKFLOW = 0
    PORTAL = 1
    VERSION = 2
    CAPTURED = 3
    MATCH = 4


COLUMN_TITLES = {Column.WORKFLOW: "Workflow", Column.PORTAL: "Portal",
                 Column.VERSION: "Version", Column.CAPTURED: "Captured",
                 Column.MATCH: "Match"}
MARKED_HTML_ROLE = Qt.ItemDataRole.UserRole + 1   # the snippet as escaped HTML, matches bold


class SearchResultsModel(ListTableModel):
    headers = tuple(COLUMN_TITLES[column] for column in Column)

    @property
    def hits(self) -> list[SearchHit]:
        return self.rows

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.set_rows(hits)

    def hit_at(self, row: int) -> SearchHit:
        return self.rows[row]

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        hit = self.hits[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == Column.WORKFLOW:
                name = hit.workflow_name or "(unnamed)"
                return f"{name} (deleted)" if hit.workflow_deleted else name
            if column == Column.PORTAL:
                return hit.portal_name or str(hit.hub_id)
            if column == Column.VERSION:
                return f"v{hit.version_number} of {hit.version_count}"
            if column == Column.CAPTURED:
                return local_time_text(hit.captured_at)[:16]
            return snippet_plain(hit.snippet)
        if role == MARKED_HTML_ROLE and column == Column.MATCH:
            return snippet_html(hit.snippet)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.MATCH:
                return plain_tooltip(snippet_plain(hit.snippet))
            if column == Column.WORKFLOW:
                return plain_tooltip(f"{hit.workflow_name}\nFlow {hit.flow_id}")
            if column == Column.CAPTURED:
                return plain_tooltip(f"Captured {local_time_text(hit.captured_at)} "
                                     f"({origin_label(hit.origin)})")
        if role == Qt.ItemDataRole.UserRole:
            return hit.version_id
        return None


class MarkedTextDelegate(QStyledItemDelegate):
    """Draws the snippet column's rich text (matches bold) on one line.
    The model hands out escaped HTML, so stored text never becomes markup."""

    def paint(self, painter: Any, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        marked = index.data(MARKED_HTML_ROLE)
        if marked is None:
            super().paint(painter, option, index)
            return
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        style = item.widget.style() if item.widget is not None else QApplication.style()
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, item, item.widget)
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        # The style draws the background and focus, this delegate the text. The
        # selection is filled here: without text the style fills an empty rect.
        item.text = ""
        if selected:
            painter.fillRect(item.rect, item.palette.highlight())
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, item.widget)
        document = self._document(marked, item)
        painter.save()
        painter.translate(text_rect.left(),
                          text_rect.top() + (text_rect.height() - document.size().height()) / 2)
        painter.setClipRect(QRectF(0, 0, text_rect.width(), text_rect.height()))
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, item.palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), option.fontMetrics.height() + 6))

    @staticmethod
    def _document(marked: str, option: QStyleOptionViewItem) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setDocumentMargin(0)
        document.setHtml(f"<span style='white-space:nowrap'>{marked}</span>")
        return document


# -- the page ------------------------------------------------------------------------------

class SearchPage(QWidget):
    open_requested = Signal(object)             # the SearchHit to open

    def __init__(self, service: SearchService, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._run = runner
        self._hub_id: int | None = None
        self._request = 0            # number of the newest search asked for
        self._task: Any = None
        self._status_checked = False

        self.query = QLineEdit(placeholderText="Search every stored version: names, fields, "
                                               "properties, ids, URLs, code…")
        self.query.setClearButtonEnabled(True)
        self.query.setAccessibleName("Search text")
        self.this_portal = QCheckBox("Current portal only")
        self.this_portal.setToolTip("Search only the portal chosen in the toolbar")
        self.this_portal.setEnabled(False)
        self.notice = QLabel("")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        theme.apply_style(self.notice, "${warning} border-radius:4px;padding:6px 10px;")
        self.notice.hide()
        self.status = QLabel("Type words to find every version that contains them.")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        theme.apply_style(self.status, "color:${muted};")
        self.status.setWordWrap(True)

        self.model = SearchResultsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(Column.MATCH, MarkedTextDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setAccessibleName("Search results")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.MATCH, QHeaderView.ResizeMode.Stretch)
        metrics = self.table.fontMetrics()
        for column, sample in ((Column.WORKFLOW, "A fairly long workflow name"),
                               (Column.PORTAL, "Agency client portal"),
                               (Column.VERSION, "v100 of 100"),
                               (Column.CAPTURED, "2026-12-31 23:59")):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 24)

        bar = QHBoxLayout()
        bar.addWidget(self.query, 1)
        bar.addWidget(self.this_portal)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        # Typing fires many changes; search once the user pauses.
        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_now)
        self.query.textChanged.connect(self._debounce.start)
        self.query.returnPressed.connect(self.search_now)
        self.this_portal.toggled.connect(lambda: self.search_now())
        # Enter (or a double click, where the platform activates on it) opens a hit.
        self.table.activated.connect(self._activated)
        # Ctrl+F anywhere in the window while this page is shown (Qt ignores the
        # shortcuts of hidden widgets, so other pages keep Ctrl+F for themselves).
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WindowShortcut)
        find.activated.connect(self.focus_query)
        # Down from the search box goes to the results, as in a browser's address bar.
        down = QShortcut(QKeySequence(Qt.Key.Key_Down), self.query)
        down.setContext(Qt.ShortcutContext.WidgetShortcut)
        down.activated.connect(self._focus_results)

    # -- public -----------------------------------------------------------------------

    def set_portal(self, hub_id: int | None) -> None:
        """The portal chosen in the window; "Current portal only" searches just it."""
        self._hub_id = hub_id
        self.this_portal.setEnabled(hub_id is not None)
        if self.this_portal.isChecked() and self.query.text().strip():
            self.search_now()

    def focus_query(self) -> None:
        self.query.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query.selectAll()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.check_index()

    def check_index(self) -> None:
        """Once, when first shown: say so if the index misses stored versions."""
        if self._status_checked:
            return
        self._status_checked = True
        service = self.service
        self._run(service.status, on_result=self._show_index_status,
                  on_error=lambda error: None)   # the search itself will say what is wrong

    def search_now(self) -> None:
        """Search for the box's text (off the GUI thread); older answers are dropped."""
        self._debounce.stop()
        query = self.query.text()
        if self._task is not None:
            self._task.discard()
            self._task = None
        self._request += 1
        request = self._request
        if not query.strip():
            self.model.set_hits([])
            self.status.setText("Type words to find every version that contains them.")
            return
        portal = self._hub_id if self.this_portal.isChecked() else None
        service = self.service
        self.status.setText("Searching…")
        self._task = self._run(lambda: service.search(query, portal=portal, limit=RESULT_LIMIT),
                               on_result=lambda hits: self._show_hits(request, query, hits),
                               on_error=lambda error: self._search_error(request, error))

    # -- internals ----------------------------------------------------------------------

    def _show_hits(self, request: int, query: str, hits: list[SearchHit]) -> None:
        if request != self._request:
            return                  # a newer search was asked for since
        self._task = None
        self.model.set_hits(hits)
        self.status.setText(results_text(query, hits, RESULT_LIMIT))
        if hits:
            self.table.setCurrentIndex(self.model.index(0, 0))

    def _search_error(self, request: int, error: BaseException) -> None:
        if request != self._request:
            return
        self._task = None
        self.model.set_hits([])
        message = f"Search failed: {error}"
        self.status.setText(message)

    def _show_index_status(self, status: Any) -> None:
        advice = status.advice()
        self.notice.setText(f"Results may be incomplete: {advice}." if advice else "")
        self.notice.setVisible(bool(advice))

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.model.hit_at(index.row()))

    def _focus_results(self) -> None:
        if self.model.rowCount():
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            if not self.table.currentIndex().isValid():
                self.table.setCurrentIndex(self.model.index(0, 0))
