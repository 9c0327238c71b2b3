"""Packaging metadata: the launcher entry and AppStream file pass the
freedesktop validators, the ids agree with APP_ID, the icons exist in every
size, the wheel's package list is complete, and make install-desktop /
uninstall-desktop work in a temporary XDG_DATA_HOME.

The validators come from Debian's desktop-file-utils and appstream packages;
.ci/run installs them, so under CI a missing validator fails these tests
instead of skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from pathlib import Path

import pytest

from wg_desktop.constants import APP_ID, APP_VERSION

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
DESKTOP = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
sys.path.insert(0, str(ROOT / "scripts"))
from render_icons import SIZES, png_path  # noqa: E402


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run must install it")
        pytest.skip(f"{name} is not installed (apt-get install desktop-file-utils appstream)")
    return found


def desktop_entry(path: Path) -> dict[str, str]:
    parser = ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_file_passes_desktop_file_validate():
    result = subprocess.run([tool("desktop-file-validate"), str(DESKTOP)],
                            capture_output=True, text=True)
    # Its exit status only counts errors; a warning or hint is worth fixing too.
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_metainfo_passes_appstreamcli_validate():
    result = subprocess.run([tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"^[EW]:", result.stdout, re.M), result.stdout


def test_ids_and_version_agree_with_the_app():
    entry = desktop_entry(DESKTOP)
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == "wg-desktop-gui"      # the GUI script: no console on Windows
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == DESKTOP.name
    assert root.findtext("icon") == APP_ID
    assert root.find("releases/release").get("version") == APP_VERSION
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "wg-desktop-gui" in scripts["gui-scripts"]
    assert "wg-desktop" in scripts["scripts"]


def test_every_icon_size_is_rendered_at_its_size():
    from PySide6.QtGui import QImage

    for size in SIZES:
        image = QImage(str(png_path(size)))
        assert (image.width(), image.height()) == (size, size), png_path(size)
        assert image.hasAlphaChannel()


def test_wheel_lists_every_package_of_the_source_tree():
    from setuptools import find_namespace_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_namespace_packages(str(ROOT), include=["wg_desktop*"]))
    found = {name for name in found if "__pycache__" not in name}
    listed = set(config["packages"])
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"]["wg_desktop.resources"] == "resources"
    assert listed - found == {"wg_desktop.resources"}


def _make(target: str, xdg_data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(xdg_data)}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), target],
                          env=env, capture_output=True, text=True, timeout=300)


def test_install_and_uninstall_desktop_in_xdg_data_home(tmp_path):
    data = tmp_path / "share"
    result = _make("install-desktop", data)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = data / "applications" / f"{APP_ID}.desktop"
    exe = Path(desktop_entry(installed)["Exec"].strip('"'))
    assert exe.is_absolute() and os.access(exe, os.X_OK) and exe.name == "wg-desktop-gui"
    check = subprocess.run([tool("desktop-file-validate"), str(installed)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert (data / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    for size in SIZES:
        assert (data / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png").is_file()

    result = _make("uninstall-desktop", data)
    assert result.returncode == 0, result.stdout + result.stderr
    left = [p for p in data.rglob("*") if p.is_file() and APP_ID in p.name]
    assert left == []


def test_smoke_mode_paints_the_window_reports_and_exits(tmp_path):
    """What make dist-check runs on the bundle, here from the source tree: the
    real GUI start on a fresh folder with the demo portal, the first painted
    frame, the sign-in view's QtWebEngine, a clean exit."""
    from tests.support.cli import base_env

    env = {**base_env(tmp_path / "data"), "WG_SMOKE_EXIT_AFTER_PAINT": "1",
           "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1"}
    result = subprocess.run([sys.executable, "-m", "wg_desktop"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("smoke: painted 'WorkflowGuard Desktop' ")
    assert lines[1].startswith("smoke: pages: Overview, Connection, Workflows")
    assert lines[1].endswith("showing Overview")
    assert "built-in demo portal" in lines[2]
    assert lines[3] == "smoke: sign-in view (QtWebEngine) loaded a page"
    # Quit through the normal path: the store was closed (its open-marker removed).
    from wg_desktop.store.db import marker_path

    assert (tmp_path / "data" / "workflowguard.db").is_file()
    assert not marker_path(tmp_path / "data" / "workflowguard.db").exists()


def test_without_the_variable_the_window_does_not_quit_by_itself(tmp_path):
    from tests.support.cli import base_env

    env = {**base_env(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen",
           "WG_SMOKE_EXIT_AFTER_PAINT": "0"}
    process = subprocess.Popen([sys.executable, "-m", "wg_desktop"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=8)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=60)
    assert "smoke:" not in out


def test_smoke_mode_at_200_percent_scaling_paints_at_device_pixel_ratio_2(tmp_path):
    from tests.support.cli import base_env

    env = {**base_env(tmp_path / "data"), "WG_SMOKE_EXIT_AFTER_PAINT": "1",
           "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1",
           "QT_SCALE_FACTOR": "2"}
    result = subprocess.run([sys.executable, "-m", "wg_desktop"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(device pixel ratio 2)" in result.stdout.splitlines()[0]


def test_the_app_icon_renders_sharp_at_twice_the_pixels(qapp):
    from PySide6.QtCore import QSize

    from wg_desktop.ui.resources import app_icon

    pixmap = app_icon().pixmap(QSize(32, 32), 2.0)
    assert (pixmap.width(), pixmap.height()) == (64, 64)      # rendered, not upscaled
    assert pixmap.devicePixelRatio() == 2.0
