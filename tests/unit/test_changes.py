"""The Changes feed: what a sync records (created, edited with its summary,
renamed, turned on/off, deleted, recreated, a first capture as one row), the
per-portal cap, --since parsing, and "changed since you last looked"."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.demo.server import DemoConfig, DemoPortal
from wg_desktop.services.changes import (BadSince, ChangeFeed, FeedKind, FeedRecord,
                                         cap_feed, change_label, parse_remote_time,
                                         parse_since, record_changes)
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.sync import ChangeKind
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.change_models import WorkflowChange
from wg_desktop.store.models import Workflow, utcnow
from wg_desktop.store.versions import latest_version


# -- pure ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, delta", [("30m", dt.timedelta(minutes=30)),
                                         ("12h", dt.timedelta(hours=12)),
                                         ("7d", dt.timedelta(days=7)),
                                         (" 2W ", dt.timedelta(weeks=2))])
def test_parse_since(text, delta):
    assert parse_since(text) == delta


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "-3d", "7 days", "1y"])
def test_parse_since_rejects(text):
    with pytest.raises(BadSince):
        parse_since(text)


@pytest.mark.parametrize("kind, renamed, turned, label", [
    ("created", None, None, "Created"), ("deleted", None, None, "Deleted"),
    ("edited", None, None, "Edited"), ("edited", "Old", None, "Renamed"),
    ("edited", None, "off", "Turned off"), ("edited", "Old", "on", "Renamed · Turned on"),
    ("recreated", None, None, "Recreated"), ("first_capture", None, None, "First capture"),
    ("something_new", None, None, "something_new")])
def test_change_label(kind, renamed, turned, label):
    assert change_label(kind, renamed, turned) == label


def test_parse_remote_time():
    assert parse_remote_time("2026-03-01T08:30:00.000Z") == \
        dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
    assert parse_remote_time("") is None and parse_remote_time("yesterday") is None


# -- against the demo portal -----------------------------------------------------------------

@pytest.fixture
def demo():
    with DemoPortal(DemoConfig(seed=73, workflows=8, burst_limit=10_000)) as portal:
        yield portal


@pytest.fixture
def hub(ctx, demo):
    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                      demo=demo)
    portal = services.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    yield services, portal.hub_id
    services.clients.close()


def put(demo, hub_id, flow_id, change):
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    change(body)
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


def remove(demo, hub_id, flow_id):
    answer = httpx.delete(f"{demo.base_url}/automation/v4/flows/{flow_id}",
                          headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 204


def test_a_first_capture_is_one_row(ctx, hub, demo):
    services, hub_id = hub
    result = services.sync.sync(hub_id)
    entries = ChangeFeed(ctx.store).entries(hub_id)
    assert [e.kind for e in entries] == [FeedKind.FIRST_CAPTURE]
    assert entries[0].summary == f"First capture: {result.stored} workflows stored"
    # The sync's own result still lists every workflow, with its summary.
    assert len(result.changes) == result.stored and all(c.summary for c in result.changes)


def test_each_change_is_recorded_with_its_summary(ctx, hub, demo):
    services, hub_id = hub
    services.sync.sync(hub_id)
    ids = demo.flow_ids(hub_id)
    renamed, switched, edited, deleted = ids[:4]
    was_on = demo.get_flow(hub_id, switched)["isEnabled"]
    old_name = demo.get_flow(hub_id, renamed)["name"]
    put(demo, hub_id, renamed, lambda b: b.update(name=b["name"] + " v2"))
    put(demo, hub_id, switched, lambda b: b.update(isEnabled=not was_on))
    put(demo, hub_id, edited, lambda b: b.update(description="edited in HubSpot"))
    remove(demo, hub_id, deleted)
    result = services.sync.sync(hub_id)

    feed = {e.flow_id: e for e in ChangeFeed(ctx.store).entries(hub_id)
            if e.kind != FeedKind.FIRST_CAPTURE}
    assert set(feed) == {renamed, switched, edited, deleted}
    assert feed[renamed].renamed_from == old_name and feed[renamed].label == "Renamed"
    assert feed[renamed].name == old_name + " v2"
    assert feed[switched].turned == ("off" if was_on else "on")
    assert feed[switched].label == f"Turned {'off' if was_on else 'on'}"
    assert feed[edited].label == "Edited" and feed[edited].renamed_from is None
    assert feed[deleted].kind == FeedKind.DELETED and feed[deleted].version_id is None
    for flow_id in (renamed, switched, edited):
        workflow = Workflow.get(Workflow.flow_id == flow_id)
        version = latest_version(workflow)
        assert feed[flow_id].version_id == version.id
        assert feed[flow_id].summary == version.summary and version.summary
    # The sync result carries the same facts.
    by_flow = {c.flow_id: c for c in result.changes}
    assert by_flow[renamed].renamed_from == old_name
    assert by_flow[deleted].kind is ChangeKind.DELETED
    assert by_flow[edited].summary == feed[edited].summary


def test_a_recreated_workflow_is_recorded(ctx, hub, demo):
    services, hub_id = hub
    services.sync.sync(hub_id)
    flow_id = demo.flow_ids(hub_id)[0]
    Workflow.update(deleted_at=utcnow()).where(Workflow.flow_id == flow_id).execute()
    services.sync.sync(hub_id)
    kinds = [e.kind for e in ChangeFeed(ctx.store).entries(hub_id) if e.flow_id == flow_id]
    assert kinds == [FeedKind.RECREATED]


def test_since_and_portal_filter_and_newest_first(ctx, hub):
    services, hub_id = hub
    old = utcnow() - dt.timedelta(days=10)
    with ctx.store.writing():
        record_changes(hub_id, [FeedRecord(FeedKind.CREATED, "1", "Old one")], old)
        record_changes(hub_id, [FeedRecord(FeedKind.DELETED, "2", "New one")])
        record_changes(999, [FeedRecord(FeedKind.CREATED, "3", "Elsewhere")])
    feed = ChangeFeed(ctx.store)
    assert [e.name for e in feed.entries(hub_id)] == ["New one", "Old one"]
    assert [e.name for e in feed.entries(hub_id, since=utcnow() - parse_since("7d"))] == \
        ["New one"]
    assert [e.name for e in feed.entries()][0] == "Elsewhere"
    assert [e.name for e in feed.entries(limit=1)] == ["Elsewhere"]


def test_the_feed_is_capped_per_portal(ctx):
    with ctx.store.writing():
        record_changes(5, [FeedRecord(FeedKind.CREATED, str(i), f"W{i}") for i in range(30)])
        record_changes(6, [FeedRecord(FeedKind.CREATED, "x", "Other")])
        assert cap_feed(5, keep=10) == 20
    names = [e.name for e in ChangeFeed(ctx.store).entries(5)]
    assert len(names) == 10 and "W29" in names and "W0" not in names
    assert WorkflowChange.select().where(WorkflowChange.portal_hub_id == 6).count() == 1


def test_changed_since_last_looked(ctx, hub, demo):
    services, hub_id = hub
    services.sync.sync(hub_id)
    feed, queries = ChangeFeed(ctx.store), WorkflowQueries(ctx.store, ctx.audit)
    first = feed.listing(queries, hub_id, look=True)
    assert first.last_looked is None                          # never looked: nothing marked
    assert not any(m.changed_since_look for m in first.marks.values())
    assert all(m.remote_updated is not None for m in first.marks.values())
    looked = feed.last_looked(hub_id)
    assert looked is not None

    flow_id, gone = demo.flow_ids(hub_id)[:2]
    put(demo, hub_id, flow_id, lambda b: b.update(description="changed after the look"))
    remove(demo, hub_id, gone)
    services.sync.sync(hub_id)
    second = feed.listing(queries, hub_id, look=True)
    assert second.last_looked == looked
    marked = {row.flow_id for row in second.rows if second.marks[row.id].changed_since_look}
    assert marked == {flow_id, gone}
    changed = Workflow.get(Workflow.flow_id == flow_id)
    assert second.marks[changed.id].remote_updated == \
        parse_remote_time(demo.get_flow(hub_id, flow_id)["updatedAt"])

    third = feed.listing(queries, hub_id, look=False)          # looked again: cleared
    assert not any(m.changed_since_look for m in third.marks.values())
    assert feed.last_looked(hub_id) > looked
