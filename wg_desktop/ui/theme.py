"""The app's own colours, for a light and a dark system palette.

Qt paints its widgets from the palette, which follows the system's colour
scheme (QStyleHints.colorScheme). The few colours the app adds — banners,
state badges, status tiles, diff highlights, muted and error text — come from
here, chosen by the palette in force: a light set and a dark set, each with
text readable on its background (WCAG contrast >= 4.5, checked by
tests/ui/test_theme.py).

Styles are written as templates (``string.Template``: ``${warning_bg}``, or
``${warning}`` for a tone's background, text and border at once) and applied with
:func:`apply_style`, which renders them again whenever the application palette
or the colour scheme changes. Models and rich text ask :func:`color` /
:func:`hex_color` at paint time, so a repaint picks up the new scheme.
"""

from __future__ import annotations

from string import Template
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

TONES = ("warning", "error", "info", "ok", "neutral")

# name: (light, dark). Tones are background / text / border triples.
_PAIRS: dict[str, tuple[str, str]] = {
    "warning_bg": ("#fff4e5", "#3d2e12"), "warning_text": ("#7a4b00", "#ffd591"),
    "warning_border": ("#f5c26b", "#8a6420"),
    "error_bg": ("#fdecea", "#3f1d1b"), "error_text": ("#8a1c1c", "#ffb4ab"),
    "error_border": ("#f3b5b0", "#8c3a33"),
    "info_bg": ("#eaf3fb", "#14293d"), "info_text": ("#1d4f76", "#a8d1f5"),
    "info_border": ("#b7d4ee", "#2f5f8a"),
    "ok_bg": ("#e9f7ef", "#17321f"), "ok_text": ("#1e6b3a", "#9be0b0"),
    "ok_border": ("#a9dcbc", "#2f6b43"),
    "neutral_bg": ("#eef1f4", "#2b3138"), "neutral_text": ("#33475b", "#d5dde5"),
    "neutral_border": ("#cbd6e2", "#4a5561"),
    # Text on the window or a view's base: secondary words, failures, markers.
    "muted": ("#516f90", "#a3b7cc"),
    "alert_text": ("#b00020", "#ff8a80"),
    "accent": ("#0b6e99", "#6cc4ee"),
    # Backgrounds behind the palette's own text.
    "diff_old_bg": ("#ffe1e1", "#4b2024"),
    "diff_new_bg": ("#dcfce7", "#1d3b27"),
    "diff_none_bg": ("#eef0f3", "#2e3238"),
    "highlight_bg": ("#fff3a0", "#5c4f00"),
}
ROLES = tuple(_PAIRS)


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the palette in force paints dark windows (what the user sees,
    whichever way the scheme was set: the system, a style, a custom palette)."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def hex_color(role: str, palette: QPalette | None = None) -> str:
    light, dark = _PAIRS[role]
    return dark if is_dark(palette) else light


def color(role: str, palette: QPalette | None = None) -> QColor:
    return QColor(hex_color(role, palette))


def values(palette: QPalette | None = None) -> dict[str, str]:
    """Every placeholder a style template may use, for the palette in force."""
    dark = is_dark(palette)
    found = {name: pair[1] if dark else pair[0] for name, pair in _PAIRS.items()}
    for tone in TONES:
        found[tone] = (f"background:{found[tone + '_bg']};color:{found[tone + '_text']};"
                       f"border:1px solid {found[tone + '_border']};")
    return found


def render(template: str, palette: QPalette | None = None) -> str:
    return Template(template).substitute(values(palette))


def contrast_ratio(a: QColor | str, b: QColor | str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    def luminance(c: QColor | str) -> float:
        c = QColor(c)
        channels = []
        for value in (c.redF(), c.greenF(), c.blueF()):
            channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
        r, g, b_ = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class _Follower(QObject):
    """Re-runs a widget's colour callback when the scheme turns light or dark."""

    NAME = "wgThemeFollower"
    _EVENTS = (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.setObjectName(self.NAME)
        self.callback: Callable[[], None] = lambda: None
        self.applied_dark: bool | None = None
        widget.installEventFilter(self)
        app = QGuiApplication.instance()
        if app is not None:
            # A widget whose style sheet sets a background has a palette of its
            # own, so Qt no longer forwards application palette changes to it:
            # the application's signal is heard instead. The scheme's signal
            # covers platforms that change the scheme before the palette.
            app.paletteChanged.connect(self._scheme_changed)
            app.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def run(self) -> None:
        self.applied_dark = is_dark()
        self.callback()

    def _scheme_changed(self, _scheme_or_palette: object) -> None:
        self._maybe_rerun()

    def _maybe_rerun(self) -> None:
        # Only a change between light and dark: restyling sends the widget a
        # palette change of its own, which must not restyle it again.
        if is_dark() != self.applied_dark:
            self.run()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in self._EVENTS:
            self._maybe_rerun()
        return False


def follow(widget: QWidget, callback: Callable[[], None]) -> None:
    """Run ``callback`` now and again whenever the palette turns light or dark
    for as long as ``widget`` lives (replacing the callback an earlier call gave)."""
    follower = widget.findChild(_Follower, _Follower.NAME,
                                Qt.FindChildOption.FindDirectChildrenOnly)
    if follower is None:
        follower = _Follower(widget)
    follower.callback = callback
    follower.run()


def apply_style(widget: QWidget, template: str) -> None:
    """``widget.setStyleSheet`` with the template rendered for the palette in
    force, and again whenever it changes."""
    follow(widget, lambda: widget.setStyleSheet(render(template)))
