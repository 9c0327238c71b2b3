"""File → Export / Import workflows: a zip of the current portal's (or every
portal's) workflows, and an export or JSON file read in as a read-only source
to browse offline. Both run off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

if TYPE_CHECKING:
    from wg_desktop.ui.main_window import MainWindow


class WorkflowTransfers:
    def __init__(self, window: "MainWindow") -> None:
        self.window = window

    def choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export workflows", "workflows.zip",
                                              "Zip archives (*.zip)")
        if path:
            self.export_workflows(Path(path))

    def export_workflows(self, path: Path) -> None:
        """The current portal's (or every portal's) workflows as a zip."""
        window = self.window
        queries, hub_id = window.queries(), window.current_portal()
        window.runner(lambda: queries.export_zip(path, hub_id),
                      on_result=lambda count: window.statusBar().showMessage(
                          f"Exported {count} workflows to {path}", 8000),
                      on_error=lambda error: QMessageBox.warning(
                          window, "Export failed", str(error)))

    def choose_import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import workflows", "",
                                              "Exports and JSON (*.zip *.json)")
        if path:
            self.import_workflows(Path(path))

    def import_workflows(self, path: Path) -> None:
        """Import an export or JSON file as a read-only source to browse offline."""
        window = self.window
        queries = window.queries()

        def imported(result: Any) -> None:
            portal, stored = result
            window.statusBar().showMessage(f"Imported {stored} versions into "
                                           f"'{portal.name}' (read-only)", 8000)
            window.reload_portals(select=portal.hub_id)     # now in the switcher
            window.show_page("Workflows")

        window.runner(lambda: queries.import_file(path), on_result=imported,
                      on_error=lambda error: QMessageBox.warning(window, "Import failed",
                                                                 str(error)))
