"""Locating the files in the top-level ``resources/`` folder (icons, styles)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    # PyInstaller unpacks data next to the executable (sys._MEIPASS).
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "workflowguard.svg"))
