"""The history panel: timeline, read-only viewer (tree and raw JSON), stale loads."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Callable

import pytest
from PySide6.QtCore import QModelIndex, Qt

from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.store.versions import add_version
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.json_tree import (ELIDE_AT, JsonTreeModel, build_json_tree, elide,
                                     plain_tooltip)
from wg_desktop.ui.pages.history_panel import (HistoryPanel, ViewerTab, format_json,
                                               origin_label, size_text)

WAIT = 10_000
T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
LONG_TEXT = "Send the welcome email. " * 20          # longer than the view shows


# -- pure helpers ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, limit, expected", [
    ("short", 10, "short"), ("exactly10!", 10, "exactly10!"),
    ("eleven chars", 10, "eleven ch…"), ("", 3, "")])
def test_elide(text, limit, expected):
    assert elide(text, limit) == expected
    assert len(elide(text, limit)) <= limit


def test_plain_tooltip_escapes_markup():
    assert plain_tooltip("<b>x</b> & y") == \
        "<p style='white-space:pre-wrap'>&lt;b&gt;x&lt;/b&gt; &amp; y</p>"


def test_json_tree_keeps_stored_key_order_and_elides_long_strings():
    document = {"zeta": 1, "alpha": {"b": None, "a": True}, "list": ["x", LONG_TEXT],
                "note": "line1\nline2"}
    root = build_json_tree(document)
    assert [n.key for n in root.children] == ["zeta", "alpha", "list", "note"]
    assert [n.key for n in root.children[1].children] == ["b", "a"]
    assert [n.shown for n in root.children[1].children] == ["null", "true"]
    assert root.children[1].shown == "{2 keys}" and root.children[2].shown == "[2 items]"
    long = root.children[2].children[1]
    assert long.key == "[1]" and long.path() == "list[1]"
    assert len(long.shown) == ELIDE_AT and long.shown.endswith("…") and long.elided
    assert long.full_text == LONG_TEXT
    assert root.children[3].shown == '"line1\\nline2"'      # one line in the view
    assert root.children[1].children[0].path() == "alpha.b"


def test_json_tree_of_deep_nesting_does_not_recurse():
    document: Any = "leaf"
    for _ in range(5_000):
        document = {"next": document}
    node = build_json_tree(document)
    depth = 0
    while node.children:
        node = node.children[0]
        depth += 1
    assert depth == 5_000 and node.shown == '"leaf"'


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KB"),
                                     (5 * 1024 * 1024, "5.0 MB")])
def test_size_text(n, text):
    assert size_text(n) == text


# -- a workflow with three versions --------------------------------------------------------

DEFINITIONS = [
    {"name": "Onboarding", "isEnabled": False,
     "actions": [{"actionId": "1", "fields": {"body": LONG_TEXT}}]},
    {"name": "Onboarding v2", "isEnabled": False,
     "actions": [{"actionId": "1", "fields": {"body": LONG_TEXT}}]},
    {"name": "Onboarding v2", "isEnabled": True,
     "actions": [{"actionId": "1", "fields": {"body": LONG_TEXT}},
                 {"actionId": "2", "fields": {"delay": 3600}}]},
]
ORIGINS = ["sync", "restore", "import"]


@pytest.fixture
def workflow(ctx) -> Workflow:
    with ctx.store.writing():
        portal = Portal.create(hub_id=777, name="Acme", auth_kind="private_app",
                               status=PortalStatus.CONNECTED)
        flow = Workflow.create(portal=portal, flow_id="9001", name="Onboarding v2",
                               object_type_id="0-1")
        for n, (definition, origin) in enumerate(zip(DEFINITIONS, ORIGINS)):
            add_version(flow, definition, origin=origin, revision_id=str(n + 1),
                        captured_at=T0 + dt.timedelta(days=n))
    return flow


@pytest.fixture
def queries(ctx) -> WorkflowQueries:
    return WorkflowQueries(ctx.store, ctx.audit)


def make_panel(qtbot, queries, runner) -> HistoryPanel:
    panel = HistoryPanel(queries, runner)
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    return panel


def timeline(panel: HistoryPanel, column: int) -> list[str]:
    proxy = panel.versions_proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def tree_rows(model: JsonTreeModel, parent: QModelIndex = QModelIndex()) -> list[tuple]:
    return [(model.index(r, 0, parent).data(), model.index(r, 1, parent).data())
            for r in range(model.rowCount(parent))]


# -- waiting for what the panel shows (shared with the other history tests) -----------------

def history_shown(panel: HistoryPanel, count: int) -> bool:
    """The timeline lists ``count`` versions and the subtitle says so (it
    reads "Loading history…" until the history arrives)."""
    noun = "version" if count == 1 else "versions"
    return (f" · {count} {noun}" in panel.subtitle.text()
            and panel.versions_model.rowCount() == count)


def version_open(panel: HistoryPanel, version_id: int | None = None) -> bool:
    """A version (``version_id``, if given) is in the viewer with every tab
    filled: the words, then the JSON tree and text, which a second task builds."""
    shown = panel.shown_version_id
    return (shown is not None and (version_id is None or shown == version_id)
            and panel.json_model.rowCount() > 0)


def wait_for_history(qtbot, panel: HistoryPanel, count: int, timeout: int = WAIT) -> None:
    qtbot.waitUntil(lambda: history_shown(panel, count), timeout=timeout)


def wait_for_version(qtbot, panel: HistoryPanel, version_id: int | None = None,
                     timeout: int = WAIT) -> None:
    qtbot.waitUntil(lambda: version_open(panel, version_id), timeout=timeout)


def test_timeline_lists_versions_newest_first_with_origin_and_summary(qtbot, queries,
                                                                      workflow, runner):
    panel = make_panel(qtbot, queries, runner)
    panel.show_workflow(workflow.id)
    wait_for_history(qtbot, panel, 3)
    assert panel.versions_proxy.rowCount() == 3
    assert timeline(panel, 0) == ["v3", "v2", "v1"]
    assert timeline(panel, 2) == ["Import", "Restore", "Sync"]
    assert timeline(panel, 3) == ["Turned on · 1 action added not connected to the start",
                                  "Renamed 'Onboarding' → 'Onboarding v2'",
                                  "first captured (1 action)"]
    local = [(T0 + dt.timedelta(days=n)).astimezone().strftime("%Y-%m-%d %H:%M")
             for n in (2, 1, 0)]
    assert timeline(panel, 1) == local
    assert panel.title.text() == "Onboarding v2"
    assert "Flow 9001" in panel.subtitle.text() and "3 versions" in panel.subtitle.text()

    panel.origin.setCurrentIndex(panel.origin.findData("restore"))
    assert timeline(panel, 0) == ["v2"]
    panel.origin.setCurrentIndex(0)
    assert origin_label("import") == "Import" and origin_label("other") == "other"


def test_opening_a_version_shows_its_json_in_tree_and_raw_view(qtbot, queries, workflow,
                                                               runner):
    panel = make_panel(qtbot, queries, runner)
    history = queries.history(workflow)
    panel.show_workflow(workflow.id)
    wait_for_version(qtbot, panel, history[0].id)          # the newest opens by itself
    assert panel.caption.text().startswith("v3 of 3")
    assert panel.timeline.selectionModel().selectedRows()[0].row() == 0

    panel.timeline.selectRow(2)                              # v1, the oldest
    wait_for_version(qtbot, panel, history[2].id)
    assert panel.caption.text().startswith("v1 of 3")

    model = panel.json_model
    _, stored = queries.version(workflow, 1)          # keys in the order they are stored
    assert stored == DEFINITIONS[0]
    shown = dict(tree_rows(model))
    assert list(shown) == list(stored)
    assert shown == {"name": '"Onboarding"', "isEnabled": "false", "actions": "[1 item]"}
    actions = model.index(list(stored).index("actions"), 0)
    fields = model.index(1, 0, model.index(0, 0, actions))
    assert fields.data() == "fields"
    body = model.index(0, 1, fields)
    assert model.index(0, 0, fields).data() == "body"
    assert body.data().endswith("…") and len(body.data()) == ELIDE_AT
    assert body.data(Qt.ItemDataRole.ToolTipRole) == plain_tooltip(LONG_TEXT)

    assert panel.viewer_tabs.currentWidget() is panel.readable     # words come first
    assert not panel.expand_button.isEnabled()
    panel.viewer_tabs.setCurrentIndex(ViewerTab.TREE)
    assert panel.viewer_tabs.currentWidget() is panel.tree
    panel.expand_button.click()
    assert panel.tree.isExpanded(fields)
    assert panel.grab().save("/tmp/history-panel.png")

    panel.viewer_tabs.setCurrentIndex(ViewerTab.RAW)
    assert panel.viewer_tabs.currentWidget() is panel.raw
    assert panel.raw.isReadOnly()
    assert panel.raw.toPlainText() == format_json(stored)
    assert json.loads(panel.raw.toPlainText()) == DEFINITIONS[0]
    assert not panel.expand_button.isEnabled()
    assert panel.grab().save("/tmp/history-panel-raw.png")

    # With the raw view open, choosing another version shows that one's text.
    panel.timeline.selectRow(0)
    wait_for_version(qtbot, panel, history[0].id)
    assert json.loads(panel.raw.toPlainText()) == DEFINITIONS[2]


class ManualPool:
    """Holds work until the test runs it, in any order (a slow disk, a late answer)."""

    def __init__(self) -> None:
        self.tasks: list[Callable[[], Any]] = []

    def start(self, fn: Callable[[], Any], /, priority: int = 0) -> None:
        self.tasks.append(fn)

    def waitForDone(self, msecs: int = -1, /) -> bool:  # noqa: N802 - Qt's name
        return not self.tasks

    def run_next(self) -> None:
        self.tasks.pop(0)()


def test_a_stale_version_load_is_dropped(qtbot, ctx, queries, workflow):
    pool = ManualPool()
    panel = make_panel(qtbot, queries, functools.partial(
        run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store)))
    history = queries.history(workflow)

    panel.show_workflow(workflow.id)
    pool.run_next()
    wait_for_history(qtbot, panel, 3)
    # The newest version is selected and its load requested (after the debounce)...
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    newest_load = pool.tasks.pop()
    # ...then the admin picks v1 before that answer came back.
    panel.timeline.selectRow(2)
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                         # v1 answers first (words)...
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                         # ...then its tree and text
    wait_for_version(qtbot, panel, history[2].id)
    newest_load()                                           # the late answer for v3
    qtbot.wait(100)                                         # let it be delivered (or not)

    # Shown, it would have replaced v1 and asked for v3's tree and text.
    assert pool.tasks == []
    assert panel.shown_version_id == history[2].id
    assert dict(tree_rows(panel.json_model))["name"] == '"Onboarding"'
    panel.viewer_tabs.setCurrentIndex(ViewerTab.RAW)
    assert json.loads(panel.raw.toPlainText()) == DEFINITIONS[0]
    assert panel.caption.text().startswith("v1 of 3")


def test_a_stale_history_load_is_dropped(qtbot, ctx, queries, workflow):
    pool = ManualPool()
    panel = make_panel(qtbot, queries, functools.partial(
        run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store)))
    with ctx.store.writing():
        other = Workflow.create(portal=workflow.portal, flow_id="9002", name="Other")
        add_version(other, {"name": "Other"}, origin="sync")
    panel.show_workflow(workflow.id)
    panel.show_workflow(other.id)
    first, second = pool.tasks
    pool.tasks.clear()
    second()
    wait_for_history(qtbot, panel, 1)
    first()
    qtbot.wait(100)
    assert panel.title.text() == "Other" and timeline(panel, 0) == ["v1"]


def test_missing_workflow_is_reported_plainly(qtbot, queries, runner):
    panel = make_panel(qtbot, queries, runner)
    panel.show_workflow(123_456)
    qtbot.waitUntil(lambda: panel.status.text() != "", timeout=WAIT)
    assert panel.status.text() == "This workflow is no longer stored."
    assert panel.status.isVisible()
    assert panel.versions_proxy.rowCount() == 0
    assert panel.caption.text() == "No version selected" and not panel.save_button.isEnabled()


def test_a_version_is_saved_as_json_and_the_export_audited(qtbot, ctx, queries, workflow,
                                                          runner, tmp_path):
    panel = make_panel(qtbot, queries, runner)
    assert not panel.save_button.isEnabled()
    history = queries.history(workflow)
    panel.show_workflow(workflow.id)
    wait_for_version(qtbot, panel, history[0].id)
    panel.timeline.selectRow(2)                              # v1, the oldest
    wait_for_version(qtbot, panel, history[2].id)
    assert panel.save_button.isEnabled()
    out = tmp_path / "v1.json"
    panel.save_version(out)
    qtbot.waitUntil(out.exists, timeout=WAIT)
    assert json.loads(out.read_text()) == DEFINITIONS[0]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    exported = [e for e in ctx.audit.entries() if e.action == "export"]
    assert exported and '"version": 1' in exported[0].details


def test_the_words_show_before_the_json_tree_and_text_are_built(qtbot, ctx, queries, workflow):
    """Opening a version shows it in words as soon as it is decoded; the JSON
    tree and raw text (secondary tabs) follow from a second task."""
    pool = ManualPool()
    panel = make_panel(qtbot, queries, functools.partial(
        run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store)))
    panel.show_workflow(workflow.id)
    pool.run_next()
    wait_for_history(qtbot, panel, 3)
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                         # the version, in words
    qtbot.waitUntil(lambda: panel.shown_version_id is not None, timeout=WAIT)
    assert panel.readable.model.rowCount() > 0
    assert panel.json_model.rowCount() == 0                 # not built yet
    panel.viewer_tabs.setCurrentIndex(ViewerTab.RAW)        # looked at before it arrives
    assert panel.raw.toPlainText() == ""
    pool.run_next()                                         # the tree and the text
    qtbot.waitUntil(lambda: panel.json_model.rowCount() > 0, timeout=WAIT)
    assert json.loads(panel.raw.toPlainText()) == DEFINITIONS[-1]


def test_a_failed_json_view_build_leaves_the_words_shown(qtbot, queries, workflow, runner,
                                                          monkeypatch):
    """The second task (tree and raw text) failing says so; the version stays
    open in words and nothing else is reset."""
    def broken(document):
        raise ValueError("too deep")

    monkeypatch.setattr("wg_desktop.ui.pages.history_panel.version_detail", broken)
    panel = make_panel(qtbot, queries, runner)
    newest = queries.history(workflow)[0]
    panel.show_workflow(workflow.id)
    qtbot.waitUntil(lambda: panel.status.text() != "", timeout=WAIT)
    assert panel.status.text() == "Could not build the JSON views of this version: too deep"
    assert panel.shown_version_id == newest.id
    assert panel.readable.model.rowCount() > 0                  # the words stay
    assert panel.caption.text().startswith("v3 of 3")
    assert panel.save_button.isEnabled() and panel.json_model.rowCount() == 0

