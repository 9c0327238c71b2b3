"""Every page in the list has an icon, drawn in the palette's text colour,
with 2x pixels for high-DPI screens."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QPalette

from wg_desktop.ui.page_icons import PAGE_ICONS, page_icon


def _ink(icon, size=24, ratio=1.0) -> list[QColor]:
    """The opaque pixels of the icon at ``size``."""
    image = icon.pixmap(QSize(size, size), ratio).toImage()
    return [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 200]


def _palette(text: str, window: str) -> QPalette:
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(text))
    palette.setColor(QPalette.ColorRole.Window, QColor(window))
    return palette


def test_every_page_of_the_window_has_an_icon(window):
    titles = [window.nav.item(row).text() for row in range(window.nav.count())]
    assert titles and set(titles) <= set(PAGE_ICONS)
    for row in range(window.nav.count()):
        assert _ink(window.nav.item(row).icon()), titles[row]


def test_icons_take_the_palette_text_colour(qapp):
    light = _ink(page_icon("Health", _palette("#1b1b1b", "#ffffff")))
    dark = _ink(page_icon("Health", _palette("#f0f0f0", "#202020")))
    assert light and dark
    assert max(c.lightness() for c in light) < 80
    assert min(c.lightness() for c in dark) > 180


def test_high_dpi_pixels_are_drawn_not_upscaled(qapp):
    icon = page_icon("Search", _palette("#000000", "#ffffff"))
    pixmap = icon.pixmap(QSize(24, 24), 2.0)
    assert pixmap.width() == 48 and pixmap.devicePixelRatio() == 2.0


def test_a_palette_change_redraws_the_page_icons(window, qtbot):
    before = _ink(window.nav.item(0).icon())
    window.setPalette(_palette("#fafafa", "#101010"))
    after = _ink(window.nav.item(0).icon())
    assert max(c.lightness() for c in before) < 150 < min(c.lightness() for c in after)


def test_an_unknown_page_gets_an_empty_icon(qapp):
    assert page_icon("No such page", QPalette()).isNull()
