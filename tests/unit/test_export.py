"""Exporting workflows: the file written is the one reported, and a failure
names the path the user gave, never a temporary file."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wg_desktop.services.workflows import ExportFailed, WorkflowQueries
from wg_desktop.store.models import Portal, Workflow
from wg_desktop.store.versions import add_version

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queries(ctx):
    portal = Portal.create(hub_id=5, name="Main")
    with ctx.store.writing():
        add_version(Workflow.create(portal=portal, flow_id="1", name="One"),
                    {"id": "1", "name": "One"}, origin="sync")
    return WorkflowQueries(ctx.store, ctx.audit)


def test_export_into_a_folder_writes_a_dated_zip_there(queries, tmp_path):
    target = queries.export_destination(tmp_path, dt.datetime(2026, 12, 1, 9, 30, 5))
    assert target == tmp_path / "workflowguard-export-2026-12-01-093005.zip"
    assert queries.export_zip(tmp_path) == 1
    written = list(tmp_path.glob("workflowguard-export-*.zip"))
    assert len(written) == 1
    assert "manifest.json" in zipfile.ZipFile(written[0]).namelist()
    assert queries.export_destination(tmp_path / "x.zip") == tmp_path / "x.zip"


@pytest.mark.parametrize("where", ["missing/dir/out.zip", "a-file/out.zip"])
def test_a_failed_export_names_the_users_path(queries, tmp_path, where):
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / where
    with pytest.raises(ExportFailed) as failure:
        queries.export_zip(out)
    message = str(failure.value)
    assert message.startswith(f"Cannot write {out}: ") and ".tmp-" not in message
    assert "\n" not in message and not list(tmp_path.rglob(".*tmp-*"))


def test_cli_export_to_a_folder_reports_the_file_it_wrote(data_dir, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    env.update(WG_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT),
               WG_SECURITY_SECRET_BACKEND="file", WG_SECRETS_PASSPHRASE="pass phrase")
    out = tmp_path / "exports"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "wg_desktop", "export", "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    written = list(out.glob("workflowguard-export-*.zip"))
    assert len(written) == 1
    assert done.stdout.strip() == f"wrote 0 workflows to {written[0]}"
