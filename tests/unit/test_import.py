"""Importing exports and JSON files: validated first, one source per portal."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from wg_desktop.services import import_reader
from wg_desktop.services.audit import AuditLog
from wg_desktop.config import Settings
from wg_desktop.services.import_reader import (CHUNK_BYTES, MAX_ENTRIES, MAX_ENTRY_BYTES,
                                               MAX_JSON_DEPTH, read_capped)
from wg_desktop.services.workflows import ImportRejected, WorkflowQueries
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion
from wg_desktop.store.versions import add_version, latest_version, version_json


@pytest.fixture
def queries(data_dir):
    store = open_store(data_dir / "i.db", os.urandom(32))
    yield WorkflowQueries(store, AuditLog(store, Settings.load(None, {})))
    store.close()


def make_zip(path, entries):
    manifest = {"format": "workflowguard-export/1", "workflows": []}
    with zipfile.ZipFile(path, "w") as archive:
        for hub, portal, flow in entries:
            name = f"workflows/{hub}/{flow['id']}.json"
            archive.writestr(name, json.dumps(flow))
            manifest["workflows"].append({"file": name, "hub_id": hub, "portal": portal,
                                          "flow_id": flow["id"]})
        archive.writestr("manifest.json", json.dumps(manifest))


def test_same_flow_id_from_two_portals_keeps_two_histories(queries, tmp_path):
    archive = tmp_path / "workflows.zip"
    make_zip(archive, [(11, "Alpha", {"id": "7", "name": "A"}),
                       (22, "Beta", {"id": "7", "name": "B"})])
    first, stored = queries.import_file(archive)
    assert stored == 2
    sources = {p.hub_id: p.name for p in Portal.select()}
    assert sources == {-11: "Imported: Alpha (11)", -22: "Imported: Beta (22)"}
    assert Workflow.select().count() == 2
    again, stored_again = queries.import_file(archive)      # same file: nothing new
    assert stored_again == 0 and WorkflowVersion.select().count() == 2


@pytest.mark.parametrize("content, message", [
    (b"{ nope", "not valid JSON"),
    (b'[{"name": "no id"}]', "needs an 'id'"),
    (b"[]", "no workflow definitions"),
])
def test_bad_files_are_refused_and_nothing_is_stored(queries, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(ImportRejected, match=message):
        queries.import_file(bad)
    assert Portal.select().count() == 0


def test_damaged_zip_is_refused(queries, tmp_path):
    archive = tmp_path / "x.zip"
    make_zip(archive, [(11, "Alpha", {"id": "7"})])
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2] + b"\0" * 50 + data[len(data) // 2 + 50:])
    with pytest.raises(ImportRejected):
        queries.import_file(archive)
    assert Portal.select().count() == 0


def test_plain_hubspot_results_file_imports(queries, tmp_path):
    plain = tmp_path / "hubspot.json"
    plain.write_text(json.dumps({"results": [{"id": "1", "name": "One"},
                                             {"id": "2", "name": "Two"}]}))
    portal, stored = queries.import_file(plain)
    assert stored == 2 and portal.name == "Imported: hubspot.json" and portal.hub_id < 0


# -- limits: nothing in an import file is trusted -------------------------------------------


SPACES = b" " * (1 << 20)


@pytest.fixture
def inflated(monkeypatch):
    """How many bytes zipfile's deflate decompressors have produced."""
    total = [0]
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self._inner = real(*args)

        def decompress(self, data, max_length=0):
            out = self._inner.decompress(data, max_length)
            total[0] += len(out)
            return out

        def flush(self, *args):
            out = self._inner.flush(*args)
            total[0] += len(out)
            return out

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    return total


def write_padded(archive, name, document, size):
    """An entry of ``size`` bytes: valid JSON padded with whitespace."""
    head = json.dumps(document).encode()
    with archive.open(name, "w", force_zip64=True) as entry:
        entry.write(head)
        left = size - len(head)
        while left > 0:
            entry.write(SPACES[:left])
            left -= len(SPACES)


def claim(path, name, *, size=None, flags=None):
    """Rewrite what the central directory says about entry ``name``."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + length] == name.encode():
            if size is not None:
                struct.pack_into("<L", data, at + 24, size)
            if flags is not None:
                struct.pack_into("<H", data, at + 8, flags)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def counts():
    return Portal.select().count(), Workflow.select().count(), WorkflowVersion.select().count()


def test_zip_bomb_manifest_is_refused_unread(queries, tmp_path, inflated):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1"}))
        write_padded(archive, "manifest.json", {}, MAX_ENTRY_BYTES + (1 << 20))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ImportRejected, match=r"^bomb\.zip: manifest\.json unpacks to more "
                                             r"than 32 MB; nothing was imported\.$"):
        queries.import_file(bomb)
    assert counts() == (0, 0, 0)
    assert inflated[0] <= CHUNK_BYTES


@pytest.mark.parametrize("claimed", [1000, MAX_ENTRY_BYTES])
def test_entry_lying_about_its_size_is_read_no_further_than_the_cap(queries, tmp_path,
                                                                    inflated, claimed):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"id": "9", "name": "kept"}))
    queries.import_file(good)
    before = counts()
    liar = tmp_path / "liar.zip"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1"}))   # stored, then undone
        write_padded(archive, "workflows/1/2.json", {"id": "2"}, MAX_ENTRY_BYTES + (8 << 20))
    claim(liar, "workflows/1/2.json", size=claimed)
    inflated[0] = 0
    with pytest.raises(ImportRejected, match=r"^liar\.zip: .*2\.json.*nothing was imported"):
        queries.import_file(liar)
    assert counts() == before
    assert inflated[0] <= MAX_ENTRY_BYTES + CHUNK_BYTES


def test_read_capped_stops_one_chunk_past_the_limit():
    class Endless:
        served = 0

        def read(self, n=-1):
            assert n > 0, "an unbounded read"
            self.served += n
            return b"\0" * n

    stream = Endless()
    assert read_capped(stream, 1000) is None
    assert stream.served <= 1000 + CHUNK_BYTES
    assert read_capped(io.BytesIO(b"x" * 1000), 1000) == b"x" * 1000


def test_plain_json_over_the_cap_is_refused(queries, tmp_path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.write(json.dumps({"id": "1"}).encode())
        handle.write(b" " * MAX_ENTRY_BYTES)
    with pytest.raises(ImportRejected, match=r"^big\.json: larger than 32 MB"):
        queries.import_file(big)
    assert counts() == (0, 0, 0)


def import_in_thread(queries, path):
    """Run the import on a thread; (finished, outcome) after at most 10 s."""
    outcome = []

    def work():
        try:
            outcome.append(queries.import_file(path))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(10)
    return not worker.is_alive(), outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(queries, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    try:
        finished, outcome = import_in_thread(queries, fifo)
    finally:
        _release(fifo)
    assert finished, "the import blocked on the FIFO"
    assert isinstance(outcome[0], ImportRejected)
    assert str(outcome[0]) == "pipe.json: not a regular file; nothing was imported."


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_swapped_in_after_the_check_neither_blocks_nor_imports(queries, tmp_path,
                                                                    monkeypatch):
    fifo, regular = tmp_path / "pipe.json", tmp_path / "regular.json"
    os.mkfifo(fifo)
    regular.write_text("{}")
    real_stat = os.stat
    monkeypatch.setattr(import_reader.os, "stat",
                        lambda p, *a, **k: real_stat(regular if p == fifo else p, *a, **k))
    try:
        finished, outcome = import_in_thread(queries, fifo)
    finally:
        monkeypatch.undo()
        _release(fifo)
    assert finished, "the import blocked on the FIFO"
    assert "not a regular file" in str(outcome[0])


def _release(fifo):
    """Unblock a reader stuck in open() on ``fifo`` (only on a failing run)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass    # no reader waiting: nothing to release


def test_devices_and_folders_are_refused(queries, tmp_path):
    targets = [tmp_path]
    if os.path.exists("/dev/zero"):
        targets.append(Path("/dev/zero"))
    for target in targets:
        with pytest.raises(ImportRejected, match=r"not a regular file; nothing was imported"):
            queries.import_file(target)
    with pytest.raises(ImportRejected, match=r"^missing\.json: cannot be read"):
        queries.import_file(tmp_path / "missing.json")
    assert counts() == (0, 0, 0)


def nested(depth):
    """An object with a {"id": ...} at the top whose nesting is ``depth`` levels."""
    value = []
    for _ in range(depth - 2):
        value = [value]
    return {"id": "1", "deep": value}


def test_json_nested_too_deep_is_refused_in_one_line(queries, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ImportRejected, match=rf"^deep\.json: nests deeper than "
                                             rf"{MAX_JSON_DEPTH} levels; nothing"):
        queries.import_file(deep)
    archive = tmp_path / "deep.zip"
    make_zip(archive, [(11, "Alpha", nested(MAX_JSON_DEPTH + 1))])
    with pytest.raises(ImportRejected, match=r"workflows/11/1\.json nests deeper"):
        queries.import_file(archive)
    assert counts() == (0, 0, 0)


def test_depth_limit_is_exact_and_ignores_brackets_in_strings(queries, tmp_path):
    flow = nested(MAX_JSON_DEPTH)
    flow["name"] = '[{"\\"[' * 5000
    plain = tmp_path / "edge.json"
    plain.write_text(json.dumps(flow))
    _, stored = queries.import_file(plain)
    assert stored == 1
    assert version_json(latest_version(Workflow.get())) == flow


def test_too_many_entries_are_refused(queries, tmp_path):
    crowded = tmp_path / "crowded.zip"
    with zipfile.ZipFile(crowded, "w") as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1"}))
        for i in range(MAX_ENTRIES):
            archive.writestr(f"notes/{i}.txt", b"")
    with pytest.raises(ImportRejected, match=r"^crowded\.zip: holds more than 5,000 entries"):
        queries.import_file(crowded)
    assert counts() == (0, 0, 0)


def test_oversized_zip_directory_is_refused(queries, tmp_path):
    wide = tmp_path / "wide.zip"
    with zipfile.ZipFile(wide, "w") as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1"}))
        for i in range(80):
            archive.writestr(f"{i:05d}" + "n" * 60_000, b"")
    with pytest.raises(ImportRejected, match=r"^wide\.zip: its zip directory is larger "
                                             r"than 4 MB"):
        queries.import_file(wide)
    assert counts() == (0, 0, 0)


def test_bzip2_and_encrypted_entries_are_refused(queries, tmp_path):
    packed = tmp_path / "bz.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("workflows/1/1.json", json.dumps({"id": "1"}))
    with pytest.raises(ImportRejected, match=r"1\.json uses a compression method other"):
        queries.import_file(packed)
    locked = tmp_path / "locked.zip"
    make_zip(locked, [(11, "Alpha", {"id": "7"})])
    claim(locked, "workflows/11/7.json", flags=0x1)
    with pytest.raises(ImportRejected, match=r"7\.json is encrypted"):
        queries.import_file(locked)
    assert counts() == (0, 0, 0)


def test_total_unpacked_size_is_capped(queries, tmp_path, monkeypatch):
    monkeypatch.setattr(import_reader, "MAX_TOTAL_BYTES", 1000)
    archive = tmp_path / "sum.zip"
    make_zip(archive, [(11, "Alpha", {"id": "1", "pad": "x" * 600}),
                       (11, "Alpha", {"id": "2", "pad": "x" * 600})])
    with pytest.raises(ImportRejected, match=r"^sum\.zip: unpacks to more than"):
        queries.import_file(archive)
    assert counts() == (0, 0, 0)


def test_real_export_with_a_large_workflow_round_trips(queries, tmp_path):
    portal = Portal.create(hub_id=77, name="Source")
    big = {"id": "500", "name": "Big", "actions": [
        {"actionId": str(i), "type": "SINGLE_CONNECTION", "fields": {"body": "é" * 2300}}
        for i in range(1000)]}
    small = {"id": "501", "name": "Small", "actions": []}
    for flow in (big, small):
        with queries.store.writing():
            workflow = Workflow.create(portal=portal, flow_id=flow["id"], name=flow["name"])
            add_version(workflow, flow, origin="sync")
    out = tmp_path / "export.zip"
    assert queries.export_zip(out, 77) == 2
    imported, stored = queries.import_file(out)
    assert stored == 2 and imported.name == "Imported: Source (77)"
    copy = Workflow.get(Workflow.portal == imported, Workflow.flow_id == "500")
    assert version_json(latest_version(copy)) == big
    assert len(json.dumps(big).encode()) > 2_300_000
