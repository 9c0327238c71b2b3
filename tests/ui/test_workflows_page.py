"""The Workflows page over a real store (1,000 workflows) and a demo portal."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil

import pytest
from PySide6.QtCore import QPoint, Qt, QThreadPool
from PySide6.QtGui import QFontMetrics, QImage
from PySide6.QtWidgets import QLabel, QStyledItemDelegate

from tests.ui.test_history_panel import version_open
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.sync import SyncProgress, SyncResult
from wg_desktop.services.workflows import WorkflowQueries, WorkflowRow
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion
from wg_desktop.store.versions import add_version
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.pages.workflows_page import (Column, WorkflowFilter, WorkflowState,
                                                WorkflowsPage, object_type_label,
                                                progress_text, sort_key, workflow_state)

WAIT = 20_000
HUB = 4242
ROWS = 1_000
TYPES = ("0-1", "0-2", "0-3", "0-5", "2-9876")
HTML_NAME = "<b>Bold</b> & <i>sneaky</i> <img src=x>"
BASE_TIME = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)


# -- pure helpers ---------------------------------------------------------------------------

def row(**changes) -> WorkflowRow:
    values = dict(id=1, hub_id=HUB, portal_name="P", flow_id="100", name="Lead nurture",
                  object_type_id="0-1", is_enabled=True, versions=1, last_changed=None,
                  last_synced=None, deleted=False, source="sync")
    values.update(changes)
    return WorkflowRow(**values)


@pytest.mark.parametrize("type_id, label", [("0-1", "Contact"), ("0-2", "Company"),
                                            ("0-3", "Deal"), ("0-5", "Ticket"),
                                            ("2-9876", "2-9876"), ("", "—")])
def test_object_type_labels(type_id, label):
    assert object_type_label(type_id) == label


@pytest.mark.parametrize("flt, expected", [
    (WorkflowFilter(), True),
    (WorkflowFilter(text="NURTURE"), True),          # case-insensitive name match
    (WorkflowFilter(text="100"), True),              # flow id match
    (WorkflowFilter(text="onboarding"), False),
    (WorkflowFilter(object_type_id="0-1"), True),
    (WorkflowFilter(object_type_id="0-3"), False),
    (WorkflowFilter(state=WorkflowState.ON), True),
    (WorkflowFilter(state=WorkflowState.OFF), False),
    (WorkflowFilter(text="lead", object_type_id="0-1", state=WorkflowState.DELETED), False),
])
def test_filter_accepts(flt, expected):
    assert flt.accepts(row()) is expected


def test_state_and_sort_keys_use_underlying_values():
    assert workflow_state(row(deleted=True, is_enabled=True)) is WorkflowState.DELETED
    assert workflow_state(row(is_enabled=False)) is WorkflowState.OFF
    few, many = row(versions=9), row(versions=12)
    assert sort_key(few, Column.VERSIONS) < sort_key(many, Column.VERSIONS)
    early = row(last_changed=BASE_TIME)
    late = row(last_changed=BASE_TIME + dt.timedelta(hours=1))
    never = row(last_changed=None)
    assert sort_key(never, Column.LAST_CHANGED) < sort_key(early, Column.LAST_CHANGED) \
        < sort_key(late, Column.LAST_CHANGED)


def test_progress_text():
    assert progress_text(SyncProgress("listing", 300, 0, 0, 0)) == \
        "Listing workflows… 300 so far"
    assert progress_text(SyncProgress("storing", 1000, 250, 200, 180)) == \
        "1,000 listed · 250 to fetch · 200 fetched · 180 new versions stored"


# -- a store of 1,000 workflows ----------------------------------------------------------

def versions_of(i: int) -> int:
    """Most workflows have one version; every 40th has 2..13 (so 9 vs 12 vs 13 matters)."""
    return 2 + (i // 40) % 12 if i % 40 == 0 else 1


def expected_state(i: int) -> WorkflowState:
    if i % 17 == 0:
        return WorkflowState.DELETED
    return WorkflowState.ON if i % 3 else WorkflowState.OFF


def name_of(i: int) -> str:
    return HTML_NAME if i == 7 else f"Workflow {i:04d} {('alpha', 'Beta', 'gamma')[i % 3]}"


@pytest.fixture
def stored(ctx):
    """1,000 workflows with versions, written straight into the store."""
    with ctx.store.writing():
        portal = Portal.create(hub_id=HUB, name="Acme portal", auth_kind="private_app",
                               status=PortalStatus.CONNECTED)
        for i in range(ROWS):
            state = expected_state(i)
            workflow = Workflow.create(
                portal=portal, flow_id=str(500_000 + i), name=name_of(i),
                object_type_id=TYPES[i % len(TYPES)], is_enabled=state is WorkflowState.ON,
                revision_id="1", last_synced_at=BASE_TIME,
                deleted_at=BASE_TIME if state is WorkflowState.DELETED else None)
            for n in range(versions_of(i)):
                add_version(workflow, {"name": workflow.name, "step": n, "actions": []},
                            origin="sync", revision_id=str(n + 1),
                            captured_at=BASE_TIME + dt.timedelta(minutes=i, seconds=n))
    return WorkflowQueries(ctx.store, ctx.audit)


@pytest.fixture
def page(qtbot, stored, runner):
    widget = WorkflowsPage(stored, None, runner)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=WAIT) as loaded:
        widget.set_portal(HUB)
    assert loaded.args == [ROWS]
    return widget


def shown(page, column: Column = Column.NAME, role=Qt.ItemDataRole.DisplayRole) -> list:
    proxy = page.proxy
    return [proxy.index(r, column).data(role) for r in range(proxy.rowCount())]


def rendered_like(label: QLabel, text_format: Qt.TextFormat) -> QImage:
    twin = QLabel()
    twin.setFont(label.font())
    twin.setWordWrap(label.wordWrap())
    twin.setTextFormat(text_format)
    twin.setText(label.text())
    twin.resize(label.size())
    return twin.grab().toImage()


def ink_width(image: QImage) -> int:
    """How far from the left edge anything is drawn (the corner pixel is background)."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    background = image.pixel(image.width() - 1, 0)
    for x in range(image.width() - 1, -1, -1):
        if any(image.pixel(x, y) != background for y in range(image.height())):
            return x + 1
    return 0


def set_combo(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))


def test_search_is_debounced_and_matches_name_or_flow_id(qtbot, page):
    assert page.proxy.rowCount() == ROWS
    qtbot.keyClicks(page.search, "beta")
    assert page.proxy.rowCount() == ROWS            # not yet: the search waits for a pause
    qtbot.waitUntil(lambda: page.proxy.rowCount() < ROWS, timeout=WAIT)
    beta = [i for i in range(ROWS) if "beta" in name_of(i).casefold()]
    assert page.proxy.rowCount() == len(beta)
    assert all("Beta" in name for name in shown(page))

    page.search.setText("500123")                    # a flow id
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=WAIT)
    assert shown(page) == [name_of(123)]
    assert "1 shown" in page.count_label.text()


def test_filters_by_object_type_and_state(qtbot, page):
    set_combo(page.object_type, "0-3")
    deals = [i for i in range(ROWS) if TYPES[i % len(TYPES)] == "0-3"]
    assert page.proxy.rowCount() == len(deals)
    assert set(shown(page, Column.OBJECT_TYPE)) == {"Deal"}

    set_combo(page.object_type, "2-9876")           # a custom object keeps its raw id
    assert set(shown(page, Column.OBJECT_TYPE)) == {"2-9876"}

    set_combo(page.object_type, None)
    for state, label in ((WorkflowState.DELETED, "Deleted"), (WorkflowState.OFF, "Off"),
                         (WorkflowState.ON, "On")):
        set_combo(page.state, state)
        wanted = [i for i in range(ROWS) if expected_state(i) is state]
        assert page.proxy.rowCount() == len(wanted), state
        assert set(shown(page, Column.STATE)) == {label}

    set_combo(page.object_type, "0-1")              # both filters at once
    both = [i for i in range(ROWS) if expected_state(i) is WorkflowState.ON
            and TYPES[i % len(TYPES)] == "0-1"]
    assert page.proxy.rowCount() == len(both)


def click_header(qtbot, page, column: Column) -> None:
    header = page.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(x, header.height() // 2))


def test_sorts_by_name_and_by_version_count_numerically(qtbot, page):
    names = shown(page)
    assert names == sorted(names, key=str.casefold)           # initial order: name A→Z
    click_header(qtbot, page, Column.NAME)                     # same column again: Z→A
    assert shown(page) == sorted(names, key=str.casefold, reverse=True)

    click_header(qtbot, page, Column.VERSIONS)
    header = page.table.horizontalHeader()
    if header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder:
        click_header(qtbot, page, Column.VERSIONS)
    counts = [int(text) for text in shown(page, Column.VERSIONS)]
    assert counts == sorted(counts, reverse=True)               # lexical would put 9 first
    assert counts[0] == max(versions_of(i) for i in range(ROWS)) == 13

    # The selection follows its row through a sort.
    page.table.selectRow(0)
    top_id = page.selected_workflow_id()
    click_header(qtbot, page, Column.VERSIONS)                 # ascending now
    assert page.selected_workflow_id() == top_id
    assert shown(page, Column.VERSIONS)[0] == "1"

    click_header(qtbot, page, Column.LAST_CHANGED)             # by instant, not by text
    ids = shown(page, role=Qt.ItemDataRole.UserRole)
    rows = {r.id: r for r in page.model.rows}
    times = [rows[i].last_changed for i in ids]
    assert times == sorted(times) or times == sorted(times, reverse=True)


@pytest.fixture
def offline_capable_page(qtbot, ctx, stored, runner):
    """A page with a real sync service (never reached: it only has to exist)."""
    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets)
    widget = WorkflowsPage(stored, hub.sync, runner)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=WAIT):
        widget.set_portal(HUB)
    yield widget
    hub.clients.close()


def test_offline_banner_disables_sync_but_keeps_browsing(qtbot, offline_capable_page):
    page = offline_capable_page
    assert page.sync_button.isEnabled()
    assert page.banner.isHidden()

    page.set_offline("circuit breaker open <retry in 30 s>")
    assert page.banner.isVisible()
    assert page.banner.text() == \
        "Offline — showing stored data (circuit breaker open <retry in 30 s>)"
    assert page.banner.textFormat() == Qt.TextFormat.PlainText
    assert not page.sync_button.isEnabled()
    assert "&lt;retry in 30 s&gt;" in page.sync_button.toolTip()
    page.sync_button.click()                          # disabled: nothing starts
    assert not page.syncing

    page.search.setText("gamma")                     # still browsable
    page.apply_filter()
    assert 0 < page.proxy.rowCount() < ROWS
    page.table.selectRow(0)
    first = page.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole)
    qtbot.waitUntil(lambda: page.history.workflow_id == first and version_open(page.history),
                    timeout=WAIT)
    assert page.history.title.text() == shown(page)[0]
    page.grab().save("/tmp/workflows-page-offline.png")

    page.set_offline(None)
    assert page.banner.isHidden() and page.sync_button.isEnabled()
    page.set_portal(None)                            # all portals: pick one to sync
    assert not page.sync_button.isEnabled()
    assert not page.table.isColumnHidden(Column.PORTAL)
    assert set(shown(page, Column.PORTAL)) == {"Acme portal"}


def test_html_name_renders_as_text(qtbot, page, tmp_path):
    # "<" sorts before letters, so the HTML-named workflow is the first row A→Z.
    assert page.proxy.rowCount() == ROWS
    cell = page.proxy.index(0, Column.NAME)
    assert cell.data() == HTML_NAME                   # the cell shows the markup literally
    # No delegate that could render rich text, on the table or on any column.
    assert type(page.table.itemDelegate()) is QStyledItemDelegate
    assert all(page.table.itemDelegateForColumn(c) is None for c in Column)
    # The tooltip is escaped markup, so it too shows the characters.
    assert "&lt;b&gt;Bold&lt;/b&gt;" in cell.data(Qt.ItemDataRole.ToolTipRole)

    page.table.selectRow(0)
    first = page.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole)
    qtbot.waitUntil(lambda: page.history.workflow_id == first and version_open(page.history),
                    timeout=WAIT)
    title = page.history.title
    assert title.text() == HTML_NAME
    assert title.textFormat() == Qt.TextFormat.PlainText
    # Pixel check: drawn as text, the ink is as wide as the literal characters;
    # drawn as HTML (the twin) it would end after "Bold & sneaky".
    literal = QFontMetrics(title.font()).horizontalAdvance(HTML_NAME)
    assert ink_width(title.grab().toImage()) >= 0.9 * literal
    assert ink_width(rendered_like(title, Qt.TextFormat.RichText)) < 0.6 * literal

    image = page.grab()
    assert not image.isNull()
    assert image.save(str(tmp_path / "workflows-page.png"))
    shutil.copy(tmp_path / "workflows-page.png", "/tmp/workflows-page.png")


# -- syncing against the demo portal -----------------------------------------------------

def connect_demo(ctx, demo):
    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    portal = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    return hub, portal.hub_id


def test_sync_now_shows_progress_and_summary(qtbot, ctx, runner):
    with DemoPortal(DemoConfig(seed=31, workflows=250, burst_limit=10_000)) as demo:
        hub, hub_id = connect_demo(ctx, demo)
        try:
            page = WorkflowsPage(WorkflowQueries(ctx.store, ctx.audit), hub.sync, runner)
            qtbot.addWidget(page)
            page.show()
            with qtbot.waitSignal(page.loaded, timeout=WAIT):
                page.set_portal(hub_id)
            assert page.model.rowCount() == 0 and page.sync_button.isEnabled()
            with qtbot.waitSignal(page.sync_finished, timeout=WAIT) as finished:
                qtbot.mouseClick(page.sync_button, Qt.MouseButton.LeftButton)
                assert not page.sync_button.isEnabled()        # no second sync meanwhile
                assert page.progress.isVisible() and page.cancel_button.isVisible()
            result: SyncResult = finished.args[0]
            assert result.listed == 250 and result.stored == 250
            # The last progress shown before the bar went away: all of it done.
            assert page.progress_label.text() == progress_text(
                SyncProgress("done", 250, 250, 250, 250))
            assert page.progress.maximum() == page.progress.value() == 250
            assert page.progress.isHidden() and page.progress_label.isHidden()
            assert page.status.text() == f"Sync finished: {result.summary()}."
            qtbot.waitUntil(lambda: page.model.rowCount() == 250, timeout=WAIT)
            assert page.sync_button.isEnabled() and page.cancel_button.isHidden()
            assert set(shown(page, Column.VERSIONS)) == {"1"}

            # A portal that needs reconnecting pauses the sync; the page says so plainly.
            with ctx.store.writing():
                Portal.update(status=PortalStatus.RECONNECT_NEEDED).execute()
            with qtbot.waitSignal(page.sync_failed, timeout=WAIT) as failed:
                page.sync_button.click()
            assert failed.args[0].startswith("Sync paused: ")
            assert "reconnect" in failed.args[0]
            assert page.status.text() == failed.args[0]
            assert page.sync_button.isEnabled() and not page.syncing
        finally:
            hub.clients.close()


def shown_stored(page) -> int:
    """The new versions stored so far, as the progress line says (0 before it does)."""
    said = re.search(r"([\d,]+) new versions stored$", page.progress_label.text())
    return int(said.group(1).replace(",", "")) if said else 0


@pytest.fixture
def threaded_runner(ctx):
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    yield functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    pool.waitForDone(WAIT)


def test_cancel_mid_sync_keeps_whole_batches(qtbot, ctx, threaded_runner):
    faults = Faults(latency_ms=120, latency_jitter_ms=10)
    with DemoPortal(DemoConfig(seed=32, workflows=600, burst_limit=10_000,
                               faults=faults)) as demo:
        hub, hub_id = connect_demo(ctx, demo)
        try:
            page = WorkflowsPage(WorkflowQueries(ctx.store, ctx.audit), hub.sync,
                                 threaded_runner)
            qtbot.addWidget(page)
            page.resize(1000, 640)
            page.show()
            with qtbot.waitSignal(page.loaded, timeout=WAIT):
                page.set_portal(hub_id)
            page.sync_button.click()
            assert page.syncing and page.cancel_button.isVisible()
            qtbot.waitUntil(lambda: shown_stored(page) >= 100, timeout=WAIT)
            assert page.progress.isVisible()
            assert page.progress_label.text().startswith("600 listed · 600 to fetch")
            page.grab().save("/tmp/workflows-page-syncing.png")
            with qtbot.waitSignal(page.loaded, timeout=WAIT):
                page.cancel_button.click()
            assert not page.syncing
            assert page.status.text().startswith("Sync cancelled.")
            kept = WorkflowVersion.select().count()
            assert 100 <= kept < 600 and kept % 100 == 0        # whole batches only
            assert page.model.rowCount() == kept
            assert page.sync_button.isEnabled()
        finally:
            hub.clients.close()
