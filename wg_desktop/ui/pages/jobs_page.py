"""Background jobs page: what runs when, what ran, and buttons to run or
cancel a job now."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from wg_desktop.services.schedule import DailyAt, Interval, JobRun, JobSpec
from wg_desktop.ui.table_model import TextTableModel

JOB_COLUMNS = ("Job", "Schedule", "Next run", "State")
RUN_COLUMNS = ("Started", "Job", "Outcome", "Duration", "Message")


def describe_schedule(spec: JobSpec) -> str:
    schedule = spec.schedule
    if isinstance(schedule, DailyAt):
        return f"daily at {schedule.hour:02d}:{schedule.minute:02d}"
    if isinstance(schedule, Interval):
        seconds = schedule.seconds
        if seconds % 3600 == 0:
            hours = seconds // 3600
            return "hourly" if hours == 1 else f"every {hours} h"
        if seconds % 60 == 0:
            return f"every {seconds // 60} min"
        return f"every {seconds} s"
    return str(schedule)


def _table(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class JobsPage(QWidget):
    def __init__(self, scheduler: Any, job_runs: Any,
                 run_off_gui_thread: Callable[..., Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler
        self.job_runs = job_runs
        self._run = run_off_gui_thread
        self.jobs_model = TextTableModel(self, JOB_COLUMNS)
        self.runs_model = TextTableModel(self, RUN_COLUMNS)
        self.jobs_view = _table(self.jobs_model)
        self.runs_view = _table(self.runs_model)
        self.run_button = QPushButton("Run now")
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Scheduled jobs"))
        layout.addWidget(self.jobs_view, 1)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Recent runs"))
        layout.addWidget(self.runs_view, 2)
        self.run_button.clicked.connect(lambda: self._selected(self.scheduler.run_now))
        self.cancel_button.clicked.connect(lambda: self._selected(self.scheduler.cancel))
        self.jobs_view.selectionModel().selectionChanged.connect(self._update_buttons)
        # Skipped too: the scheduler records a skipped slot as a run and moves
        # the job's next run on, both of which this page shows.
        for signal in (scheduler.started, scheduler.finished, scheduler.failed,
                       scheduler.cancelled, scheduler.skipped):
            signal.connect(self.refresh)
        self._update_buttons()

    def selected_job(self) -> str | None:
        rows = self.jobs_view.selectionModel().selectedRows()
        specs = self.scheduler.specs()
        return specs[rows[0].row()].name if rows and rows[0].row() < len(specs) else None

    def _selected(self, action: Callable[[str], Any]) -> None:
        name = self.selected_job()
        if name is not None:
            action(name)

    def _update_buttons(self, *_: Any) -> None:
        # A button that would do nothing is greyed out rather than silently ignored.
        name = self.selected_job()
        running = name is not None and self.scheduler.is_running(name)
        self.run_button.setEnabled(name is not None and not running)
        self.cancel_button.setEnabled(running)
        hint = "" if name is not None else "Select a job first"
        self.run_button.setToolTip(hint or ("Already running" if running else ""))
        self.cancel_button.setToolTip(hint or ("" if running else "The job is not running"))

    def refresh(self, *_: Any) -> None:
        # The model reset drops the selection: keep the user's job selected.
        selected = self.selected_job()
        rows = []
        for spec in self.scheduler.specs():
            due = self.scheduler.next_due(spec.name)
            rows.append((spec.description or spec.name, describe_schedule(spec),
                         due.astimezone().strftime("%Y-%m-%d %H:%M") if due else "—",
                         "running" if self.scheduler.is_running(spec.name) else "idle"))
        self.jobs_model.set_rows(rows)
        names = [spec.name for spec in self.scheduler.specs()]
        if selected in names:
            self.jobs_view.selectRow(names.index(selected))
        self._update_buttons()
        self._run(lambda: self.job_runs.recent(200), on_result=self._show_runs,
                  on_error=lambda error: None)

    def _show_runs(self, runs: list[JobRun]) -> None:
        self.runs_model.set_rows([
            (r.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), r.job_name,
             str(r.outcome), f"{(r.ended_at - r.started_at).total_seconds():.1f} s"
             if r.ended_at else "", r.message) for r in runs])
