"""``wg-desktop report`` as a subprocess: HTML with charts, JSON, a PDF that a
PDF reader opens, an unknown portal, and a path that cannot be written."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.cli import base_env, run
from tests.support.context import make_context
from tests.support.health_samples import seed_samples
from wg_desktop.store.models import utcnow


@pytest.fixture
def env(data_dir):
    env = base_env(data_dir)
    ctx = make_context(data_dir, env)
    try:
        # Two portals, the last two days; the second fails 1 call in 10.
        seed_samples(ctx.store, portals=2, days=2, now=utcnow() - dt.timedelta(minutes=1),
                     failed=lambda p, i: 2 if p == 1 else 0)
    finally:
        ctx.close()
    return env


def test_html_report_has_charts_and_targets(env, tmp_path):
    out = tmp_path / "report.html"
    done = run(["report", "--period", "24h", "--format", "html", "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert "targets missed: Error rate" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert "<h2>Reliability targets</h2>" in page
    assert page.count('src="data:image/png;base64,iVBOR') >= 4   # PNG signature, base64


def test_json_report_for_one_portal(env, tmp_path):
    out = tmp_path / "report.json"
    done = run(["report", "--period", "7d", "--portal", "Portal 1", "--format", "json",
                "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert [p["key"] for p in data["portals"]] == ["1001"]
    assert data["totals"]["samples"] == 2 * 24 * 12
    assert {t["key"]: t["status"] for t in data["targets"]}["error_rate"] == "met"


def test_pdf_report_opens_in_a_pdf_reader(env, tmp_path):
    from PySide6.QtPdf import QPdfDocument

    out = tmp_path / "report.pdf"
    done = run(["report", "--period", "30d", "--format", "pdf", "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    document = QPdfDocument()
    assert document.load(str(out)) == QPdfDocument.Error.None_
    assert document.pageCount() > 0


def test_unknown_portal_and_bad_period_are_usage_errors(env, tmp_path):
    out = tmp_path / "r.json"
    unknown = run(["report", "--portal", "nope", "--format", "json", "--out", str(out)], env)
    assert unknown.returncode == 2 and "no portal 'nope'" in unknown.stderr
    bad = run(["report", "--period", "fortnight", "--format", "json", "--out", str(out)], env)
    assert bad.returncode == 2 and "is not a period" in bad.stderr
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["json", "pdf"])
def test_unwritable_path_is_one_clear_line(env, tmp_path, fmt):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for target in (tmp_path / "missing" / f"r.{fmt}", blocker / f"r.{fmt}", tmp_path):
        done = run(["report", "--format", fmt, "--out", str(target)], env)
        assert done.returncode == 1, (target, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "wg-desktop: error: cannot write the report to"), done.stderr
