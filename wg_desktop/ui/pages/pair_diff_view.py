"""The diff view on any two sides: two workflows (any portals, imported
sources too) or a stored workflow and a workflow in a file.

It is the history's :class:`DiffView` (summary, side by side, F7, changes
only, copy, save as HTML) with its pickers refilled: the left one lists the
first workflow's versions, the right one the second workflow's (or the one
file entry), and each comparison runs ``compute(old_id, new_id)`` — a call
into ``services.compare`` — on the worker instead of two versions of one
workflow, through the base class's ``start_comparison`` (the runner, the
request counter that drops late answers, the way results are shown).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtWidgets import QComboBox, QWidget

from wg_desktop.flows.diff import SECTION_TITLES, side_by_side, unified_lines
from wg_desktop.services.compare import Comparison
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.ui.pages.diff_view import COMPARING_TEXT, DiffResult, DiffView, VersionChoice

# The right picker's id of "the workflow in the file": stored version ids are
# positive and the history's live side is -1.
FILE_ID = -2

PairCompute = Callable[[int, int], DiffResult]      # (old id, new id) -> result; worker thread


def pair_result(title: str, comparison: Comparison, old_id: int, new_id: int) -> DiffResult:
    """A comparison ready to show (worker thread). The unified diff names the
    sides by their full labels: two workflows' "v2" would say nothing."""
    old, new, diff = comparison.old, comparison.new, comparison.diff
    return DiffResult(title, old_id, new_id, old.label, new.label, diff.identical,
                      [(SECTION_TITLES[section], phrases) for section, phrases in diff.grouped()],
                      diff.summary(), side_by_side(old.definition, new.definition),
                      unified_lines(old.definition, new.definition, old_label=old.label,
                                    new_label=new.label))


def _fill(combo: QComboBox, choices: list[VersionChoice], current: int) -> None:
    combo.blockSignals(True)       # one comparison once both are filled, not one per item
    combo.clear()
    for choice in choices:
        combo.addItem(choice.label, choice.id)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


class PairDiffView(DiffView):
    def __init__(self, queries: WorkflowQueries, runner: Callable[..., Any], title: str,
                 old_choices: list[VersionChoice], new_choices: list[VersionChoice],
                 old_id: int, new_id: int, compute: PairCompute, *,
                 workflow_id: int, parent: QWidget | None = None) -> None:
        # The base compares as it is built; with no pickers filled yet there
        # is nothing to compare, so compare() waits for _compute (set below).
        super().__init__(queries, runner, workflow_id, title, [], 0, 0, parent=parent)
        self.setWindowTitle(f"Compare — {title}")
        self._compute = compute
        _fill(self.old_combo, old_choices, old_id)
        _fill(self.new_combo, new_choices, new_id)
        self.old_combo.setAccessibleName("First side")
        self.new_combo.setAccessibleName("Second side")
        self.compare(self.old_combo.currentData(), self.new_combo.currentData())

    def compare(self, old_id: int, new_id: int) -> None:
        compute: PairCompute | None = getattr(self, "_compute", None)
        if compute is None or old_id is None or new_id is None:
            return
        self.start_comparison(lambda: compute(old_id, new_id), COMPARING_TEXT)


__all__ = ["FILE_ID", "PairDiffView", "pair_result"]
