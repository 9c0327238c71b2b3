"""The layers of docs/architecture.md, checked on the source: a forbidden
import anywhere in a module (also inside a function) fails here."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wg_desktop"
QT = ("PySide6", "shiboken6", "pyqtgraph")

# The GUI's composition root wires everything together; it may import any
# layer: the start-up sequence (launch.py) and the window's wiring (app.py).
COMPOSITION_ROOTS = {"ui/app.py", "ui/launch.py"}

# layer (path prefix inside wg_desktop/) -> module prefixes it must not import
RULES: dict[str, tuple[str, ...]] = {
    "hubspot/": QT + ("wg_desktop.store", "wg_desktop.services", "wg_desktop.ui",
                      "wg_desktop.demo"),
    "store/": QT + ("wg_desktop.hubspot", "wg_desktop.services", "wg_desktop.ui",
                    "wg_desktop.demo"),
    # flows may use the store's pure normalisation, never its database
    "flows/": QT + ("wg_desktop.hubspot", "wg_desktop.store.db", "wg_desktop.store.models",
                    "wg_desktop.services", "wg_desktop.ui", "wg_desktop.demo"),
    "security/": QT + ("wg_desktop.services", "wg_desktop.ui", "wg_desktop.demo"),
    "services/": QT + ("wg_desktop.ui", "wg_desktop.demo"),
    "demo/": QT + ("wg_desktop.ui", "wg_desktop.services", "wg_desktop.store"),
    "ui/": ("wg_desktop.hubspot", "wg_desktop.store", "wg_desktop.demo"),
}


def _type_checking_only(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` blocks name types for annotations; they are not a
    runtime dependency, so the checker does not count them."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        if _type_checking_only(node):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return names


def violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in COMPOSITION_ROOTS:
            continue
        for name in sorted(imported_modules(path)):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{relative} imports {name}")
    return found


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_what_it_may(layer):
    assert violations(layer, RULES[layer]) == []


def test_the_checker_sees_a_forbidden_import(tmp_path, monkeypatch):
    fake = tmp_path / "wg_desktop"
    (fake / "store").mkdir(parents=True)
    (fake / "store" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from wg_desktop.services.sync import SyncService\n"
        "def f():\n    from wg_desktop.hubspot.api import x\n    import PySide6.QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert violations("store/", RULES["store/"]) == [
        "store/bad.py imports PySide6.QtCore", "store/bad.py imports wg_desktop.hubspot.api"]


def test_counting_open_alerts_does_not_load_the_hubspot_client():
    """The Overview asks the alert service for open alerts on its first load,
    which can run before the window's first frame: that must not pull in the
    health checks and the HubSpot client under them (they come after it)."""
    import subprocess

    probe = ("import sys, wg_desktop.services.alerts, wg_desktop.services.lazy_alerts; "
             "print(sorted(m for m in ('wg_desktop.services.health', "
             "'wg_desktop.hubspot.transport.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=PACKAGE.parent, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
