"""scripts/screenshots.py (the README's pictures) runs against the current
window and writes one picture per page; the README shows each of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshots import slug  # noqa: E402

PAGES = ["Overview", "Connection", "Workflows", "Search", "Health", "Backups", "Audit log",
         "Background jobs"]


def test_the_script_writes_a_picture_of_every_page(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py"),
                           str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    for title in PAGES:
        image = QImage(str(tmp_path / f"{slug(title)}.png"))
        assert not image.isNull() and image.width() >= 1000, title


def test_the_readme_shows_every_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"docs/screenshots/([a-z0-9-]+)\.png", readme))
    assert shown == {slug(title) for title in PAGES}
    for name in shown:
        assert (ROOT / "docs" / "screenshots" / f"{name}.png").is_file(), name
