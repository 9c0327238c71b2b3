"""The audit log's hash chain: tamper evidence, pruning that keeps it whole,
concurrent writers, migration of an existing trail, and ``audit verify``."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading

import pytest

from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditAction, AuditLog, ChainFault
from wg_desktop.store.db import LATEST_VERSION, open_store
from wg_desktop.store.models import (GENESIS_HASH, AuditChainState, AuditEvent,
                                     audit_entry_hash)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def store(data_dir, key):
    store = open_store(data_dir / "t.db", key)
    yield store
    store.close()


def _audit(store, environ: dict[str, str] | None = None) -> AuditLog:
    return AuditLog(store, Settings.load(None, environ or {}))


@pytest.fixture
def audit(store) -> AuditLog:
    return _audit(store)


@pytest.fixture
def five(audit) -> list[int]:
    return [audit.record(AuditAction.SYNC, portal_hub_id=7, details=f"n={i}").id
            for i in range(5)]


def _sql(store, statement: str, *params) -> None:
    store.db.execute_sql(statement, params)


# -- an intact trail ------------------------------------------------------------------

def test_empty_trail_is_intact_at_genesis(audit):
    report = audit.verify()
    assert report.intact and report.entries == 0 and report.head_hash == GENESIS_HASH
    assert report.summary() == f"audit trail intact: 0 entries, head {GENESIS_HASH[:12]}"


def test_each_entry_links_to_the_one_before(audit, five):
    rows = list(AuditEvent.select().order_by(AuditEvent.id))
    assert rows[0].prev_hash == GENESIS_HASH
    for before, after in zip(rows, rows[1:]):
        assert after.prev_hash == before.entry_hash
    raw = audit.store.db.execute_sql("SELECT timestamp FROM audit_event WHERE id = ?",
                                     (rows[2].id,)).fetchone()[0]
    assert rows[2].entry_hash == audit_entry_hash(rows[2].id, raw, "sync", 7, "success", "n=2",
                                                  rows[1].entry_hash)
    report = audit.verify()
    assert report.intact and report.entries == 5
    assert report.head_hash == rows[-1].entry_hash
    assert report.summary() == f"audit trail intact: 5 entries, head {rows[-1].entry_hash[:12]}"


# -- tampering through raw SQL is named --------------------------------------------------

def test_edited_details_are_named(audit, store, five):
    _sql(store, "UPDATE audit_event SET details = 'nothing happened' WHERE id = ?", five[2])
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (five[2], ChainFault.EDITED)
    assert problem.message == f"entry {five[2]} was edited (its content no longer matches its hash)"


@pytest.mark.parametrize("column,value", [("timestamp", "2020-01-01T00:00:00.000000+00:00"),
                                          ("action", "export"), ("outcome", "failure"),
                                          ("portal_hub_id", 8)])
def test_every_field_is_covered_by_the_hash(audit, store, five, column, value):
    _sql(store, f"UPDATE audit_event SET {column} = ? WHERE id = ?", value, five[1])
    assert audit.verify().problem.entry_id == five[1]


def test_deleted_middle_entry_is_named(audit, store, five):
    _sql(store, "DELETE FROM audit_event WHERE id = ?", five[2])
    report = audit.verify()
    assert not report.intact
    assert (report.problem.entry_id, report.problem.fault) == (five[3], ChainFault.DELETED)
    assert report.summary() == (f"audit trail broken: entry {five[3]} does not link to entry "
                                f"{five[1]}: an entry between them was deleted (or entry "
                                f"{five[1]} was replaced)")


def test_deleted_oldest_entry_is_named(audit, store, five):
    _sql(store, "DELETE FROM audit_event WHERE id = ?", five[0])
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (five[1], ChainFault.DELETED)


def test_deleted_newest_entries_are_named_and_stay_visible_after_new_entries(audit, store,
                                                                            five):
    _sql(store, "DELETE FROM audit_event WHERE id >= ?", five[3])
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (five[4], ChainFault.DELETED)
    # The next entry links to the real head, so the gap does not heal.
    later = audit.record(AuditAction.SYNC, details="later")
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (later.id, ChainFault.DELETED)


def test_row_inserted_without_a_hash_is_named(audit, store, five):
    _sql(store, "INSERT INTO audit_event (timestamp, action, outcome, details) "
                "VALUES ('2026-06-01T12:00:00.000000+00:00', 'restore', 'success', 'x')")
    new_id = store.db.execute_sql("SELECT max(id) FROM audit_event").fetchone()[0]
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (new_id, ChainFault.INSERTED)
    assert "inserted" in problem.message and str(new_id) in problem.message


def test_row_inserted_with_its_own_valid_hash_is_named(audit, store, five):
    # A careful forger: the row fills a gap of the ids (an upgraded trail may
    # have gaps) and hashes correctly onto the entry before it, but the entry
    # after it still links past it.
    _sql(store, "UPDATE audit_event SET id = id + 10 WHERE id >= ?", five[3])
    _rechain(store)
    assert audit.verify().intact
    gap = five[3]
    before = AuditEvent.get_by_id(five[2])
    ts = "2026-06-01T12:00:00.000000+00:00"
    forged = audit_entry_hash(gap, ts, "restore", None, "success", "forged", before.entry_hash)
    _sql(store, "INSERT INTO audit_event (id, timestamp, action, portal_hub_id, outcome, "
                "details, prev_hash, entry_hash) VALUES (?, ?, 'restore', NULL, 'success', "
                "'forged', ?, ?)", gap, ts, before.entry_hash, forged)
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (gap, ChainFault.INSERTED)
    assert problem.message == (f"entry {gap} was inserted (entry {gap + 10} links to the "
                               "entry before it)")


def test_row_appended_after_the_head_with_a_valid_hash_is_named(audit, store, five):
    head = AuditEvent.get_by_id(five[4])
    ts = "2026-06-01T12:00:00.000000+00:00"
    new_id = five[4] + 1
    forged = audit_entry_hash(new_id, ts, "restore", None, "success", "forged",
                              head.entry_hash)
    _sql(store, "INSERT INTO audit_event (id, timestamp, action, portal_hub_id, outcome, "
                "details, prev_hash, entry_hash) VALUES (?, ?, 'restore', NULL, 'success', "
                "'forged', ?, ?)", new_id, ts, head.entry_hash, forged)
    problem = audit.verify().problem
    assert (problem.entry_id, problem.fault) == (new_id, ChainFault.INSERTED)


def test_edited_chain_state_is_named(audit, store, five):
    # Hiding the deletion of the oldest entries by moving the anchor by hand.
    oldest = AuditEvent.get_by_id(five[0])
    _sql(store, "DELETE FROM audit_event WHERE id = ?", five[0])
    _sql(store, "UPDATE audit_chain_state SET anchor_hash = ?, anchor_id = ?",
         oldest.entry_hash, five[0])
    report = audit.verify()
    assert report.problem.fault is ChainFault.STATE
    assert "state row was edited" in report.summary()
    audit.record(AuditAction.SYNC)           # later writes do not reseal the evidence away
    assert audit.verify().problem.fault is ChainFault.STATE


def test_missing_chain_state_is_named(audit, store, five):
    _sql(store, "DELETE FROM audit_chain_state")
    assert audit.verify().problem.fault is ChainFault.STATE


# -- pruning moves the anchor instead of breaking the chain ---------------------------

def test_cap_pruning_keeps_the_chain_verifiable(store):
    audit = _audit(store, {"WG_LIMITS_AUDIT_ENTRIES": "3"})
    ids = [audit.record(AuditAction.SYNC, details=f"n={i}").id for i in range(8)]
    report = audit.verify()
    assert report.intact, report.summary()
    assert report.entries == 3 and report.pruned == 5 and report.anchor_id == ids[4]
    kept = AuditEvent.select().order_by(AuditEvent.id).first()
    state = AuditChainState.get_by_id(1)
    assert kept.prev_hash == state.anchor_hash
    # ...and tampering after pruning is still caught
    _sql(store, "UPDATE audit_event SET details = 'x' WHERE id = ?", ids[6])
    assert audit.verify().problem.entry_id == ids[6]


def test_retention_pruning_keeps_the_chain_verifiable(audit, store, five):
    # Entries are written in time order; ages are set as they would have been.
    for entry_id, days in zip(five, (900, 800, 731, 10, 0)):
        stamp = (NOW - dt.timedelta(days=days)).isoformat(timespec="microseconds")
        _sql(store, "UPDATE audit_event SET timestamp = ? WHERE id = ?", stamp, entry_id)
    _rechain(store)
    assert audit.verify().intact
    assert audit.purge_older_than(NOW - dt.timedelta(days=730)) == 3
    report = audit.verify()
    assert report.intact and report.entries == 2 and report.anchor_id == five[2]
    assert audit.purge_older_than(NOW + dt.timedelta(days=1)) == 2      # everything goes
    report = audit.verify()
    assert report.intact and report.entries == 0
    audit.record(AuditAction.RETENTION, details="after a total purge")
    assert audit.verify().intact


def test_retention_only_cuts_the_old_end(audit, store, five):
    # The clock was set back: entry 3 is "older" than entry 2 — entry 3 stays
    # until the entries before it are old enough too.
    for entry_id, days in zip(five, (900, 10, 800, 5, 0)):
        stamp = (NOW - dt.timedelta(days=days)).isoformat(timespec="microseconds")
        _sql(store, "UPDATE audit_event SET timestamp = ? WHERE id = ?", stamp, entry_id)
    _rechain(store)
    assert audit.purge_older_than(NOW - dt.timedelta(days=730)) == 1
    assert [e.id for e in AuditEvent.select().order_by(AuditEvent.id)] == five[1:]
    assert audit.verify().intact


def _rechain(store) -> None:
    """Re-run migration 4's chaining over the rows (the test changed their times)."""
    from wg_desktop.store.db import _m4_audit_chain

    _sql(store, "DELETE FROM audit_chain_state")
    _m4_audit_chain(store.db)


# -- writers on several threads -----------------------------------------------------------

def test_concurrent_writers_keep_one_chain(audit, store):
    def write(n: int) -> None:
        with store.session():
            for i in range(25):
                audit.record(AuditAction.JOB, details=f"t{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = audit.verify()
    assert report.intact, report.summary()
    assert report.entries == 100


# -- migration 4 chains an existing trail ----------------------------------------------------

def test_migration_chains_the_entries_of_an_existing_database(data_dir, key):
    path = data_dir / "old.db"
    old = open_store(path, key, target_version=3)
    # A schema-3 database has neither the hash columns nor the state table.
    _sql(old, "ALTER TABLE audit_event DROP COLUMN prev_hash")
    _sql(old, "ALTER TABLE audit_event DROP COLUMN entry_hash")
    assert not old.db.table_exists("audit_chain_state")
    for i in range(4):
        _sql(old, "INSERT INTO audit_event (timestamp, action, portal_hub_id, outcome, details) "
                  "VALUES (?, 'sync', 3, 'success', ?)",
             f"2026-0{i + 1}-01T00:00:00.000000+00:00", f"old {i}")
    old.close()

    store = open_store(path, key)
    try:
        assert store.schema_version() == LATEST_VERSION
        audit = _audit(store)
        report = audit.verify()
        assert report.intact, report.summary()
        assert report.entries == 4
        assert [e.details for e in AuditEvent.select().order_by(AuditEvent.id)] == [
            f"old {i}" for i in range(4)]
        new = audit.record(AuditAction.SYNC, details="after the upgrade")
        assert AuditEvent.get_by_id(new.id).prev_hash == report.head_hash
        assert audit.verify().intact
        _sql(store, "UPDATE audit_event SET details = 'rewritten' WHERE details = 'old 1'")
        assert audit.verify().problem.fault is ChainFault.EDITED
    finally:
        store.close()


def test_report_as_dict_is_json_ready(audit, store, five):
    _sql(store, "DELETE FROM audit_event WHERE id = ?", five[1])
    data = json.loads(json.dumps(audit.verify().as_dict()))
    assert data["intact"] is False and data["entries"] == 4
    assert data["problem"] == {"entry_id": five[2], "fault": "deleted",
                               "message": f"entry {five[2]} does not link to entry {five[0]}: "
                                          f"an entry between them was deleted (or entry "
                                          f"{five[0]} was replaced)"}
