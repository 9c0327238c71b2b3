"""Small widgets the window is made of: an eliding status label and the
stand-ins shown where a page cannot be (its feature off, no HubSpot)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from wg_desktop.config import FEATURES


class ElidedLabel(QLabel):
    """A status-bar label whose text is cut with "…" to the room it has: a long
    message never widens the window. The whole text is in the tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # Ask for the whole text when there is room...
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + margins.left() \
            + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # ...but never insist on it: the window's minimum width stays put.
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                      max(room, 0)))


class FeatureOffPage(QWidget):
    """Shown instead of a page whose feature flag is off."""

    def __init__(self, feature: str, open_settings: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel(f"<h3>{FEATURES[feature]} is turned off</h3>"
                       f"<p>Turn it on under <b>Settings → Features</b> "
                       f"(or set <code>WG_FEATURES_{feature.upper()}=true</code>).</p>")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton("Open settings…")
        button.clicked.connect(open_settings)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)


class NoHubSpotPage(QWidget):
    """The Connection page of a window built without HubSpot services."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel("<h3>HubSpot is not set up in this session</h3>"
                       "<p>Portals cannot be connected here.</p>")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
