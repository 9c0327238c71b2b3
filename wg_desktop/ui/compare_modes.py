"""What the Compare menu offers, and whether comparing is on. Kept apart from
the compare dialog so the window can build its menus without loading the
dialog and its diff views before the first frame."""

from __future__ import annotations

import enum

from wg_desktop.config import Settings


class CompareMode(enum.Enum):
    WORKFLOWS = "workflows"      # two stored workflows
    FILE = "file"                # a stored workflow and a workflow in a file


def comparison_enabled(settings: Settings) -> bool:
    """The Compare entries exist while comparing does: stored versions are
    browsable (version_history) and comparing them is on (workflow_comparison)."""
    return (settings.feature_enabled("version_history")
            and settings.feature_enabled("workflow_comparison"))
