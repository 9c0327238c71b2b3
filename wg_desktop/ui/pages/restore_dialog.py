"""The restore dialog: plan first, confirm, apply, then offer the undo.

1. Opening it plans the restore off the GUI thread (the service reads the live
   flow from HubSpot) and shows the plan: what changes from live, grouped as
   the diff view groups it, and the warnings. "Restore as turned off" plans
   again, because it changes what HubSpot will hold.
2. Cancel closes it; nothing was sent. A refused plan says why and keeps
   Restore disabled.
3. Restore applies the shown plan off the GUI thread (closing is refused
   meanwhile: a PUT in flight cannot be taken back half-way). A conflict
   (the workflow changed in HubSpot since the plan) shows the new plan and
   waits for a new confirmation instead of overwriting.
4. The result is shown with "Undo this restore": that plans restoring the
   captured pre-restore version, shown like any plan and applied only when
   confirmed again.

All decisions are the service's; this module only renders plans and results.
"""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QHBoxLayout, QLabel, QListWidget,
                               QProgressBar, QPushButton, QTextBrowser, QVBoxLayout, QWidget)

from wg_desktop.flows.diff import SECTION_TITLES
from wg_desktop.services.restore import (RestoreConflict, RestoreMode, RestorePlan,
                                         RestoreResult, RestoreService)


# -- what is shown (pure) ------------------------------------------------------------------

def plan_headline(plan: RestorePlan) -> str:
    what = (f"Restore '{plan.workflow_name}' to version {plan.target_number} of "
            f"{plan.version_count}")
    if plan.as_disabled:
        what += ", turned off"
    if plan.mode is RestoreMode.RECREATE:
        return what + ". It was deleted in HubSpot: it will be recreated with a new id."
    return what + f". Planned against live revision {plan.live_revision_id}."


def plan_html(plan: RestorePlan) -> str:
    """The changes from live, grouped by section (escaped: names are user data)."""
    e = html.escape
    diff = plan.diff
    if diff.identical or not diff.grouped():
        return f"<p><b>{e(diff.summary())}</b></p>"
    parts = []
    for section, phrases in diff.grouped():
        parts.append(f"<p style='margin:6px 0 2px 0'><b>{e(SECTION_TITLES[section])}</b></p>"
                     "<ul style='margin:0'>")
        parts.extend(f"<li>{e(phrase)}</li>" for phrase in phrases)
        parts.append("</ul>")
    return "".join(parts)


class Stage(enum.StrEnum):
    PLANNING = "planning"       # a plan is being computed
    READY = "ready"             # a plan is shown and can be confirmed
    REFUSED = "refused"         # a plan is shown that cannot be applied
    APPLYING = "applying"       # the confirmed plan is being sent
    DONE = "done"               # the result is shown; undo may be offered
    FAILED = "failed"           # nothing to confirm; the message says why


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: a stored version of a workflow, or the undo of a result."""

    workflow_id: int
    version_id: int | None = None
    undo_of: RestoreResult | None = None


def make_plan(service: RestoreService, request: PlanRequest, as_disabled: bool) -> RestorePlan:
    """Worker thread."""
    if request.undo_of is not None:
        plan = service.plan_undo(request.undo_of)
        if as_disabled:
            workflow = service.queries.get(plan.workflow_id)
            plan = service.plan_version(workflow, plan.target_version_id, as_disabled=True)
        return plan
    workflow = service.queries.get(request.workflow_id)
    assert request.version_id is not None
    return service.plan_version(workflow, request.version_id, as_disabled=as_disabled)


# -- the dialog ----------------------------------------------------------------------------

class RestoreDialog(QDialog):
    applied = Signal(object)         # RestoreResult of a confirmed plan

    def __init__(self, service: RestoreService, runner: Callable[..., Any], workflow_id: int,
                 version_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._run = runner
        self._request = PlanRequest(workflow_id, version_id)
        self._task: Any = None
        self._plan: RestorePlan | None = None
        self._result: RestoreResult | None = None
        self.stage = Stage.PLANNING
        self.setWindowTitle("Restore version")
        self.resize(620, 520)

        self.headline = QLabel("Planning the restore…")
        self.headline.setTextFormat(Qt.TextFormat.PlainText)    # names are shown verbatim
        self.headline.setWordWrap(True)
        self.changes = QTextBrowser()
        self.changes.setOpenLinks(False)
        self.warnings_title = QLabel("Warnings")
        self.warnings = QListWidget()
        self.warnings.setWordWrap(True)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.hide()
        self.as_disabled = QCheckBox("Restore as turned off (the workflow does not enroll)")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(12)
        self.cancel_button = QPushButton("Cancel")
        self.restore_button = QPushButton("Restore")
        self.restore_button.setDefault(False)    # Enter must not confirm a restore
        self.restore_button.setAutoDefault(False)
        self.undo_button = QPushButton("Undo this restore")
        self.undo_button.setAutoDefault(False)
        self.undo_button.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.busy, 1)
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.restore_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(QLabel("Changes from what HubSpot holds now:"))
        layout.addWidget(self.changes, 3)
        layout.addWidget(self.warnings_title)
        layout.addWidget(self.warnings, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.as_disabled)
        layout.addLayout(buttons)

        self.cancel_button.clicked.connect(self.reject)
        self.restore_button.clicked.connect(self.confirm)
        self.undo_button.clicked.connect(self.plan_undo)
        self.as_disabled.toggled.connect(lambda _: self._replan())
        self._plan_now()

    # -- public -----------------------------------------------------------------------

    @property
    def plan(self) -> RestorePlan | None:
        return self._plan

    @property
    def result(self) -> RestoreResult | None:
        return self._result

    def confirm(self) -> None:
        """Apply the shown plan (the user's confirmation)."""
        plan = self._plan
        if self.stage is not Stage.READY or plan is None:
            return
        self._set_stage(Stage.APPLYING, "Restoring… HubSpot is being updated.")
        service = self.service
        self._task = self._run(lambda: service.apply_restore(plan),
                               on_result=self._applied, on_error=self._apply_failed)

    def plan_undo(self) -> None:
        """Plan undoing the shown result; applied only when confirmed."""
        if self._result is None or self.stage is not Stage.DONE:
            return
        self._request = PlanRequest(self._result.plan.workflow_id, undo_of=self._result)
        self.as_disabled.blockSignals(True)
        self.as_disabled.setChecked(False)     # the undo brings back the state it had
        self.as_disabled.blockSignals(False)
        self.setWindowTitle("Undo restore")
        self._plan_now()

    # -- planning --------------------------------------------------------------------

    def _replan(self) -> None:
        if self.stage in (Stage.READY, Stage.REFUSED, Stage.FAILED):
            self._plan_now()

    def _plan_now(self) -> None:
        if self._task is not None:
            self._task.discard()     # an older plan request is superseded
        self._plan = None
        self._set_stage(Stage.PLANNING, "")
        self.headline.setText("Planning the restore… reading the live workflow from HubSpot.")
        self.changes.clear()
        self.warnings.clear()
        request, service, off = self._request, self.service, self.as_disabled.isChecked()
        self._task = self._run(lambda: make_plan(service, request, off),
                               on_result=self._show_plan, on_error=self._plan_failed)

    def _show_plan(self, plan: RestorePlan, note: str = "") -> None:
        self._task = None
        self._plan = plan
        self.headline.setText(plan_headline(plan))
        self.changes.setHtml(plan_html(plan))
        self.warnings.clear()
        for warning in plan.warnings:
            self.warnings.addItem(warning.text)
        self.warnings_title.setText(f"Warnings ({len(plan.warnings)})" if plan.warnings
                                    else "Warnings: none")
        self.as_disabled.blockSignals(True)
        self.as_disabled.setChecked(plan.as_disabled)
        self.as_disabled.blockSignals(False)
        if plan.can_apply:
            self._set_stage(Stage.READY, note)
        else:
            self._set_stage(Stage.REFUSED, f"Cannot restore: {plan.refusal}.")

    def _plan_failed(self, error: BaseException) -> None:
        self._task = None
        message = str(error) or type(error).__name__
        self.headline.setText("The restore could not be planned.")
        self._set_stage(Stage.FAILED, message)

    # -- applying --------------------------------------------------------------------

    def _applied(self, result: RestoreResult) -> None:
        self._task = None
        self._result = result
        self._plan = None
        self.headline.setText(result.summary())
        self.changes.setHtml(plan_html(result.plan))
        note = ("Done. The version HubSpot held before is stored "
                f"(version {result.undo_number}); undoing restores it."
                if result.undo_number is not None else
                f"Done. To undo, delete flow {result.flow_id} in HubSpot: it did not exist "
                "before.")
        self._set_stage(Stage.DONE, note)
        self.applied.emit(result)

    def _apply_failed(self, error: BaseException) -> None:
        self._task = None
        if isinstance(error, RestoreConflict):
            # Never overwrite what someone saved meanwhile: show what a restore
            # would now change and wait for a new confirmation.
            self._show_plan(error.plan, note=str(error))
            return
        message = str(error) or type(error).__name__
        self._set_stage(Stage.FAILED, message)

    # -- state -----------------------------------------------------------------------

    def _set_stage(self, stage: Stage, note: str) -> None:
        self.stage = stage
        working = stage in (Stage.PLANNING, Stage.APPLYING)
        self.busy.setVisible(working)
        self.restore_button.setEnabled(stage is Stage.READY)
        self.restore_button.setText("Undo restore" if self._request.undo_of is not None
                                    else "Restore")
        self.restore_button.setVisible(stage is not Stage.DONE)
        self.as_disabled.setEnabled(stage in (Stage.READY, Stage.REFUSED))
        self.cancel_button.setEnabled(stage is not Stage.APPLYING)
        self.cancel_button.setText("Close" if stage in (Stage.DONE, Stage.FAILED) else "Cancel")
        self.undo_button.setVisible(stage is Stage.DONE)
        self.undo_button.setEnabled(stage is Stage.DONE and self._result is not None
                                    and self._result.undo_version_id is not None)
        self.message.setText(note)
        self.message.setVisible(bool(note))

    def reject(self) -> None:
        if self.stage is Stage.APPLYING:
            return     # the PUT is in flight; its outcome must be shown, not lost
        if self._task is not None:
            self._task.discard()
            self._task = None
        super().reject()

    def closeEvent(self, event: Any) -> None:
        if self.stage is Stage.APPLYING:
            event.ignore()
            return
        super().closeEvent(event)
