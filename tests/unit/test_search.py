"""Full-text search over the stored history: extraction, index upkeep on store,
prune, cap, retention and portal deletion, hostile queries, snippets, version
numbers, rebuild of a store made before the index existed."""

from __future__ import annotations

import copy
import datetime as dt
import os

import pytest

from wg_desktop.services.portals import PortalNotFound
from wg_desktop.services.search import SearchService
from wg_desktop.store import search as index
from wg_desktop.store import versions as vs
from wg_desktop.store.db import LATEST_VERSION, open_store
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def t(i: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=i)


def flow(name: str = "Welcome series EMEA", *, url: str = "https://hooks.example.com/erp/17",
         prop: str = "hs_lead_status", email: str = "123456789012",
         code_var: str = "leadScoreBoost") -> dict:
    return {"id": "501", "name": name, "isEnabled": True, "startActionId": "1",
            "customProperties": {"owner_team": "Marketing Ops"},
            "suppressionListIds": [4711],
            "actions": [
                {"actionId": "1", "type": "SINGLE_CONNECTION", "actionTypeId": "0-5",
                 "fields": {"property_name": prop,
                            "value": {"type": "STATIC_VALUE", "staticValue": "OPEN"}},
                 "connection": {"edgeType": "STANDARD", "nextActionId": "2"}},
                {"actionId": "2", "type": "SINGLE_CONNECTION", "actionTypeId": "0-4",
                 "fields": {"content_id": email},
                 "connection": {"edgeType": "STANDARD", "nextActionId": "3"}},
                {"actionId": "3", "type": "WEBHOOK", "webhookUrl": url, "method": "POST"},
                {"actionId": "4", "type": "CUSTOM_CODE", "runtime": "NODE20X",
                 "sourceCode": ("exports.main = async (event, callback) => {\n"
                                f"  const {code_var} = event.inputFields['score'] * 2;\n"
                                f"  callback({{ outputFields: {{ {code_var} }} }});\n}};\n")},
            ]}


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir / "s.db", os.urandom(32))
    yield store
    store.close()


@pytest.fixture
def portal(store):
    return Portal.create(hub_id=777, name="Acme")


def add(workflow: Workflow, definition: dict, i: int) -> WorkflowVersion:
    version = vs.add_version(workflow, definition, origin="sync", captured_at=t(i))
    assert version is not None
    return version


def hit_ids(query: str, **kw) -> list[int]:
    return [h.version_id for h in index.search(query, **kw)]


# -- extraction ------------------------------------------------------------------

def test_extraction_keeps_data_and_drops_schema_noise():
    texts = [text for _, text in index.extract_text(flow())]
    for wanted in ("Welcome series EMEA", "hs_lead_status", "123456789012",
                   "https://hooks.example.com/erp/17", "4711", "owner_team", "property_name"):
        assert wanted in texts, wanted
    assert any("leadScoreBoost" in text for text in texts)
    assert len(texts) == len(set(texts))                       # deduplicated
    assert "True" not in texts and "true" not in texts         # booleans are noise
    assert "webhookUrl" not in texts and "actions" not in texts  # schema keys
    paths = dict((text, path) for path, text in index.extract_text(flow()))
    assert paths["https://hooks.example.com/erp/17"] == "actions[actionId=3].webhookUrl"


# -- finding ---------------------------------------------------------------------

@pytest.mark.parametrize("query, field", [
    ("https://hooks.example.com/erp/17", "actions[actionId=3].webhookUrl"),
    ("hs_lead_status", "actions[actionId=1].fields.property_name"),
    ("123456789012", "actions[actionId=2].fields.content_id"),
    ("leadScoreBoost", "actions[actionId=4].sourceCode"),
    ("welcome series", "name"),
    ("4711", "suppressionListIds[0]"),
])
def test_search_finds_each_kind_of_field_and_says_where(portal, query, field):
    workflow = Workflow.create(portal=portal, flow_id="501", name="Welcome series EMEA")
    version = add(workflow, flow(), 0)
    other = Workflow.create(portal=portal, flow_id="502", name="Other")
    add(other, {"id": "502", "name": "Other", "actions": []}, 0)
    hits = index.search(query)
    assert [h.version_id for h in hits] == [version.id]
    hit = hits[0]
    assert (hit.hub_id, hit.portal_name, hit.flow_id, hit.workflow_name) == (
        777, "Acme", "501", "Welcome series EMEA")
    assert (hit.version_number, hit.version_count, hit.captured_at) == (1, 1, t(0))
    assert hit.snippet is not None and hit.snippet.path == field


def test_snippet_marks_the_match_and_the_prefix(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    add(workflow, flow(), 0)
    [hit] = index.search("hooks.example.com/erp")
    assert hit.snippet.marked() == "https://[hooks.example.com/erp]/17"
    [code] = index.search("leadScoreB")                     # last word: a prefix
    assert "[leadScoreBoost]" in code.snippet.marked()
    assert code.snippet.path == "actions[actionId=4].sourceCode"
    assert "\n" not in code.snippet.text
    [hit] = index.search("LEAD status")                      # case and inner words
    assert hit.snippet.marked() == "hs_[lead]_[status]"     # two words, two marks


def test_every_word_must_match_and_results_are_newest_first(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    v1 = add(workflow, flow(url="https://hooks.example.com/crm-sync/1"), 0)
    v2 = add(workflow, flow(url="https://hooks.example.com/billing/2"), 1)
    v3 = add(workflow, flow(url="https://hooks.example.com/billing/3"), 2)
    assert hit_ids("billing") == [v3.id, v2.id]
    assert hit_ids("hooks example") == [v3.id, v2.id, v1.id]
    assert hit_ids("billing crm") == []
    assert hit_ids("billing", limit=1) == [v3.id]
    assert [h.version_number for h in index.search("hooks")] == [3, 2, 1]


def test_version_numbers_follow_history_order_not_ids(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    newer = add(workflow, flow(code_var="alphaValue"), 5)
    older = add(workflow, flow(code_var="betaValue"), 1)       # imported later, captured earlier
    numbers = {h.version_id: h.version_number for h in index.search("callback")}
    history = vs.history(workflow)
    assert numbers == {v.id: len(history) - i for i, v in enumerate(history)}
    assert numbers == {older.id: 1, newer.id: 2}


def test_portal_filter(store, portal):
    other = Portal.create(hub_id=888, name="Beta")
    a = add(Workflow.create(portal=portal, flow_id="1"), flow(), 0)
    b = add(Workflow.create(portal=other, flow_id="1"), flow(), 0)
    assert hit_ids("hs_lead_status") == [b.id, a.id]
    assert hit_ids("hs_lead_status", portal=777) == [a.id]
    service = SearchService(store)
    assert [h.version_id for h in service.search("hs_lead_status", portal=888)] == [b.id]
    with pytest.raises(PortalNotFound):
        service.search("x", portal=999)


@pytest.mark.parametrize("query", [
    '"unbalanced', "NEAR(", "*", "a OR", "-x", "'", ")(", "AND", "OR NOT", "NEAR(a b, 2)",
    '"', "^", "col:term", "{body}: x", "hs_lead_status*", "+", "\\", "a\x00b", "   ", "",
    "…", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "leadScoreBoost OR", "-- drop table workflow_version;",
])
def test_hostile_queries_never_raise(portal, query):
    add(Workflow.create(portal=portal, flow_id="501"), flow(), 0)
    hits = index.search(query)
    assert isinstance(hits, list)
    # Operators are plain words: "a OR" only finds versions containing "or…".
    if query in ("*", "'", ")(", "", "   ", '"', "^", "+", "\\", "…"):
        assert hits == []


def test_operator_words_are_text_not_syntax(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    plain = add(workflow, flow(name="Leads NEAR churn"), 0)
    assert hit_ids("NEAR churn") == [plain.id]
    assert hit_ids("leads OR nothing") == []          # OR is a word that must occur
    assert hit_ids('"leads') == [plain.id]            # a stray quote is ignored
    assert hit_ids("-churn") == [plain.id]            # "-" is not NOT


def test_short_last_word_is_a_whole_word_not_a_prefix(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    v = add(workflow, flow(), 0)
    assert hit_ids("hs") == [v.id]            # the token "hs" exists
    assert hit_ids("ho") == []                # not a prefix of "hooks": too short
    assert hit_ids("hoo") == [v.id]


def test_limit_is_checked():
    with pytest.raises(index.SearchError):
        index.search("x", limit=0)


# -- keeping the index current --------------------------------------------------

def test_index_follows_the_cap(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    ids = [add(workflow, flow(code_var=f"var{i}x"), i).id for i in range(5)]
    assert vs.enforce_version_cap(workflow, 2) == 3
    assert hit_ids("callback") == ids[:2:-1]
    assert hit_ids("var0x") == [] and hit_ids("var4x") == [ids[4]]
    assert index.indexed_count() == 2
    # numbers are renumbered like history after the oldest went
    assert [h.version_number for h in index.search("callback")] == [2, 1]


def test_index_follows_retention_and_keeps_the_newest(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    old = add(workflow, flow(code_var="oldOne"), 0)
    new = add(workflow, flow(code_var="newOne"), 1)
    assert vs.purge_versions_older_than(t(10)) == 1            # the newest always stays
    assert hit_ids("oldOne") == [] and hit_ids("newOne") == [new.id]
    assert old.id not in hit_ids("callback")
    assert index.indexed_count() == 1                          # the row itself is gone


def test_pruning_a_keyframe_keeps_rebased_versions_findable(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    big = flow()
    big["actions"] += [{"actionId": str(i), "type": "SINGLE_CONNECTION",
                        "fields": {"value": f"filler {i} " * 20}} for i in range(5, 60)]
    versions = []
    for i in range(4):
        edited = copy.deepcopy(big)
        edited["name"] = f"Edition{i} flow"
        versions.append(add(workflow, edited, i))
    assert versions[1].encoding == vs.DELTA
    vs.prune([versions[0]])
    assert hit_ids("Edition0") == []
    for i in (1, 2, 3):
        [hit] = index.search(f"Edition{i}")
        assert hit.version_id == versions[i].id and hit.snippet.path == "name"


def test_deleting_a_portals_history_empties_its_part_of_the_index(store, portal):
    other = Portal.create(hub_id=888, name="Beta")
    add(Workflow.create(portal=portal, flow_id="1"), flow(), 0)
    kept = add(Workflow.create(portal=other, flow_id="1"), flow(), 0)
    # what ConnectionService.disconnect(keep_history=False) does
    with store.writing():
        Workflow.delete().where(Workflow.portal == portal).execute()
        portal.delete_instance(recursive=True)
    assert hit_ids("hs_lead_status") == [kept.id]
    assert index.indexed_count() == 1


def test_unchanged_definition_adds_nothing(portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    add(workflow, flow(), 0)
    assert vs.add_version(workflow, flow(), origin="sync", captured_at=t(1)) is None
    assert index.indexed_count() == 1


# -- rebuild -------------------------------------------------------------------------

def test_migration_builds_the_index_of_a_store_made_before_it(data_dir):
    key = os.urandom(32)
    path = data_dir / "old.db"
    old = open_store(path, key, target_version=4)
    assert not old.db.table_exists("version_search")
    portal = Portal.create(hub_id=5, name="Old")
    workflow = Workflow.create(portal=portal, flow_id="9", name="Legacy")
    # Stored the way schema 4 stored them: no index row is written.
    for i in range(3):
        data = vs.canonical_bytes(flow(code_var=f"legacy{i}z"))
        encoding, base_id, blob = vs._encode(workflow, data)
        WorkflowVersion.create(workflow=workflow, captured_at=t(i), origin="sync",
                               content_hash=vs.content_hash(data), raw_size=len(data),
                               body=blob, encoding=encoding, base_id=base_id)
    broken = WorkflowVersion.create(workflow=workflow, captured_at=t(9), origin="sync",
                                    content_hash="0" * 64, body=b"not zstd")
    old.close()

    store = open_store(path, key)
    try:
        assert store.schema_version() == LATEST_VERSION >= 5
        assert [h.version_number for h in index.search("legacy1z")] == [2]
        assert index.indexed_count() == 3                      # the damaged one is left out
        status = SearchService(store).status()
        assert (status.indexed, status.versions, status.complete) == (3, 4, False)
        assert "3 of 4" in status.advice()
        # the trigger came with the migration: deleting the broken row is clean
        with store.writing():
            WorkflowVersion.delete_by_id(broken.id)
        assert SearchService(store).status().complete
    finally:
        store.close()


def test_rebuild_restores_a_lost_index(store, portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    ids = [add(workflow, flow(code_var=f"rebuilt{i}q"), i).id for i in range(3)]
    store.db.execute_sql(f"INSERT INTO {index.TABLE} ({index.TABLE}) VALUES ('delete-all')")
    assert hit_ids("callback") == []
    service = SearchService(store)
    assert service.status().advice() is not None
    seen = []
    result = service.rebuild(progress=lambda done, total: seen.append((done, total)))
    assert (result.indexed, result.unreadable) == (3, ())
    assert seen[-1] == (3, 3)
    assert hit_ids("callback") == ids[::-1]
    assert service.status().complete


def test_rebuild_recreates_a_dropped_table_and_trigger(store, portal):
    workflow = Workflow.create(portal=portal, flow_id="501")
    add(workflow, flow(), 0)
    store.db.execute_sql(f"DROP TABLE {index.TABLE}")
    store.db.execute_sql(f"DROP TRIGGER IF EXISTS {index.TRIGGER}")
    with pytest.raises(index.SearchError, match="--rebuild"):
        index.search("hooks")
    assert SearchService(store).status().indexed == 0
    SearchService(store).rebuild()
    assert len(hit_ids("hooks")) == 1
    with store.writing():
        Workflow.delete().execute()
    assert index.indexed_count() == 0


def test_the_index_is_inside_the_encrypted_file(data_dir):
    key = os.urandom(32)
    path = data_dir / "enc.db"
    store = open_store(path, key)
    workflow = Workflow.create(portal=Portal.create(hub_id=1), flow_id="1")
    add(workflow, flow(url="https://secret-hook.example.org/zzqqxx"), 0)
    store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    raw = path.read_bytes()
    assert b"zzqqxx" not in raw and b"secret" not in raw and b"version_search" not in raw
    reopened = open_store(path, key)
    try:
        assert len(hit_ids("zzqqxx")) == 1
    finally:
        reopened.close()
