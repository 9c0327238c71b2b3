"""Locating the app's resources (icons, styles): the top-level ``resources/``
folder of a source tree, ``wg_desktop/resources`` in an installed wheel, or
the PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    # PyInstaller unpacks data next to the executable (sys._MEIPASS).
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    # An installed wheel ships them as package data, wg_desktop/resources; a
    # source tree (and an editable install, which does not map that package)
    # has them at the top level. Checked by path, not importlib.resources.
    installed = Path(__file__).resolve().parents[1] / "resources"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "resources"


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "workflowguard.svg"))
