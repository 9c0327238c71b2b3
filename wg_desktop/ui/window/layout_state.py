"""The window's size on first start, and what it remembers between starts:
its geometry, and every page's splitters and column widths. Pages are built
lazily, so a page's parts are restored when it is built, and a page not
built in this session keeps what an earlier session saved for it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter, QWidget

# Window geometry, splitter positions and column widths (not settings: nothing
# in them is worth validating, syncing or showing in the settings dialog).
UI_STATE_FILE = "window-state.ini"
# Bumped when pages change shape, so a layout saved by an older version is
# ignored rather than applied to different splitters and columns.
UI_STATE_VERSION = 1
# The first start's size: room for the history's columns and a readable JSON
# tree; never below the size the pages were laid out for (a window manager
# fits that to a smaller screen itself).
DEFAULT_SIZE = QSize(1280, 860)
MINIMUM_DEFAULT_SIZE = QSize(1100, 720)


def default_size(window: QWidget) -> QSize:
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_SIZE
    room = screen.availableGeometry().size() * 0.9
    return DEFAULT_SIZE.boundedTo(room).expandedTo(MINIMUM_DEFAULT_SIZE)


def page_group(title: str) -> str:
    return title.replace(" ", "_").lower()


def page_parts(title: str, page: QWidget) -> dict[str, QSplitter | QHeaderView]:
    """A page's splitters and column headers, by a key that holds the page, the
    position and the shape (a changed page starts afresh)."""
    group = page_group(title)
    parts: dict[str, QSplitter | QHeaderView] = {}
    for i, splitter in enumerate(page.findChildren(QSplitter)):
        parts[f"{group}/splitter{i}x{splitter.count()}"] = splitter
    headers = [h for h in page.findChildren(QHeaderView)
               if h.orientation() == Qt.Orientation.Horizontal]
    for i, header in enumerate(headers):
        parts[f"{group}/columns{i}x{header.count()}"] = header
    return parts


class LayoutState:
    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / UI_STATE_FILE

    def _open(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def _current(self, state: QSettings) -> bool:
        return int(state.value("version", 0) or 0) == UI_STATE_VERSION

    def save(self, window: QMainWindow, built: dict[str, QWidget]) -> None:
        """Window size and place, and the parts of the pages built this
        session. A few hundred bytes written at close: not worth a worker thread."""
        state = self._open()
        if not self._current(state):
            state.clear()
        state.setValue("version", UI_STATE_VERSION)
        state.setValue("window/geometry", window.saveGeometry())
        state.setValue("window/state", window.saveState(UI_STATE_VERSION))
        for title, page in built.items():
            state.remove(page_group(title))
            for key, part in page_parts(title, page).items():
                state.setValue(key, part.saveState())
        state.sync()

    def restore_window(self, window: QMainWindow) -> None:
        """Read before the first paint, so the window opens as it was left."""
        state = self._open()
        if not self._current(state):
            return
        geometry = state.value("window/geometry")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        window_state = state.value("window/state")
        if isinstance(window_state, QByteArray):
            window.restoreState(window_state, UI_STATE_VERSION)

    def restore_page(self, title: str, page: QWidget) -> None:
        """When a page is built: its splitters and columns as they were left."""
        state = self._open()
        if not self._current(state):
            return
        for key, part in page_parts(title, page).items():
            saved = state.value(key)
            if isinstance(saved, QByteArray):
                part.restoreState(saved)
