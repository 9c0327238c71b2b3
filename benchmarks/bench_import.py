"""Import memory (issue: Trust — unbounded import).

Peak RSS of ``WorkflowQueries.import_file`` (the code ``wg-desktop import``
runs), each in a fresh child process (``benchmarks.import_probe``):

1. a zip bomb: a ~300 KB zip whose manifest.json unpacks to 300 MB, which
   must be refused with one line at <= 150 MB peak RSS;
2. a legitimate export of 1,000 workflows, written by the real export path
   from a store holding the demo portal's 1,000 flows.

The bomb's child runs under an address-space cap so that an unbounded reader
reports "memory cap hit" instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from benchmarks.common import Result

ROOT = Path(__file__).resolve().parents[1]
FLOWS = 1000
BOMB_MB = 300
BOMB_TARGET_MB = 150
SAFETY_CAP_MB = 3072


def build_export(folder: Path) -> Path:
    """A real export zip of 1,000 workflows (the demo portal's flows)."""
    from wg_desktop.config import Settings
    from wg_desktop.demo.data import FlowStore
    from wg_desktop.services.audit import AuditLog
    from wg_desktop.services.workflows import WorkflowQueries
    from wg_desktop.store.db import open_store
    from wg_desktop.store.models import Portal, Workflow
    from wg_desktop.store.normalize import normalize_flow
    from wg_desktop.store.versions import add_version

    flows = FlowStore(portal_id=4242, seed=11, count=FLOWS)
    store = open_store(folder / "source.db", os.urandom(32))
    with store.writing():
        portal = Portal.create(hub_id=4242, name="Benchmark portal")
        for flow_id in flows.flow_ids():
            flow = flows.get(flow_id)
            workflow = Workflow.create(portal=portal, flow_id=str(flow_id),
                                       name=str(flow.get("name") or ""))
            add_version(workflow, normalize_flow(flow), origin="sync")
    out = folder / "export-1000.zip"
    WorkflowQueries(store, AuditLog(store, Settings.load(None, {}))).export_zip(out)
    store.close()
    return out


def build_bomb(folder: Path) -> Path:
    """One ordinary workflow plus a manifest.json of 300 MB of whitespace
    around ``{}`` — valid JSON, so a reader without a cap parses all of it."""
    out = folder / "bomb.zip"
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1", "name": "one"}))
        with archive.open("manifest.json", "w", force_zip64=True) as entry:
            entry.write(b"{")
            for _ in range(BOMB_MB):
                entry.write(chunk)
            entry.write(b"}")
    return out


def probe(file: Path, folder: Path, limit_mb: int = 0) -> dict:
    data_dir = Path(tempfile.mkdtemp(dir=folder))
    args = [sys.executable, "-m", "benchmarks.import_probe", str(file), str(data_dir)]
    if limit_mb:
        args += ["--limit-mb", str(limit_mb)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    if line is None:
        return {"outcome": f"child died (exit {out.returncode})", "message":
                out.stderr.strip().splitlines()[-1:] or "", "peak_rss_mb": float("nan"),
                "baseline_mb": float("nan"), "seconds": float("nan")}
    return json.loads(line)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bomb = build_bomb(folder)
        export = build_export(folder)
        bombed = probe(bomb, folder, SAFETY_CAP_MB)
        legit = probe(export, folder)
        bomb_kb, export_kb = bomb.stat().st_size / 1024, export.stat().st_size / 1024
    refused = bombed["outcome"] == "refused" and "\n" not in bombed["message"]
    return [
        Result(f"import of a zip bomb ({bomb_kb:.0f} KB zip, manifest.json {BOMB_MB} MB): "
               "peak RSS", bombed["peak_rss_mb"], "MB",
               f"<= {BOMB_TARGET_MB} MB, refused in one line",
               refused and bombed["peak_rss_mb"] <= BOMB_TARGET_MB,
               f"{bombed['outcome']}: {bombed['message']}; baseline before the import "
               f"{bombed['baseline_mb']:.0f} MB; {bombed['seconds']:.2f} s; child capped at "
               f"{SAFETY_CAP_MB} MB address space"),
        Result(f"import of a 1,000-workflow export ({export_kb:.0f} KB zip): peak RSS",
               legit["peak_rss_mb"], "MB", detail=f"{legit['outcome']}: {legit['message']}; "
               f"baseline before the import {legit['baseline_mb']:.0f} MB; "
               f"{legit['seconds']:.2f} s"),
    ]
