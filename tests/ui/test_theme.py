"""The app's own colours follow the light or dark palette and stay readable:
banners, status tiles, state badges and diff highlights switch when the palette
does, with text at a WCAG contrast of at least 4.5 on its background."""

from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from wg_desktop.flows.diff import RowTag, SideBySideRow
from wg_desktop.services.reports import PortalRef, Tile
from wg_desktop.ui import theme
from wg_desktop.ui.pages.diff_view import SideBySideModel
from wg_desktop.ui.pages.health_page import StatusTile

MIN_CONTRAST = 4.5


def dark_palette() -> QPalette:
    """What a dark system scheme gives Qt's Fusion style (offscreen Qt cannot
    switch the scheme itself: QStyleHints.setColorScheme is a no-op there)."""
    palette = QPalette()
    for role, value in ((QPalette.ColorRole.Window, "#2d2d2d"),
                        (QPalette.ColorRole.WindowText, "#f0f0f0"),
                        (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.AlternateBase, "#262626"),
                        (QPalette.ColorRole.Text, "#f0f0f0"),
                        (QPalette.ColorRole.Button, "#353535"),
                        (QPalette.ColorRole.ButtonText, "#f0f0f0")):
        palette.setColor(role, QColor(value))
    return palette


@pytest.fixture
def dark(qapp):
    """Flips the application palette to dark for the test, then back."""
    previous = QPalette(qapp.palette())

    def switch() -> None:
        qapp.setPalette(dark_palette())
        qapp.processEvents()

    yield switch
    qapp.setPalette(previous)
    qapp.processEvents()


def _css(style: str, prop: str) -> QColor:
    match = re.search(rf"(?<![-\w]){prop}\s*:\s*(#[0-9a-fA-F]{{6}})", style)
    assert match, f"no {prop} in {style!r}"
    return QColor(match.group(1))


def _assert_readable(style: str, background: str = "background") -> tuple[QColor, QColor]:
    fg, bg = _css(style, "color"), _css(style, background)
    assert theme.contrast_ratio(fg, bg) >= MIN_CONTRAST, style
    return fg, bg


@pytest.mark.parametrize("palette", [QPalette, dark_palette], ids=["light", "dark"])
def test_every_colour_is_readable_in_both_schemes(qapp, palette):
    palette = qapp.palette() if palette is QPalette else palette()
    values = theme.values(palette)
    for tone in theme.TONES:
        assert theme.contrast_ratio(values[f"{tone}_text"], values[f"{tone}_bg"]) \
            >= MIN_CONTRAST, tone
    for role in ("muted", "alert_text", "accent"):
        for ground in (QPalette.ColorRole.Base, QPalette.ColorRole.Window):
            assert theme.contrast_ratio(values[role], palette.color(ground)) >= MIN_CONTRAST, role
    for role in ("diff_old_bg", "diff_new_bg", "diff_none_bg", "highlight_bg"):
        assert theme.contrast_ratio(palette.color(QPalette.ColorRole.Text), values[role]) \
            >= MIN_CONTRAST, role


def test_contrast_ratio_matches_wcag():
    assert theme.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert theme.contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert theme.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_window_banners_switch_to_dark_colours_with_the_palette(window, dark):
    light_fg, light_bg = _assert_readable(window.demo_banner.styleSheet())
    assert light_bg.lightness() > 128
    dark()
    for banner in (window.demo_banner, window.store_banner):
        fg, bg = _assert_readable(banner.styleSheet())
        assert bg.lightness() < 128 and fg.lightness() > 128, banner.objectName()
    assert window.workflows_page.banner.styleSheet() == theme.render(
        "${warning} border-radius:4px;padding:6px 10px;")
    assert _css(window.workflows_page.banner.styleSheet(), "background").lightness() < 128


def test_status_tiles_follow_the_palette(qtbot, dark):
    tile = StatusTile(Tile(PortalRef("1", "Demo"), "unhealthy", ("errors",), None, 0.5, 900.0,
                           0.2, 10, None))
    qtbot.addWidget(tile)
    before = _css(tile.styleSheet(), "background")
    dark()
    after = _css(tile.styleSheet(), "background")
    assert before.lightness() > 128 and after.lightness() < 128
    border = QColor(re.search(r"border:1px solid (#[0-9a-f]{6})", tile.styleSheet()).group(1))
    assert theme.contrast_ratio(border, after) >= MIN_CONTRAST   # the status word's colour


def test_diff_highlights_follow_the_palette(qapp, dark):
    model = SideBySideModel()
    model.set_rows([SideBySideRow(1, "old", 1, "new", RowTag.CHANGED)], "v1", "v2")
    cell = model.index(0, 1)
    from PySide6.QtCore import Qt

    light = model.data(cell, Qt.ItemDataRole.BackgroundRole)
    dark()
    shaded = model.data(cell, Qt.ItemDataRole.BackgroundRole)
    assert light.lightness() > 128 and shaded.lightness() < 128
    text = QGuiApplication.palette().color(QPalette.ColorRole.Text)
    assert theme.contrast_ratio(text, shaded) >= MIN_CONTRAST


def test_a_followed_widget_is_restyled_on_each_change_and_keeps_the_latest_template(qtbot,
                                                                                    dark):
    label = QLabel()
    qtbot.addWidget(label)
    theme.apply_style(label, "color:${alert_text};")
    theme.apply_style(label, "")                       # cleared, as a page does
    dark()
    assert label.styleSheet() == ""
    theme.apply_style(label, "color:${muted};")
    assert label.styleSheet() == f"color:{theme.hex_color('muted')};"
    assert theme.is_dark()
    QApplication.instance().setPalette(QPalette())
    QApplication.instance().processEvents()
    assert label.styleSheet() == "color:#516f90;"
