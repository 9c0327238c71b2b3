"""The audit log: recording, queries, redaction, cap, retention, feature flag, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat

import pytest

from wg_desktop.config import Settings
from wg_desktop.security.redaction import MASK, SecretRegistry
from wg_desktop.services.audit import (CSV_COLUMNS, AuditAction, AuditLog, AuditQuery, to_csv)
from wg_desktop.store.db import open_store
from wg_desktop.store.models import AuditEvent, Outcome

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir / "t.db", os.urandom(32))
    yield store
    store.close()


@pytest.fixture
def make_audit(store):
    def _make(environ: dict[str, str] | None = None, settings_path=None,
              registry: SecretRegistry | None = None) -> AuditLog:
        return AuditLog(store, Settings.load(settings_path, environ or {}), registry)
    return _make


@pytest.fixture
def audit(make_audit) -> AuditLog:
    return make_audit()


def _set_time(entry_id: int, when: dt.datetime) -> None:
    AuditEvent.update(timestamp=when).where(AuditEvent.id == entry_id).execute()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- recording -------------------------------------------------------------------------

def test_record_returns_and_stores_the_entry(audit):
    entry = audit.record(AuditAction.SYNC, portal_hub_id=42, outcome=Outcome.WARNING,
                         details="3 workflows changed")
    assert entry is not None
    assert entry.action == "sync" and entry.portal_hub_id == 42
    assert entry.outcome == "warning" and entry.details == "3 workflows changed"
    assert entry.timestamp.tzinfo is not None
    row = AuditEvent.get_by_id(entry.id)
    assert (row.action, row.portal_hub_id, row.outcome, row.details) == (
        "sync", 42, "warning", "3 workflows changed")
    assert audit.entries() == [entry]


def test_record_defaults_and_dict_details(audit):
    entry = audit.record("app_start", details={"version": "0.1.0", "when": NOW})
    assert entry.outcome == "success"
    assert entry.portal_hub_id is None
    assert json.loads(entry.details) == {"version": "0.1.0", "when": str(NOW)}


@pytest.mark.parametrize("details,secret", [
    ({"access_token": "at-audit-1234567", "portal": 1}, "at-audit-1234567"),
    ({"response": '{"refresh_token": "rt-nested-1234567"}'}, "rt-nested-1234567"),
    ("POST /oauth/v1/token refresh_token=rt-form-7654321&client_secret=cs-form-1111",
     "rt-form-7654321"),
    ("POST /oauth/v1/token refresh_token=rt-form-7654321&client_secret=cs-form-1111",
     "cs-form-1111"),
    ("connected with pat-na1-fake01234567-89ab-cdef-0123-456789abcdef",
     "pat-na1-fake01234567-89ab-cdef-0123-456789abcdef"),
    ("Authorization: Bearer header-token-555", "header-token-555"),
    ("DELETE /oauth/v1/refresh-tokens/rt-path-987654", "rt-path-987654"),
])
def test_details_are_redacted_before_storage(audit, store, details, secret):
    entry = audit.record(AuditAction.CONNECT, details=details)
    assert secret not in entry.details
    assert MASK in entry.details
    raw = store.db.execute_sql("SELECT details FROM audit_event").fetchall()
    assert all(secret not in r[0] for r in raw)


def test_registry_secrets_are_redacted_in_details(make_audit):
    registry = SecretRegistry()
    registry.add("opaque-oauth-token-value")
    audit = make_audit(registry=registry)
    entry = audit.record(AuditAction.TOKEN_REFRESH, details={"note": "got opaque-oauth-token-value"})
    assert "opaque-oauth-token-value" not in entry.details
    assert MASK in entry.details


# -- queries ---------------------------------------------------------------------------

@pytest.fixture
def populated(audit):
    rows = [
        (AuditAction.CONNECT, 1, Outcome.SUCCESS, "Connected Acme Corp", NOW - dt.timedelta(days=3)),
        (AuditAction.SYNC, 1, Outcome.SUCCESS, "synced 10 workflows", NOW - dt.timedelta(days=2)),
        (AuditAction.SYNC, 2, Outcome.FAILURE, "timeout talking to HubSpot", NOW - dt.timedelta(days=1)),
        (AuditAction.RESTORE, 2, Outcome.SUCCESS, "restored Lead nurture v3", NOW - dt.timedelta(hours=5)),
        (AuditAction.SETTINGS_CHANGE, None, Outcome.INFO, "ratelimit.per_minute 100 -> 50", NOW),
    ]
    ids = []
    for action, portal, outcome, details, when in rows:
        entry = audit.record(action, portal_hub_id=portal, outcome=outcome, details=details)
        _set_time(entry.id, when)
        ids.append(entry.id)
    return ids


@pytest.mark.parametrize("query,expected_positions", [
    (AuditQuery(), [4, 3, 2, 1, 0]),
    (AuditQuery(action="sync"), [2, 1]),
    (AuditQuery(outcome="failure"), [2]),
    (AuditQuery(portal_hub_id=2), [3, 2]),
    (AuditQuery(portal_hub_id=1, action="sync"), [1]),
    (AuditQuery(since=NOW - dt.timedelta(days=1)), [4, 3, 2]),
    (AuditQuery(until=NOW - dt.timedelta(days=1)), [1, 0]),
    (AuditQuery(since=NOW - dt.timedelta(days=2), until=NOW - dt.timedelta(hours=1)), [3, 2, 1]),
    (AuditQuery(text="acme"), [0]),          # case-insensitive, details
    (AuditQuery(text="HUBSPOT"), [2]),
    (AuditQuery(text="restore"), [3]),       # matches the action too
    (AuditQuery(text="settings_change"), [4]),
    (AuditQuery(text="nothing like this"), []),
    (AuditQuery(limit=2), [4, 3]),
    (AuditQuery(limit=2, offset=2), [2, 1]),
    (AuditQuery(action="sync", limit=1, offset=1), [1]),
], ids=lambda v: repr(v)[:70] if isinstance(v, AuditQuery) else None)
def test_entries_filters_newest_first(audit, populated, query, expected_positions):
    expected_ids = [populated[i] for i in expected_positions]
    assert [e.id for e in audit.entries(query)] == expected_ids
    unpaged = AuditQuery(**{**query.__dict__, "limit": None, "offset": 0})
    assert audit.count(query) == len(audit.entries(unpaged))


def test_text_search_treats_like_wildcards_literally(audit):
    hits = audit.record(AuditAction.SYNC, details="progress 50% done").id
    audit.record(AuditAction.SYNC, details="rows 500 copied")
    audit.record(AuditAction.SYNC, details="rowsX1")
    under = audit.record(AuditAction.SYNC, details="rows_1").id
    assert [e.id for e in audit.entries(AuditQuery(text="50%"))] == [hits]
    assert [e.id for e in audit.entries(AuditQuery(text="rows_"))] == [under]


def test_actions_lists_distinct_sorted(audit, populated):
    assert audit.actions() == ["connect", "restore", "settings_change", "sync"]


# -- cap -----------------------------------------------------------------------------------

def test_cap_from_environment_keeps_the_newest(make_audit):
    audit = make_audit({"WG_LIMITS_AUDIT_ENTRIES": "5"})
    for i in range(12):
        audit.record(AuditAction.SYNC, details=f"n={i}")
    assert audit.count() == 5
    assert [e.details for e in audit.entries()] == [f"n={i}" for i in range(11, 6, -1)]
    assert AuditEvent.select().count() == 5


def test_cap_from_settings_file(make_audit, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"limits.audit_entries": 3}))
    audit = make_audit(settings_path=path)
    for i in range(7):
        audit.record(AuditAction.JOB, details=f"job {i}")
    assert [e.details for e in audit.entries()] == ["job 6", "job 5", "job 4"]


def test_cap_of_one(make_audit):
    audit = make_audit({"WG_LIMITS_AUDIT_ENTRIES": "1"})
    for i in range(4):
        audit.record(AuditAction.SYNC, details=f"n={i}")
    assert [e.details for e in audit.entries()] == ["n=3"]


def test_under_the_cap_nothing_is_removed(make_audit):
    audit = make_audit({"WG_LIMITS_AUDIT_ENTRIES": "10"})
    for i in range(10):
        audit.record(AuditAction.SYNC, details=f"n={i}")
    assert audit.count() == 10


# -- retention -----------------------------------------------------------------------------

def test_purge_older_than(audit):
    ages = [800, 731, 729, 10, 0]
    ids = []
    for days in ages:
        entry = audit.record(AuditAction.SYNC, details=f"{days} days old")
        _set_time(entry.id, NOW - dt.timedelta(days=days))
        ids.append(entry.id)
    cutoff = NOW - dt.timedelta(days=730)
    assert audit.purge_older_than(cutoff) == 2
    assert sorted(e.id for e in audit.entries()) == ids[2:]
    assert audit.purge_older_than(cutoff) == 0


def test_purge_cutoff_is_strict(audit):
    entry = audit.record(AuditAction.SYNC)
    _set_time(entry.id, NOW)
    assert audit.purge_older_than(NOW) == 0
    assert audit.purge_older_than(NOW + dt.timedelta(microseconds=1)) == 1


# -- feature flag --------------------------------------------------------------------------

def test_feature_flag_off_by_environment_records_nothing(make_audit):
    audit = make_audit({"WG_FEATURES_AUDIT_LOGGING": "false"})
    assert audit.enabled is False
    assert audit.record(AuditAction.SYNC, details="x") is None
    assert AuditEvent.select().count() == 0


def test_feature_flag_off_by_settings_file_records_nothing(make_audit, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"features.audit_logging": False}))
    audit = make_audit(settings_path=path)
    assert audit.record(AuditAction.CONNECT, portal_hub_id=1) is None
    assert AuditEvent.select().count() == 0


def test_feature_flag_on_by_default(audit):
    assert audit.enabled is True


# -- CSV export ------------------------------------------------------------------------------

def _read_csv(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_export_csv_content_header_and_permissions(audit, populated, tmp_path):
    path = tmp_path / "audit.csv"
    assert audit.export_csv(path) == 5
    rows = _read_csv(path)
    assert rows[0] == list(CSV_COLUMNS) == ["id", "timestamp", "action", "portal", "outcome",
                                            "details", "entry_hash", "trail_head"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(reversed(populated))
    newest = body[0]
    assert newest[2:6] == ["settings_change", "", "info", "ratelimit.per_minute 100 -> 50"]
    assert dt.datetime.fromisoformat(newest[1]) == NOW
    assert body[-1][2:6] == ["connect", "1", "success", "Connected Acme Corp"]
    assert _mode(path) == 0o600
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_export_is_itself_audited(audit, populated, tmp_path):
    path = tmp_path / "audit.csv"
    audit.export_csv(path, AuditQuery(action="sync"))
    assert len(_read_csv(path)) == 1 + 2
    last = audit.entries(AuditQuery(limit=1))[0]
    assert last.action == "export"
    assert last.outcome == "success"
    details = json.loads(last.details)
    assert details["rows"] == 2
    assert details["file"] == str(path)


def test_export_with_audit_disabled_still_writes(make_audit, tmp_path):
    audit = make_audit({"WG_FEATURES_AUDIT_LOGGING": "0"})
    AuditEvent.create(action="sync", details="older entry")
    path = tmp_path / "audit.csv"
    assert audit.export_csv(path) == 1
    assert len(_read_csv(path)) == 2
    assert AuditEvent.select().count() == 1


@pytest.mark.parametrize("details", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3",
                                     "@SUM(A1:A2)", "=cmd|' /C calc'!A0"])
def test_export_guards_against_formula_injection(audit, tmp_path, details):
    audit.record(AuditAction.IMPORT, details=details)
    path = tmp_path / "audit.csv"
    audit.export_csv(path)
    exported = _read_csv(path)[1][5]
    assert exported == "'" + details


@pytest.mark.parametrize("details", ["plain text", "a=b", "", "'quoted", "1+1", "line1\nline2",
                                     'has "quotes", and commas'])
def test_export_leaves_ordinary_details_alone(audit, tmp_path, details):
    audit.record(AuditAction.IMPORT, details=details)
    path = tmp_path / "audit.csv"
    audit.export_csv(path)
    assert _read_csv(path)[1][5] == details


def test_export_carries_each_entry_hash_and_the_trail_head(audit, tmp_path):
    first = audit.record(AuditAction.SYNC, details="first")
    second = audit.record(AuditAction.CONNECT, details="second")
    path = tmp_path / "audit.csv"
    audit.export_csv(path, AuditQuery(action="sync"))      # a filter keeps the whole head
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [(r["id"], r["entry_hash"], r["trail_head"]) for r in rows] == [
        (str(first.id), first.entry_hash, second.entry_hash)]
    assert len(second.entry_hash) == 64
    export_entry = AuditEvent.get_by_id(audit.entries(AuditQuery(limit=1))[0].id)
    assert export_entry.action == "export"
    assert export_entry.prev_hash == rows[0]["trail_head"]     # the export links to its head


def test_to_csv_of_nothing_is_just_the_header():
    assert list(csv.reader(io.StringIO(to_csv([])))) == [list(CSV_COLUMNS)]


def test_export_overwrites_atomically(audit, tmp_path):
    path = tmp_path / "audit.csv"
    path.write_text("old export that is quite long " * 100)
    path.chmod(0o644)
    audit.record(AuditAction.SYNC, details="only one")
    audit.export_csv(path)
    rows = _read_csv(path)
    assert len(rows) == 2 and rows[1][5] == "only one"
    assert _mode(path) == 0o600


def test_readable_details_turn_json_into_words():
    from wg_desktop.services.audit import readable_details

    assert readable_details('{"skipped": ["a", "b"], "rows": 3, "ok": true, "x": null}') == \
        "skipped: a, b · rows: 3 · ok: yes"
    assert readable_details('{"nested": {"k": "\\u2013"}}') == 'nested: {"k": "–"}'
    assert readable_details("not json {") == "not json {"
    assert readable_details("[1, 2]") == "[1, 2]"
