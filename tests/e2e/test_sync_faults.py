"""Sync and connect through a hostile network: the demo portal over loopback
HTTP cuts off successful bodies, answers 5xx and drops connections, and the
sync still ends with the store matching the server exactly."""

from __future__ import annotations

import time

import pytest

from tests.support.context import make_context
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import MalformedResponse
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.store.models import Workflow
from wg_desktop.store.normalize import canonical_bytes, normalize_flow
from wg_desktop.store.versions import latest_version, version_json

FAULTS = Faults(cut_off_rate=0.05, error_5xx_rate=0.2, drop_rate=0.05)


def test_sync_of_300_workflows_survives_cut_off_bodies_5xx_and_drops(ctx):
    with DemoPortal(DemoConfig(seed=45, workflows=300, burst_limit=10_000)) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
        try:
            hub_id = hub.connection.connect_private_app(
                demo.private_app_token(demo.portal_ids[0])).hub_id
            demo.set_faults(FAULTS)
            started = time.monotonic()
            result = hub.sync.sync(hub_id)
            elapsed = time.monotonic() - started
            faults_seen = {e.fault for e in demo.request_log() if e.fault}
        finally:
            hub.clients.close()

        assert result.listed == 300 and result.stored == 300 and not result.skipped
        # The fault draws are seeded and the sync sends its requests one by one,
        # so this seed always meets these faults; if a change to the sync's
        # requests moves them, choose another seed rather than drop the check.
        assert {"cut_off", "error_5xx", "drop"} <= faults_seen, faults_seen
        server_ids = set(demo.flow_ids(hub_id))
        live = {w.flow_id: w for w in Workflow.select().where(Workflow.deleted_at.is_null())}
        assert set(live) == server_ids and len(server_ids) == 300
        for flow_id, workflow in live.items():
            version = latest_version(workflow)
            server = demo.get_flow(hub_id, flow_id)
            assert workflow.revision_id == version.revision_id == str(server["revisionId"]), flow_id
            assert canonical_bytes(version_json(version)) == \
                canonical_bytes(normalize_flow(server)), flow_id
        assert elapsed < 20


def test_connect_validation_survives_cut_off_bodies_and_a_steady_one_is_reported(data_dir):
    context = make_context(data_dir, {"WG_HTTP_MAX_ATTEMPTS": "3"})   # fewer back-off waits
    try:
        with DemoPortal(DemoConfig(seed=46, workflows=5, burst_limit=10_000,
                                   faults=Faults(cut_off_rate=0.5))) as demo:
            hub = build_hubspot_services(context.settings, context.store, context.audit,
                                         context.secrets, demo=demo)
            try:
                hub_id = hub.connection.connect_private_app(
                    demo.private_app_token(demo.portal_ids[0])).hub_id
                assert "cut_off" in {e.fault for e in demo.request_log()}

                demo.set_faults(cut_off_rate=1.0)
                demo.clear_request_log()
                with pytest.raises(MalformedResponse, match="not valid JSON"):
                    api.list_flows_page(hub.clients.client(hub_id))
                attempts = demo.request_log()
                assert len(attempts) == 3
                assert all(e.status == 200 and e.fault == "cut_off" for e in attempts)
            finally:
                hub.clients.close()
    finally:
        context.close()
