"""The Health page with 30 days of samples for 5 portals: tiles, non-empty
charts, the period selector changing the query, acknowledging an alert,
exporting a PDF; and the report renderer (charts as PNG, a PDF with pages)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.test_reports import seed_samples
from wg_desktop.services.reports import ReportFormat, build_report, parse_period
from wg_desktop.store.health_models import AlertRecord
from wg_desktop.store.models import utcnow


@pytest.fixture
def seeded(ctx):
    now = utcnow() - dt.timedelta(minutes=1)
    seed_samples(ctx.store, portals=5, days=30, every_min=5, now=now,
                 status=lambda p, i: "unhealthy" if p == 4 and i < 1000 and i % 50 == 0
                 else "healthy",
                 failed=lambda p, i: p)
    with ctx.store.writing():
        for n in range(2):
            AlertRecord.create(key=f"error_rate:100{n + 1}", rule="error_rate",
                               severity="warning", portal_key=f"100{n + 1}",
                               title=f"Portal 100{n + 1}: errors", first_seen=now,
                               last_seen=now)
    return ctx


@pytest.fixture
def page(qtbot, seeded, runner):
    from wg_desktop.ui.pages.health_page import HealthPage

    widget = HealthPage(seeded.store, seeded.settings, seeded.audit, runner)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.show()
    return widget


def test_five_tiles_and_non_empty_charts(page):
    assert len(page.tiles) == 5
    assert [t.tile.portal.name for t in page.tiles] == [f"Portal {n}" for n in range(1, 6)]
    assert all(t.tile.status == "healthy" for t in page.tiles)
    points = page.chart_points()
    assert set(points) == {"response_time", "error_rate", "requests_per_minute",
                           "rate_remaining", "token_refresh"}
    assert all(n > 0 for n in points.values()), points
    assert page.endpoint_model.rowCount() == 0       # no API call records were seeded
    assert page.alert_model.rowCount() == 2


def test_period_selector_changes_the_query(page, qtbot):
    day = page.board
    assert day.period.length == dt.timedelta(hours=24)
    with qtbot.waitSignal(page.loaded, timeout=10_000) as blocker:
        page.set_period("30d")
    month = blocker.args[0]
    assert month.period.length == dt.timedelta(days=30)
    assert month.series.bucket_s > day.series.bucket_s
    # Portal 5 was down now and then weeks ago: only the 30-day query sees it.
    assert day.tiles[4].uptime == 1.0 and month.tiles[4].uptime < 1.0
    with qtbot.waitSignal(page.loaded, timeout=10_000) as blocker:
        page.set_period("1h")
    assert blocker.args[0].period.length == dt.timedelta(hours=1)


def test_acknowledge_selected(page, qtbot, seeded):
    page.alert_view.selectRow(0)
    [alert] = page.selected_alerts()
    assert page.alert_model.rows[0][-1] == "open"
    page.acknowledge_selected()

    def states() -> dict[int, str]:
        return {a.id: page.alert_model.rows[i][-1] for i, a in enumerate(page.alert_model.items)}

    qtbot.waitUntil(lambda: states().get(alert.id) == "acknowledged", timeout=10_000)
    assert page.status_label.text() == "Acknowledged 1 alert(s)."
    assert list(states().values()).count("open") == 1       # only the selected one
    row = AlertRecord.get_by_id(alert.id)
    assert row.acknowledged_at is not None


def test_export_pdf_from_the_page(page, qtbot, tmp_path):
    from PySide6.QtPdf import QPdfDocument

    out = tmp_path / "health.pdf"
    page.export_report(out, ReportFormat.PDF)
    assert not page.export_button.isEnabled()
    qtbot.waitUntil(lambda: page.export_button.isEnabled(), timeout=30_000)
    assert page.status_label.text() == f"Report written to {out}"
    assert out.read_bytes().startswith(b"%PDF")
    document = QPdfDocument()
    document.load(str(out))
    assert document.pageCount() > 0


def test_export_to_an_unwritable_path_says_why(page, qtbot, tmp_path):
    target = tmp_path / "missing" / "r.html"
    page.export_report(target, ReportFormat.HTML)
    assert not page.export_button.isEnabled()
    qtbot.waitUntil(lambda: page.export_button.isEnabled(), timeout=30_000)
    text = page.status_label.text()
    assert text.startswith("Export failed: ") and "cannot write the report" in text
    assert not target.exists()


def test_renderer_charts_and_pdf(qtbot, seeded, tmp_path):
    from PySide6.QtGui import QImage
    from PySide6.QtPdf import QPdfDocument

    from wg_desktop.ui.report_render import CHART_SIZE, pdf_bytes, render_charts
    from wg_desktop.services.reports import to_html

    report = build_report(seeded.audit, parse_period("7d"))
    charts = render_charts(report)
    assert len(charts) == 5
    image = QImage.fromData(charts["response_time"], "PNG")
    assert (image.width(), image.height()) == CHART_SIZE
    data = pdf_bytes(to_html(report, charts))
    assert data.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(data)
    document = QPdfDocument()
    document.load(str(tmp_path / "r.pdf"))
    assert document.pageCount() >= 2       # targets, charts and tables do not fit on one A4


def test_main_window_lists_the_health_page(window):
    titles = [p.title for p in window.pages]
    assert titles.index("Health") == titles.index("Search") + 1


def test_tiles_show_the_open_connections_of_the_latest_sample(qtbot, seeded, runner):
    from wg_desktop.ui.pages.health_page import HealthPage

    with seeded.store.writing():
        seeded.store.db.execute_sql(
            "UPDATE portal_health_sample SET active_connections = 4 WHERE id = "
            "(SELECT MAX(id) FROM portal_health_sample WHERE portal_key = '1002')")
    widget = HealthPage(seeded.store, seeded.settings, seeded.audit, runner)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.show()
    texts = {t.tile.portal.key: t.label.text() for t in widget.tiles}
    assert "Open connections 4" in texts["1002"]
    assert "Open connections —" in texts["1001"]              # never measured


def test_a_refresh_moves_the_curves_instead_of_rebuilding_them(page, qtbot):
    before = {name: list(plot.plotItem.listDataItems()) for name, plot in page.plots.items()}
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page.reload()
    after = {name: list(plot.plotItem.listDataItems()) for name, plot in page.plots.items()}
    assert all(len(items) == 5 for items in after.values())
    assert all(a is b for name in before for a, b in zip(before[name], after[name]))
    assert all(n > 0 for n in page.chart_points().values())
    page.portal_keys = ["1001", "1002"]               # other portals: curves rebuilt
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page.reload()
    assert all(len(plot.plotItem.listDataItems()) == 2 for plot in page.plots.values())


def test_the_chart_range_covers_whole_buckets(page):
    from wg_desktop.ui.pages.health_page import chart_range

    board = page.board
    since, until = chart_range(board)
    bucket = board.series.bucket_s
    assert since % bucket == 0 and until % bucket == 0
    assert since <= board.period.since.timestamp() < since + bucket
    assert until - bucket < board.period.until.timestamp() <= until


def test_a_refresh_redraws_only_the_charts_whose_lines_changed(page, qtbot, monkeypatch):
    import dataclasses

    from wg_desktop.services.reports import Line, Metric
    from wg_desktop.ui.pages import health_page

    drawn: list[str] = []
    real = health_page.update_lines
    monkeypatch.setattr(health_page, "update_lines", lambda plot, lines, *rest: (
        drawn.append(next(n for n, p in page.plots.items() if p is plot)),
        real(plot, lines, *rest))[1])
    board = page.board
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page._show(board)                               # the same lines again
    assert drawn == []
    lines = dict(board.series.lines)
    first = lines[Metric.ERROR_RATE][0]
    lines[Metric.ERROR_RATE] = (Line(first.portal_key, first.xs, (99.0,) * len(first.ys)),
                                *lines[Metric.ERROR_RATE][1:])
    changed = dataclasses.replace(board, series=dataclasses.replace(board.series, lines=lines))
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page._show(changed)
    assert drawn == ["error_rate"]
    assert list(page.plots["error_rate"].plotItem.listDataItems()[0].yData) == \
        [99.0] * len(first.ys)


def test_live_charts_have_fixed_round_ranges_cached_axes_and_light_curves(page):
    from PySide6.QtWidgets import QGraphicsItem

    from wg_desktop.ui.pages.health_page import chart_range

    x_range = chart_range(page.board)
    for name, plot in page.plots.items():
        view = plot.plotItem.getViewBox()
        assert view.autoRangeEnabled() == [False, False], name      # no fitting while painting
        (x0, x1), (y0, y1) = view.viewRange()
        assert (x0, x1) == x_range and y0 == 0
        highest = max(max(c.yData) for c in plot.plotItem.listDataItems())
        assert highest < y1 <= max(1.0, 2 * highest), name
        for axis in ("left", "bottom"):
            assert plot.plotItem.getAxis(axis).cacheMode() == \
                QGraphicsItem.CacheMode.DeviceCoordinateCache
        for curve in plot.plotItem.listDataItems():
            assert curve.opts["clipToView"] and curve.opts["skipFiniteCheck"]
            assert curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"


@pytest.mark.parametrize("value, top", [(0, 1.0), (-3, 1.0), (0.3, 0.3), (0.31, 0.4),
                                        (514.5, 600.0), (945, 1000.0), (1000, 1000.0),
                                        (1001, 1200.0), (21, 25.0), (7.2e6, 8e6)])
def test_nice_ceiling(value, top):
    from wg_desktop.ui.charts import nice_ceiling

    assert nice_ceiling(value) == pytest.approx(top)


def test_a_line_of_a_few_points_shows_each_point(qapp):
    """A fresh install's first checks give one or two points per chart: a plain
    line of one point draws nothing, so each gets a dot; a longer line does not."""
    from types import SimpleNamespace

    from wg_desktop.ui.charts import make_plot, set_lines

    from wg_desktop.services.reports import Metric

    plot = make_plot(next(iter(Metric)))
    one = SimpleNamespace(portal_key="1", xs=(100.0,), ys=(5.0,))
    many = SimpleNamespace(portal_key="2", xs=tuple(float(x) for x in range(10)),
                           ys=tuple(float(x) for x in range(10)))
    set_lines(plot, [one, many], {"1": "A", "2": "B"})
    sparse, dense = plot.plotItem.listDataItems()
    assert sparse.opts["symbol"] == "o"
    assert dense.opts["symbol"] is None
