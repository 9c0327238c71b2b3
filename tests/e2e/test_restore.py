"""Safe restore end to end against the demo portal over loopback HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.context import make_context

from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import ClientError
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.restore import (ORIGIN_PRE_RESTORE, ORIGIN_RESTORE, PUT_OPTIONAL,
                                         PUT_REQUIRED, READ_ONLY_KEYS, RestoreConflict,
                                         RestoreError, RestoreMode, RestoreRefused,
                                         RestoreService, WarningKind)
from wg_desktop.services.restore_refs import DanglingReason, RefKind
from wg_desktop.services.sync import PortalNeedsReconnect, SyncService
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion
from wg_desktop.store.normalize import canonical_bytes, normalize_flow
from wg_desktop.store.versions import add_version, history, latest_version, version_json


def setup(ctx, demo):
    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    portal = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    sync = SyncService(ctx.store, ctx.audit, hub.clients, ctx.settings)
    restore = RestoreService(ctx.store, ctx.audit, hub.clients, ctx.settings)
    return hub, sync, restore, portal.hub_id


def edit(demo, hub_id, flow_id, change):
    """Change a flow in HubSpot as a person in the editor would (one PUT)."""
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    change(body)
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def delete(demo, hub_id, flow_id):
    answer = httpx.delete(f"{demo.base_url}/automation/v4/flows/{flow_id}",
                          headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 204


def comparable(flow):
    """What a restore brings back: the definition without HubSpot's read-only keys."""
    return canonical_bytes({k: v for k, v in normalize_flow(flow).items()
                            if k not in READ_ONLY_KEYS})


def contact_flow(demo, hub_id, *, enabled=None, besides=()):
    for flow_id in demo.flow_ids(hub_id):
        if flow_id in besides:
            continue
        flow = demo.get_flow(hub_id, flow_id)
        if flow["objectTypeId"] == "0-1" and len(flow["actions"]) >= 2 and \
                (enabled is None or flow["isEnabled"] == enabled):
            return flow_id
    raise AssertionError("no suitable contact flow in the demo portal")


def rename_and_trim(body):
    body["name"] = body["name"] + " (edited)"
    body["description"] = "edited after version 1"


def puts(demo):
    return [e for e in demo.request_log() if e.method == "PUT"]


def restore_audits(ctx):
    return ctx.audit.entries(AuditQuery(action=str(AuditAction.RESTORE)))


@pytest.fixture
def demo():
    with DemoPortal(DemoConfig(seed=91, workflows=15, burst_limit=10_000)) as portal:
        yield portal


def test_round_trip_restore_then_sync_yields_the_restored_content(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    original = demo.get_flow(hub_id, flow_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    assert len(history(workflow)) == 2

    plan = restore.plan_restore(workflow, 1)
    assert plan.mode is RestoreMode.UPDATE and plan.can_apply
    assert plan.live_revision_id == demo.get_flow(hub_id, flow_id)["revisionId"]
    assert plan.target_number == 1 and plan.version_count == 2
    assert "(edited)" in plan.diff.summary()          # the rename is undone
    result = restore.apply_restore(plan)

    live = demo.get_flow(hub_id, flow_id)
    assert comparable(live) == comparable(original)
    assert result.new_revision_id == live["revisionId"] != plan.live_revision_id
    assert not result.recreated and result.flow_id == flow_id
    # The live version was the latest stored one: the undo target is that version.
    assert result.undo_number == 2 and result.restore_number == 3
    assert [v.origin for v in history(workflow)][0] == ORIGIN_RESTORE

    again = sync.sync(hub_id)
    assert again.stored == 0 and again.changes == []
    stored = version_json(latest_version(workflow))
    assert canonical_bytes(stored) == canonical_bytes(normalize_flow(live))
    entry = restore_audits(ctx)[0]
    details = json.loads(entry.details)
    assert details["from_version"] == 1 and details["to_version"] == 3
    assert details["new_revision_id"] == live["revisionId"] and details["flow_id"] == flow_id
    hub.clients.close()


def test_put_carries_only_writable_fields(ctx, demo, monkeypatch):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    # The stored version does carry the read-only keys HubSpot refuses on PUT.
    assert {"id", "createdAt", "objectTypeId", "flowType"} <= set(
        version_json(latest_version(workflow)))
    sent = []
    real = api.update_flow

    def spy(client, fid, body, revision_id, **opts):
        sent.append(dict(body))
        return real(client, fid, body, revision_id, **opts)

    monkeypatch.setattr(api, "update_flow", spy)
    restore.apply_restore(restore.plan_restore(workflow, 1))
    assert len(sent) == 1
    accepted = set(PUT_REQUIRED["CONTACT_FLOW"]) | set(PUT_OPTIONAL["CONTACT_FLOW"])
    assert set(sent[0]) <= accepted
    assert not set(sent[0]) & (READ_ONLY_KEYS - {"revisionId"})
    assert [e.status for e in puts(demo)] == [200, 200]     # the edit, then the restore
    # The demo is strict (as HubSpot is): the same PUT with its id is refused.
    with pytest.raises(ClientError) as refused:
        real(hub.clients.client(hub_id), flow_id, {**sent[0], "id": flow_id},
             demo.get_flow(hub_id, flow_id)["revisionId"], strip_read_only=False)
    assert refused.value.status == 400
    hub.clients.close()


def test_conflict_between_plan_and_apply_sends_nothing(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 1)
    drifted = edit(demo, hub_id, flow_id, lambda b: b.update(description="someone else"))
    versions_before = WorkflowVersion.select().count()
    demo.clear_request_log()
    with pytest.raises(RestoreConflict) as caught:
        restore.apply_restore(plan)
    assert puts(demo) == []
    assert demo.get_flow(hub_id, flow_id) == drifted
    assert WorkflowVersion.select().count() == versions_before
    assert restore_audits(ctx) == []
    conflict = caught.value
    assert conflict.plan.live_revision_id == drifted["revisionId"]
    assert "someone else" in json.dumps(conflict.drift.to_dict())
    assert not conflict.diff.identical
    # The fresh plan carried by the conflict applies.
    restore.apply_restore(conflict.plan)
    assert demo.get_flow(hub_id, flow_id)["description"] != "someone else"
    hub.clients.close()


def test_hubspot_409_on_the_put_is_a_conflict(ctx, demo, monkeypatch):
    """A save that lands between the apply's own read and its PUT."""
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 1)
    real_update = api.update_flow

    def racing(client, fid, body, revision_id, **opts):
        edit(demo, hub_id, flow_id, lambda b: b.update(description="raced"))
        return real_update(client, fid, body, revision_id, **opts)

    monkeypatch.setattr(api, "update_flow", racing)
    with pytest.raises(RestoreConflict, match="changed in HubSpot"):
        restore.apply_restore(plan)
    assert [e.status for e in puts(demo)][-2:] == [200, 409]
    assert demo.get_flow(hub_id, flow_id)["description"] == "raced"
    assert restore_audits(ctx) == []
    hub.clients.close()


def test_deleted_workflow_is_recreated_with_the_mapping_kept(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    original = demo.get_flow(hub_id, flow_id)
    delete(demo, hub_id, flow_id)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    assert workflow.deleted_at is not None

    plan = restore.plan_restore(workflow, 1)
    assert plan.mode is RestoreMode.RECREATE and plan.live_revision_id is None
    assert WarningKind.RECREATE in {w.kind for w in plan.warnings}
    result = restore.apply_restore(plan)
    assert result.recreated and result.old_flow_id == flow_id != result.flow_id
    assert result.flow_id in demo.flow_ids(hub_id) and flow_id not in demo.flow_ids(hub_id)
    assert comparable({**demo.get_flow(hub_id, result.flow_id), "uuid": None}) == \
        comparable({**original, "uuid": None})

    workflow = Workflow.get_by_id(workflow.id)
    assert workflow.flow_id == result.flow_id and workflow.deleted_at is None
    assert [v.origin for v in history(workflow)] == [ORIGIN_RESTORE, "sync"]
    assert restore.recreated_as(hub_id, flow_id) == result.flow_id
    assert restore.find(flow_id).id == workflow.id
    details = json.loads(restore_audits(ctx)[0].details)
    assert (details["old_flow_id"], details["new_flow_id"]) == (flow_id, result.flow_id)
    assert f"Recreated as flow {result.flow_id} (was {flow_id})" in result.summary()
    # The next sync sees the recreated flow as the same workflow, unchanged.
    after = sync.sync(hub_id)
    assert after.changes == [] and Workflow.select().count() == len(demo.flow_ids(hub_id))
    with pytest.raises(RestoreRefused, match="delete that flow"):
        restore.plan_undo(result)
    hub.clients.close()


def test_restore_as_turned_off(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id, enabled=False)
    edit(demo, hub_id, flow_id, lambda b: b.update(isEnabled=True))
    sync.sync(hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 2)         # the turned-on version
    assert plan.body["isEnabled"] is True
    result = restore.apply_restore(plan, as_disabled=True)
    live = demo.get_flow(hub_id, flow_id)
    assert live["isEnabled"] is False and not result.is_enabled
    assert version_json(latest_version(workflow))["isEnabled"] is False
    assert json.loads(restore_audits(ctx)[0].details)["as_disabled"] is True
    # Planned as turned off from the start, the diff says so too.
    off = restore.plan_restore(workflow, 2, as_disabled=True)
    assert off.body["isEnabled"] is False
    hub.clients.close()


def test_restore_warns_when_it_would_turn_the_workflow_on(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id, enabled=False)
    edit(demo, hub_id, flow_id, lambda b: b.update(isEnabled=True))
    sync.sync(hub_id)
    edit(demo, hub_id, flow_id, lambda b: b.update(isEnabled=False))
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    assert WarningKind.TURNS_ON in {w.kind for w in restore.plan_restore(workflow, 2).warnings}
    assert WarningKind.TURNS_ON not in {
        w.kind for w in restore.plan_restore(workflow, 2, as_disabled=True).warnings}
    hub.clients.close()


def test_undo_of_a_restore(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    # A change the store has not seen yet: the restore must capture it first.
    edit(demo, hub_id, flow_id, lambda b: b.update(description="unsynced change"))
    before = demo.get_flow(hub_id, flow_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    result = restore.apply_restore(restore.plan_restore(workflow, 1))
    origins = [v.origin for v in history(workflow)]
    assert origins[:2] == [ORIGIN_RESTORE, ORIGIN_PRE_RESTORE]
    assert result.undo_number == 3
    assert comparable(version_json(WorkflowVersion.get_by_id(result.undo_version_id))) == \
        comparable(before)

    undo = restore.plan_undo(result)
    assert undo.target_number == 3 and undo.live_revision_id == result.new_revision_id
    restore.apply_restore(undo)
    assert comparable(demo.get_flow(hub_id, flow_id)) == comparable(before)
    assert len(restore_audits(ctx)) == 2
    hub.clients.close()


def test_dangling_references_are_warned(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    other = contact_flow(demo, hub_id, besides=(flow_id,))
    shared_list = "777001"

    def add_references(body):
        top = max(int(a["actionId"]) for a in body["actions"])
        body["actions"].append({"type": "SINGLE_CONNECTION", "actionId": str(top + 1),
                                "actionTypeVersion": 0, "actionTypeId": "0-63809083",
                                "fields": {"listId": "999001"}})
        body["actions"].append({"type": "SINGLE_CONNECTION", "actionId": str(top + 2),
                                "actionTypeVersion": 0, "actionTypeId": "0-63809083",
                                "fields": {"listId": shared_list}})
        body["unEnrollmentSetting"] = {"type": "SELECTIVE", "flowIds": [other]}

    edit(demo, hub_id, flow_id, add_references)
    edit(demo, hub_id, other, lambda b: b.update(suppressionListIds=[int(shared_list)]))
    sync.sync(hub_id)
    edit(demo, hub_id, flow_id, lambda b: (b["actions"].__setitem__(
        slice(None), [a for a in b["actions"] if a.get("actionTypeId") != "0-63809083"
                      or a["fields"].get("listId") not in ("999001", shared_list)]),
        b.pop("unEnrollmentSetting")))
    delete(demo, hub_id, other)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 2)
    dangling = {(w.reference.reference.kind, w.reference.reference.value):
                w.reference.reason for w in plan.warnings if w.kind is WarningKind.DANGLING}
    assert dangling[(RefKind.LIST, "999001")] is DanglingReason.NOT_SEEN
    assert dangling[(RefKind.WORKFLOW, other)] is DanglingReason.DELETED
    # The shared list was only used by the workflow deleted since: not vouched for either.
    assert (RefKind.LIST, shared_list) in dangling
    texts = " ".join(w.text for w in plan.warnings)
    assert "List 999001 could not be confirmed" in texts
    assert f"Workflow {other} was deleted" in texts
    # Version 1 refers to nothing gone: no dangling warning for the lists above.
    first = restore.plan_restore(workflow, 1)
    assert not {w.reference.reference.value for w in first.warnings
                if w.kind is WarningKind.DANGLING} & {"999001", shared_list, other}
    hub.clients.close()


def test_type_change_is_refused_and_nothing_is_sent(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    stored = version_json(latest_version(workflow))
    with ctx.store.writing():
        add_version(workflow, {**stored, "objectTypeId": "0-3", "type": "PLATFORM_FLOW"},
                    origin="sync")
    plan = restore.plan_restore(workflow, 2)
    assert not plan.can_apply and "object type changed" in plan.refusal
    assert "Cannot restore" in plan.summary_text()
    demo.clear_request_log()
    with pytest.raises(RestoreRefused, match="object type changed"):
        restore.apply_restore(plan)
    assert demo.request_log() == [] and restore_audits(ctx) == []
    hub.clients.close()


def test_portal_needing_reconnect_is_one_clear_error(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 1)
    Portal.update(status=PortalStatus.RECONNECT_NEEDED).execute()
    live = demo.get_flow(hub_id, flow_id)
    versions = WorkflowVersion.select().count()
    demo.clear_request_log()
    for attempt in (lambda: restore.plan_restore(workflow, 1),
                    lambda: restore.apply_restore(plan)):
        with pytest.raises(RestoreError, match="needs a reconnect") as caught:
            attempt()
        assert isinstance(caught.value.__cause__, PortalNeedsReconnect)
    assert demo.request_log() == [] and demo.get_flow(hub_id, flow_id) == live
    assert WorkflowVersion.select().count() == versions and restore_audits(ctx) == []
    hub.clients.close()


def test_hubspot_refusing_the_token_mid_restore_changes_nothing(ctx, demo):
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 1)
    live = demo.get_flow(hub_id, flow_id)
    demo.set_faults(Faults(unauthorized_rate=1.0))
    with pytest.raises(RestoreError, match="reconnect"):
        restore.apply_restore(plan)
    demo.set_faults(Faults())
    assert demo.get_flow(hub_id, flow_id) == live and restore_audits(ctx) == []
    hub.clients.close()


def test_hubspot_offline_is_one_clear_error_and_nothing_changes(data_dir, demo):
    # One attempt per request: the test is about the outcome, not the retry waits.
    ctx = make_context(data_dir, {"WG_HTTP_MAX_ATTEMPTS": "1"})
    hub, sync, restore, hub_id = setup(ctx, demo)
    sync.sync(hub_id)
    flow_id = contact_flow(demo, hub_id)
    edit(demo, hub_id, flow_id, rename_and_trim)
    sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    plan = restore.plan_restore(workflow, 1)
    live = demo.get_flow(hub_id, flow_id)
    demo.set_faults(Faults(error_5xx_rate=1.0))
    with pytest.raises(RestoreError, match="Nothing was restored"):
        restore.apply_restore(plan)
    demo.set_faults(Faults())
    assert demo.get_flow(hub_id, flow_id) == live
    assert restore_audits(ctx) == [] and puts(demo)[-1].status == 200   # only the edit
    hub.clients.close()
    ctx.close()
