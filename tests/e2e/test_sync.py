"""Workflow sync end to end against the demo portal over loopback HTTP."""

from __future__ import annotations

import json

import pytest

from tests.support.context import make_context
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.store.normalize import canonical_bytes, normalize_flow
from wg_desktop.services.schedule import CancelToken, JobCancelled
from wg_desktop.services.sync import ChangeKind, SyncPaused, SyncService, describe_changes
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion
from wg_desktop.store.versions import history, latest_version, version_json


def setup(ctx, demo):
    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    portal = hub.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    return hub, SyncService(ctx.store, ctx.audit, hub.clients, ctx.settings), portal.hub_id


def assert_consistent(demo, hub_id):
    """The latest stored version of every live flow equals the server's flow."""
    server_ids = set(demo.flow_ids(hub_id))
    live = {w.flow_id: w for w in Workflow.select().where(Workflow.deleted_at.is_null())}
    assert set(live) == server_ids
    for flow_id, workflow in live.items():
        stored = version_json(latest_version(workflow))
        server = normalize_flow(demo.get_flow(hub_id, flow_id))
        assert canonical_bytes(stored) == canonical_bytes(server), flow_id


def api_calls(demo, kinds=("/automation/",)):
    return [e for e in demo.request_log() if any(k in e.path for k in kinds)]


def test_first_and_incremental_sync_use_few_calls_and_one_version_per_change(ctx):
    with DemoPortal(DemoConfig(seed=21, workflows=250, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        demo.clear_request_log()
        first = sync.sync(hub_id)
        assert first.listed == 250 and first.stored == 250
        assert len(api_calls(demo)) == 2 * 3          # 3 list pages + 3 batch reads
        assert_consistent(demo, hub_id)

        demo.clear_request_log()
        again = sync.sync(hub_id)
        assert again.stored == 0 and again.changes == []
        assert len(api_calls(demo)) == 3               # listing only

        changes = demo.drift_once(5)
        demo.clear_request_log()
        third = sync.sync(hub_id)
        real = {c.flow_id for c in changes}
        assert {c.flow_id for c in third.changes} == real
        assert len(api_calls(demo)) <= 3 + 1
        assert_consistent(demo, hub_id)
        for change in changes:
            workflow = Workflow.get_or_none(Workflow.flow_id == change.flow_id)
            if change.kind == "changed":
                assert len(history(workflow)) == 2
        hub.clients.close()


def test_deleted_and_recreated_flows_are_tracked(ctx):
    with DemoPortal(DemoConfig(seed=22, workflows=12, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        sync.sync(hub_id)
        victim = demo.flow_ids(hub_id)[0]
        body = demo.get_flow(hub_id, victim)
        import httpx
        token = demo.private_app_token(hub_id)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.delete(f"{demo.base_url}/automation/v4/flows/{victim}",
                            headers=headers).status_code == 204
        result = sync.sync(hub_id)
        assert [(c.kind, c.flow_id) for c in result.changes] == [(ChangeKind.DELETED, victim)]
        gone = Workflow.get(Workflow.flow_id == victim)
        assert gone.deleted_at is not None and len(history(gone)) == 1
        assert "deleted" in describe_changes(result.changes)
        # history stays browsable
        assert version_json(latest_version(gone))["name"] == body["name"]
        hub.clients.close()


def test_sync_with_faults_and_drift_stays_consistent(ctx):
    faults = Faults(error_5xx_rate=0.2, drop_rate=0.05)
    with DemoPortal(DemoConfig(seed=23, workflows=120, burst_limit=10_000,
                               faults=faults)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        sync.sync(hub_id)
        total_changes = 0
        for _ in range(3):
            changes = demo.drift_once(4)
            total_changes += sum(1 for c in changes if c.kind in ("changed", "disabled",
                                                                  "enabled"))
            result = sync.sync(hub_id)
            assert {c.flow_id for c in result.changes} >= {c.flow_id for c in changes
                                                          if c.kind == "changed"}
        assert_consistent(demo, hub_id)
        # exactly one stored version per real change, none for unchanged flows
        versions = WorkflowVersion.select().count()
        assert versions == Workflow.select().count() + total_changes
        hub.clients.close()


def test_cancel_leaves_whole_batches_and_the_next_sync_completes(ctx):
    with DemoPortal(DemoConfig(seed=24, workflows=300, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        cancel = CancelToken()
        seen = []

        def progress(p):
            seen.append(p)
            if p.phase == "storing":
                cancel.cancel()

        with pytest.raises(JobCancelled):
            sync.sync(hub_id, cancel=cancel, progress=progress)
        assert WorkflowVersion.select().count() == 100         # exactly one batch
        assert Workflow.select().count() == 100
        result = sync.sync(hub_id)
        assert result.stored == 200
        assert_consistent(demo, hub_id)
        hub.clients.close()


def test_portal_needing_reconnect_pauses_sync(ctx):
    with DemoPortal(DemoConfig(seed=25, workflows=3)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        Portal.update(status=PortalStatus.RECONNECT_NEEDED).execute()
        with pytest.raises(SyncPaused, match="reconnect"):
            sync.sync(hub_id)
        hub.clients.close()


def test_malformed_item_is_skipped_and_reported(ctx, monkeypatch):
    from wg_desktop.hubspot import api

    with DemoPortal(DemoConfig(seed=26, workflows=10, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        real = api.Flow.from_json
        bad = demo.flow_ids(hub_id)[3]

        def flaky(data, stale=False):
            if isinstance(data, dict) and data.get("id") == bad:
                data = {**data, "id": None}
            return real(data, stale)

        monkeypatch.setattr(api.Flow, "from_json", staticmethod(flaky))
        result = sync.sync(hub_id)
        assert result.stored == 9 and len(result.skipped) == 1
        summary = next(e for e in ctx.audit.entries() if e.action == "sync"
                       and "summary" in e.details)
        assert summary.outcome == "warning" and "1 skipped" in summary.details
        hub.clients.close()


def test_workflow_limit_is_reported_not_silent(data_dir):
    context = make_context(data_dir, {"WG_LIMITS_WORKFLOWS": "5"})
    try:
        with DemoPortal(DemoConfig(seed=27, workflows=8, burst_limit=10_000)) as demo:
            hub, sync, hub_id = setup(context, demo)
            result = sync.sync(hub_id)
            assert result.stored == 5 and result.untracked == 3
            assert "beyond the workflow limit" in result.summary()
            hub.clients.close()
    finally:
        context.close()


def test_html_in_names_and_unknown_fields_are_kept_verbatim(ctx):
    with DemoPortal(DemoConfig(seed=28, workflows=3, burst_limit=10_000,
                               strict_put_keys=False)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        import httpx
        headers = {"Authorization": f"Bearer {demo.private_app_token(hub_id)}"}
        created = httpx.post(f"{demo.base_url}/automation/v4/flows", headers=headers, json={
            "name": "<b>Bold</b> <script>alert(1)</script>", "type": "CONTACT_FLOW",
            "flowType": "WORKFLOW", "isEnabled": False, "objectTypeId": "0-1",
            "actions": [{"actionId": "1", "actionTypeId": "0-99999999", "actionTypeVersion": 0,
                         "type": "SINGLE_CONNECTION", "fields": {"mystery": [1, 2]}}]})
        assert created.status_code == 201, created.text
        sync.sync(hub_id)
        workflow = Workflow.get(Workflow.name.contains("<script>"))
        stored = version_json(latest_version(workflow))
        assert stored["actions"][0]["actionTypeId"] == "0-99999999"
        assert stored["actions"][0]["fields"] == {"mystery": [1, 2]}
        hub.clients.close()


def test_a_2_mb_workflow_syncs_and_reads_back(ctx):
    import httpx

    with DemoPortal(DemoConfig(seed=29, workflows=4, burst_limit=10_000,
                               strict_put_keys=False)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        headers = {"Authorization": f"Bearer {demo.private_app_token(hub_id)}"}
        actions = [{"actionId": str(i), "actionTypeId": "0-4", "actionTypeVersion": 0,
                    "type": "SINGLE_CONNECTION",
                    "fields": {"body": f"email {i} " + "lorem ipsum dolor sit amet " * 30}}
                   for i in range(1, 2500)]
        created = httpx.post(f"{demo.base_url}/automation/v4/flows", headers=headers, json={
            "name": "Huge nurture", "type": "CONTACT_FLOW", "flowType": "WORKFLOW",
            "isEnabled": False, "objectTypeId": "0-1", "actions": actions}, timeout=30)
        assert created.status_code == 201, created.text[:200]
        size = len(json.dumps(demo.get_flow(hub_id, created.json()["id"])))
        assert size > 2_000_000
        result = sync.sync(hub_id)
        assert result.stored == 5 and not result.skipped
        huge = Workflow.get(Workflow.name == "Huge nurture")
        version = latest_version(huge)
        assert version.raw_size > 2_000_000 and len(version.body) < version.raw_size / 10
        assert len(version_json(version)["actions"]) == 2499
        hub.clients.close()


def test_each_change_is_audited_but_a_first_capture_is_one_entry(ctx):
    with DemoPortal(DemoConfig(seed=30, workflows=40, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        before = ctx.audit.count()
        sync.sync(hub_id)
        assert ctx.audit.count() - before == 1           # the summary only
        changed = [c for c in demo.drift_once(3)]
        before = ctx.audit.count()
        result = sync.sync(hub_id)
        assert ctx.audit.count() - before == 1 + len(result.changes)
        per_change = [e for e in ctx.audit.entries() if '"change"' in e.details]
        assert {json.loads(e.details)["flow_id"] for e in per_change} == \
            {c.flow_id for c in result.changes}
        assert changed
        hub.clients.close()


def test_a_sync_that_stops_part_way_says_how_far_and_the_next_resumes(ctx, monkeypatch):
    from wg_desktop.hubspot import api
    from wg_desktop.hubspot.errors import ServerError
    from wg_desktop.services.sync import SyncFailed

    with DemoPortal(DemoConfig(seed=24, workflows=300, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        real_batch_read = api.read_flow_batch
        calls = []

        def failing_second_batch(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise ServerError("HTTP 503", status=503)
            return real_batch_read(*args, **kwargs)

        monkeypatch.setattr(api, "read_flow_batch", failing_second_batch)
        with pytest.raises(SyncFailed) as failed:
            sync.sync(hub_id)
        assert "100 of 300 changed workflows were stored" in str(failed.value)
        assert failed.value.result.fetched == 100
        assert Workflow.select().count() == 100
        monkeypatch.setattr(api, "read_flow_batch", real_batch_read)
        demo.clear_request_log()
        resumed = sync.sync(hub_id)
        assert resumed.changed == 200 and resumed.stored == 200
        assert len(api_calls(demo, ("/batch/read",))) == 2      # the rest, not all 300
        assert_consistent(demo, hub_id)
        hub.clients.close()


def test_the_background_sync_skips_a_portal_another_process_is_syncing(ctx):
    from wg_desktop.instance import sync_lock_path
    from wg_desktop.portable import FileLock

    with DemoPortal(DemoConfig(seed=25, workflows=5, burst_limit=10_000)) as demo:
        hub, sync, hub_id = setup(ctx, demo)
        portal = Portal.get(Portal.hub_id == hub_id)
        with FileLock(sync_lock_path(ctx.paths.data_dir, hub_id)):   # "the other process"
            summary = sync.sync_all([portal])
        assert "skipped" in summary and "already running" in summary
        assert Workflow.select().count() == 0
        assert "5 workflows listed" in sync.sync_all([portal])
        hub.clients.close()
