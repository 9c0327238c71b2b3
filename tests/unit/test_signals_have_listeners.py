"""Every Qt signal the UI declares has a listener in the app (or a benchmark
that times up to it): a signal only the tests subscribe to is an API kept for
the tests, and the tests should wait for what the user sees instead.

The check is by name (a signal called ``loaded`` on one page counts as heard
when another page's ``loaded`` is): it catches a new signal nobody listens to,
not every rename."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "wg_desktop" / "ui"
LISTENER_SOURCES = (ROOT / "wg_desktop", ROOT / "benchmarks")


def declared_signals() -> list[tuple[str, str, str]]:
    """(file, class, signal name) for every ``name = Signal(...)`` in a UI class."""
    found = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if (isinstance(item, ast.Assign) and isinstance(item.value, ast.Call)
                        and isinstance(item.value.func, ast.Name)
                        and item.value.func.id == "Signal"):
                    for target in item.targets:
                        if isinstance(target, ast.Name):
                            found.append((path.relative_to(ROOT).as_posix(), node.name,
                                          target.id))
    return found


def listened_names() -> set[str]:
    """Attribute names used other than to emit: ``x.name.connect(...)``, or
    ``x.name`` handed on (``for signal in (a.started, a.skipped): ...``)."""
    names: set[str] = set()
    pattern = re.compile(r"\.(\w+)\b(?!\s*\.emit\b)")
    for folder in LISTENER_SOURCES:
        for path in folder.rglob("*.py"):
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_the_check_sees_the_ui_signals():
    signals = {(cls, name) for _, cls, name in declared_signals()}
    assert ("MainWindow", "current_portal_changed") in signals
    assert ("JobScheduler", "skipped") in signals
    assert len(signals) > 30


def test_every_ui_signal_has_a_listener_outside_the_tests():
    heard = listened_names()
    unheard = [f"{file}: {cls}.{name}" for file, cls, name in declared_signals()
               if name not in heard]
    assert unheard == []
