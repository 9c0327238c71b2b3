"""The version store: dedupe, delta encoding, pruning with rebase, damage."""

from __future__ import annotations

import copy
import datetime as dt
import os

import pytest

from wg_desktop.store.normalize import canonical_bytes, normalize_flow
from wg_desktop.store import versions as vs
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion


@pytest.fixture
def workflow(data_dir):
    store = open_store(data_dir / "v.db", os.urandom(32))
    portal = Portal.create(hub_id=1, name="P")
    yield Workflow.create(portal=portal, flow_id="10", name="Flow")
    store.close()


def big_flow(n_actions: int = 300) -> dict:
    return {"id": "10", "name": "Flow", "isEnabled": True, "revisionId": "1",
            "updatedAt": "2026-01-01T00:00:00Z",
            "actions": [{"actionId": str(i), "actionTypeId": "0-5", "type": "SINGLE_CONNECTION",
                         "fields": {"property": f"prop_{i}", "value": f"value {i} " * 5},
                         "connection": {"edgeType": "STANDARD", "nextActionId": str(i + 1)}}
                        for i in range(1, n_actions + 1)]}


def edited(flow: dict, i: int) -> dict:
    new = copy.deepcopy(flow)
    new["actions"][i % len(new["actions"])]["fields"]["value"] = f"edit {i}"
    new["revisionId"] = str(int(flow["revisionId"]) + 1)
    return new


def t(minutes: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes)


def test_normalize_drops_volatile_keys_and_sorts_actions():
    a = {"revisionId": "1", "updatedAt": "x", "name": "n",
         "actions": [{"actionId": "10"}, {"actionId": "2"}]}
    b = {"revisionId": "2", "updatedAt": "y", "name": "n",
         "actions": [{"actionId": "2"}, {"actionId": "10"}]}
    assert canonical_bytes(normalize_flow(a)) == canonical_bytes(normalize_flow(b))
    assert [x["actionId"] for x in normalize_flow(a)["actions"]] == ["2", "10"]


def test_identical_definition_is_not_stored_twice(workflow):
    flow = normalize_flow(big_flow(5))
    assert vs.add_version(workflow, flow, origin="sync") is not None
    assert vs.add_version(workflow, dict(flow), origin="sync") is None
    assert WorkflowVersion.select().count() == 1


def test_edits_are_delta_encoded_and_small(workflow):
    flow = big_flow()
    raw = len(canonical_bytes(normalize_flow(flow)))
    vs.add_version(workflow, normalize_flow(flow), origin="sync", captured_at=t(0))
    for i in range(1, 30):
        flow = edited(flow, i)
        vs.add_version(workflow, normalize_flow(flow), origin="sync", captured_at=t(i))
    rows = list(WorkflowVersion.select().order_by(WorkflowVersion.id))
    assert rows[0].encoding == vs.FULL
    assert all(r.encoding == vs.DELTA and r.base_id == rows[0].id for r in rows[1:])
    assert max(len(r.body) for r in rows[1:]) < 0.01 * raw
    assert vs.version_json(rows[-1]) == normalize_flow(flow)
    # The stored summary comes from the flow diff: it names the action and the change.
    newest = [v.summary for v in vs.history(workflow)][0]
    assert newest.startswith("Action ") and "→" in newest


def test_a_run_of_deltas_decompresses_their_keyframe_once(workflow, monkeypatch):
    flow = big_flow(20)
    vs.add_version(workflow, normalize_flow(flow), origin="sync", captured_at=t(0))
    for i in range(1, 6):
        flow = edited(flow, i)
        vs.add_version(workflow, normalize_flow(flow), origin="sync", captured_at=t(i))
    rows = list(WorkflowVersion.select().order_by(WorkflowVersion.id))
    assert [r.encoding for r in rows] == [vs.FULL] + [vs.DELTA] * 5
    expected = [vs.version_json(r) for r in rows]
    keyframe_reads = []
    real = vs._decompress
    monkeypatch.setattr(vs, "_decompress", lambda blob, base=None: (
        keyframe_reads.append(blob) if base is None else None) or real(blob, base))
    keyframes = vs.Keyframes()
    assert [vs.version_json(r, keyframes) for r in rows] == expected
    assert len(keyframe_reads) == 2        # the keyframe itself, then once for its deltas
    keyframe_reads.clear()
    assert [vs.version_json(r) for r in rows[1:]] == expected[1:]
    assert len(keyframe_reads) == 5        # without the cache: once per delta


def test_latest_version_id_is_the_latest_versions(workflow):
    assert vs.latest_version_id(workflow) is None
    for i in (2, 0, 1):                     # captured out of order
        vs.add_version(workflow, {"n": i}, origin="sync", captured_at=t(i))
    assert vs.latest_version_id(workflow) == vs.latest_version(workflow).id
    assert vs.version_json(vs.latest_version(workflow)) == {"n": 2}


def test_new_keyframe_after_the_interval(workflow, monkeypatch):
    monkeypatch.setattr(vs, "KEYFRAME_INTERVAL", 3)
    flow = big_flow(20)
    for i in range(8):
        flow = edited(flow, i)
        vs.add_version(workflow, normalize_flow(flow), origin="sync", captured_at=t(i))
    encodings = [r.encoding for r in WorkflowVersion.select().order_by(WorkflowVersion.id)]
    assert encodings == ["zstd", "zstd-delta", "zstd-delta", "zstd-delta",
                         "zstd", "zstd-delta", "zstd-delta", "zstd-delta"]


def test_pruning_a_keyframe_rebases_its_survivors(workflow):
    flow = big_flow(30)
    bodies = []
    for i in range(6):
        flow = edited(flow, i)
        bodies.append(normalize_flow(flow))
        vs.add_version(workflow, bodies[-1], origin="sync", captured_at=t(i))
    rows = list(WorkflowVersion.select().order_by(WorkflowVersion.id))
    assert vs.prune(rows[:2]) == 2              # the keyframe and one delta
    left = list(WorkflowVersion.select().order_by(WorkflowVersion.id))
    assert [vs.version_json(r) for r in left] == bodies[2:]
    assert left[0].encoding == vs.FULL and all(r.base_id == left[0].id for r in left[1:])


def test_the_newest_version_is_never_pruned(workflow):
    vs.add_version(workflow, {"a": 1}, origin="sync", captured_at=t(0))
    assert vs.purge_versions_older_than(t(100)) == 0
    vs.add_version(workflow, {"a": 2}, origin="sync", captured_at=t(1))
    assert vs.purge_versions_older_than(t(100)) == 1
    assert vs.version_json(vs.latest_version(workflow)) == {"a": 2}


def test_version_cap_prunes_oldest_first(workflow):
    for i in range(7):
        vs.add_version(workflow, {"n": i}, origin="sync", captured_at=t(i))
    assert vs.enforce_version_cap(workflow, 4) == 3
    assert [vs.version_json(WorkflowVersion.get_by_id(v.id))["n"]
            for v in vs.history(workflow)] == [6, 5, 4, 3]


def test_damaged_version_is_reported_not_returned(workflow):
    version = vs.add_version(workflow, {"a": 1}, origin="sync")
    version.body = b"garbage"
    version.save()
    with pytest.raises(vs.VersionCorrupt):
        vs.version_json(version)
    other = vs.add_version(workflow, {"a": 2}, origin="sync")
    other.content_hash = "0" * 64
    other.save()
    with pytest.raises(vs.VersionCorrupt, match="content hash"):
        vs.version_json(other)


def test_history_lists_newest_first_without_decoding(workflow):
    for i in range(3):
        vs.add_version(workflow, {"n": i}, origin="sync" if i else "import", captured_at=t(i))
    infos = vs.history(workflow)
    assert [i.origin for i in infos] == ["sync", "sync", "import"]
    assert all(i.stored_size > 0 and i.raw_size > 0 for i in infos)


def test_migration_3_adds_delta_columns_to_an_old_database(data_dir):
    key = os.urandom(32)
    path = data_dir / "old.db"
    old = open_store(path, key, target_version=2)
    old.db.execute_sql("ALTER TABLE workflow_version DROP COLUMN encoding")
    old.db.execute_sql("DROP INDEX IF EXISTS workflow_version_base_id")
    old.db.execute_sql("ALTER TABLE workflow_version DROP COLUMN base_id")
    portal = Portal.create(hub_id=2)
    wf = Workflow.create(portal=portal, flow_id="1")
    old.db.execute_sql("INSERT INTO workflow_version (workflow_id, captured_at, revision_id, "
                       "remote_updated_at, origin, content_hash, raw_size, body, summary) "
                       "VALUES (?, ?, '', '', 'sync', ?, 0, ?, '')",
                       (wf.id, t(0).isoformat(), "h", b"x"))
    old.close()
    store = open_store(path, key)
    columns = {c.name for c in store.db.get_columns("workflow_version")}
    assert {"encoding", "base_id"} <= columns
    assert WorkflowVersion.get().encoding == "zstd"
    store.close()


def test_queries_address_versions_by_number_or_by_id(workflow):
    from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries

    ids = [vs.add_version(workflow, {"n": i}, origin="sync", captured_at=t(i)).id
           for i in range(3)]
    queries = WorkflowQueries(None, None)
    assert queries.version(workflow)[1] == {"n": 2}
    assert queries.version(workflow, "1")[1] == {"n": 0}
    assert queries.version(workflow, "v2")[1] == {"n": 1}
    info, number, total, body = queries.version_by_id(workflow, ids[0])
    assert (info.id, number, total, body) == (ids[0], 1, 3, {"n": 0})
    for bad in ("0", "4", str(ids[2]) if ids[2] > 3 else "99", "x"):
        with pytest.raises(WorkflowNotFound):
            queries.version(workflow, bad)
    with pytest.raises(WorkflowNotFound):
        queries.version_by_id(workflow, 10_000)
    assert queries.get(workflow.id).id == workflow.id
