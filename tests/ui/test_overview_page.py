"""The Overview page in the window: tiles for two connected demo portals, an open
alert counted on its portal's tile, the scheduler's next runs listed, and a
reload whenever the page is shown."""

from __future__ import annotations

from wg_desktop.services.alerts import AlertService, Condition, Rule, Severity
from wg_desktop.ui.pages.overview_page import tile_lines


def connect_two(hubspot, demo) -> list[int]:
    # Portal 2 of the demo has no workflows (refused); 1 and 3 have them.
    hub_ids = [demo.portal_ids[0], demo.portal_ids[2]]
    for hub_id in hub_ids:
        hubspot.connection.connect_private_app(demo.private_app_token(hub_id))
    return hub_ids


def test_overview_shows_a_tile_per_portal_alerts_and_next_runs(qtbot, ctx, hubspot, demo):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    first, second = connect_two(hubspot, demo)
    AlertService(ctx.store, ctx.settings, ctx.audit).raise_event(
        Condition(Rule.WORKFLOW_DELETED, Severity.WARNING, str(second),
                  "A workflow was deleted", "Flow 9 was deleted", subject="9"))

    win = create_main_window(ctx, SynchronousPool(), hubspot)
    qtbot.addWidget(win)
    page = win.overview_page
    with qtbot.waitSignal(page.loaded, timeout=10_000) as shown:
        win.show()
        qtbot.waitExposed(win)
    try:
        assert win.stack.currentWidget() is page          # the window opens on it
        overview = shown.args[0]
        tiles = {t.hub_id: t for t in overview.tiles}
        assert set(tiles) == {first, second}
        assert tiles[second].open_alerts == 1 and tiles[first].open_alerts == 0
        assert tiles[first].state == "connected"
        assert len(page.tiles) == 2 and not page.empty_label.isVisible()
        names = {t.property("hub_id"): t.accessibleName() for t in page.tiles}
        assert "1 open alert(s)" in names[second] and "0 open alert(s)" in names[first]
        assert "1 open alert(s) in all" == page.status_label.text()

        runs = [page.runs_list.item(i).text() for i in range(page.runs_list.count())]
        specs = win.scheduler.specs()
        assert len(specs) >= 3 and len(runs) == len(specs)     # retention, tokens, health…
        for spec in specs:
            due = win.scheduler.next_due(spec.name).astimezone().strftime("%Y-%m-%d %H:%M")
            assert f"{due} · {spec.description}" in runs
        dues = [run.due for run in overview.next_runs]
        assert dues == sorted(dues)                             # soonest first
        if any(spec.name == "backup" for spec in specs):
            assert "next automatic backup:" in page.backup_label.text()
        else:
            assert "automatic backups are off" in page.backup_label.text()
        assert tile_lines(tiles[first])[0] == "Connected"

        # Shown again after another page: loaded afresh (a new alert is counted).
        win.show_page("Background jobs")
        AlertService(ctx.store, ctx.settings, ctx.audit).raise_event(
            Condition(Rule.WORKFLOW_DELETED, Severity.WARNING, str(first),
                      "A workflow was deleted", "Flow 8 was deleted", subject="8"))
        with qtbot.waitSignal(page.loaded, timeout=10_000) as again:
            win.nav.setCurrentRow(0)
        assert {t.hub_id: t.open_alerts for t in again.args[0].tiles} == {first: 1, second: 1}
    finally:
        win.quitting = True
        win.close()


def test_a_first_capture_reads_as_how_many_workflows_were_stored(qtbot, ctx, hubspot, demo):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    first, _ = connect_two(hubspot, demo)
    stored = hubspot.sync.sync(first).stored
    win = create_main_window(ctx, SynchronousPool(), hubspot)
    qtbot.addWidget(win)
    page = win.overview_page
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        win.show()
        qtbot.waitExposed(win)
    try:
        lines = [page.changes_list.item(i).text() for i in range(page.changes_list.count())]
        assert any(line.endswith(f"First capture: {stored} workflows stored") for line in lines)
        assert not any(" ·  — " in line for line in lines)      # never an empty name
    finally:
        win.quitting = True
        win.close()
