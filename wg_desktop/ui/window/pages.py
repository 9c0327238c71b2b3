"""The page list and the pages behind it, built lazily.

Every entry is in the list from the start, with its title and icon, but a
page's widget (and its module: the Health page's charts, the history's diff
views) is made only when it is first shown or asked for, or in idle time once
the window has painted. An empty placeholder holds its place in the stack
until then. ``on_built`` lets the window wire a page to the others when it
comes into being, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStackedWidget, QWidget

from wg_desktop.ui.page_icons import page_icon


@dataclass(frozen=True)
class PageSpec:
    title: str
    build: Callable[[], QWidget]
    feature: str | None = None     # feature flag that must be on


class PageEntry:
    """One entry of the page list; ``widget`` builds the page on first use."""

    def __init__(self, spec: PageSpec, pages: "PageSet") -> None:
        self.spec = spec
        self._pages = pages

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def feature(self) -> str | None:
        return self.spec.feature

    @property
    def built(self) -> bool:
        return self._pages.built(self.title) is not None

    @property
    def widget(self) -> QWidget:
        return self._pages.widget(self.title)


class PageSet:
    def __init__(self, nav: QListWidget, stack: QStackedWidget,
                 feature_on: Callable[[str], bool],
                 feature_off_page: Callable[[str], QWidget],
                 on_built: Callable[[str, QWidget], None]) -> None:
        self.nav = nav
        self.stack = stack
        self.feature_on = feature_on
        self.feature_off_page = feature_off_page
        self.on_built = on_built
        self.entries: list[PageEntry] = []
        self._widgets: dict[str, QWidget] = {}
        nav.currentRowChanged.connect(self._row_changed)

    def __iter__(self) -> Iterator[PageEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, spec: PageSpec, palette: QPalette) -> None:
        self.entries.append(PageEntry(spec, self))
        self.stack.addWidget(QWidget())          # the placeholder, until it is built
        QListWidgetItem(page_icon(spec.title, palette), spec.title, self.nav)

    def titles(self) -> list[str]:
        return [entry.title for entry in self.entries]

    def built(self, title: str) -> QWidget | None:
        """The page's widget if it was built, else None (nothing is built)."""
        return self._widgets.get(title)

    def built_pages(self) -> dict[str, QWidget]:
        return dict(self._widgets)

    def widget(self, title: str) -> QWidget:
        """The page's widget, built now if it was not yet (KeyError: no such page)."""
        if title in self._widgets:
            return self._widgets[title]
        row = self._row(title)
        spec = self.entries[row].spec
        if spec.feature and not self.feature_on(spec.feature):
            widget = self.feature_off_page(spec.feature)
        else:
            widget = spec.build()
        self._widgets[title] = widget
        placeholder = self.stack.widget(row)
        showing = self.stack.currentIndex() == row
        self.stack.insertWidget(row, widget)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        if showing:
            self.stack.setCurrentIndex(row)
        self.on_built(title, widget)
        return widget

    def show(self, title: str) -> QWidget:
        widget = self.widget(title)
        self.nav.setCurrentRow(self._row(title))
        return widget

    def build_all(self) -> None:
        for entry in self.entries:
            self.widget(entry.title)

    def build_when_idle(self) -> None:
        """Build the pages not built yet, one per turn of the event loop, so
        input and paints go between them."""
        waiting = [entry.title for entry in self.entries if entry.title not in self._widgets]
        if not waiting:
            return
        self.widget(waiting[0])
        if len(waiting) > 1:
            QTimer.singleShot(0, self.stack, self.build_when_idle)

    def refresh_icons(self, palette: QPalette) -> None:
        for row, entry in enumerate(self.entries):
            self.nav.item(row).setIcon(page_icon(entry.title, palette))

    def _row(self, title: str) -> int:
        for row, entry in enumerate(self.entries):
            if entry.title == title:
                return row
        raise KeyError(title)

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            self.widget(self.entries[row].title)
        self.stack.setCurrentIndex(row)
