"""Restoring one workflow's history from a backup into the live store."""

from __future__ import annotations

import pytest

from tests.unit.test_backup_browse import seed
from wg_desktop.flows.diff import version_summary
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.backup_browse import open_backup
from wg_desktop.services.backups import BackupService
from wg_desktop.services.history_merge import (find_backup_workflow, merge_workflow_history,
                                               plan_history_merge)
from wg_desktop.services.search import SearchService
from wg_desktop.services.workflows import WorkflowNotFound
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion
from wg_desktop.store.versions import history, prune, version_json


def _steps(workflow_id: int) -> list[str]:
    return [version_json(WorkflowVersion.get_by_id(v.id))["actions"][0]["fields"]["x"]
            for v in reversed(history(workflow_id))]


def test_merge_adds_what_the_live_store_lost_and_keeps_its_newer_versions(ctx):
    workflow = seed(ctx.store, ["alpha", "bravo", "charlie"])
    backup = BackupService.from_context(ctx).backup_now().path
    # Retention-like loss of the two oldest, then a newer capture.
    with ctx.store.writing():
        oldest = list(WorkflowVersion.select().where(WorkflowVersion.workflow == workflow)
                      .order_by(WorkflowVersion.captured_at).limit(2))
        prune(oldest)
    seed(ctx.store, ["delta"])
    assert _steps(workflow.id) == ["charlie", "delta"]

    with open_backup(ctx.paths, backup, secrets=ctx.secrets) as opened:
        backup_id = find_backup_workflow(opened.store, "Lead routing")
        plan = plan_history_merge(opened.store, ctx.store, backup_id)
        assert len(plan.missing) == 2 and not plan.creates_workflow
        assert "2 of the backup's 3 versions" in plan.text()
        result = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                        backup_id, source=backup)
        assert result.added == 2 and result.total_versions == 4
        again = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                       backup_id, source=backup)
        assert again.added == 0 and "nothing to restore" in again.text()

    assert _steps(workflow.id) == ["alpha", "bravo", "charlie", "delta"]
    # Every summary describes the change from the version before it in time.
    timeline = list(reversed(history(workflow.id)))
    previous = None
    for info in timeline:
        current = version_json(WorkflowVersion.get_by_id(info.id))
        assert info.summary == version_summary(previous, current)
        previous = current
    # The restored versions are searchable at once.
    hits = SearchService(ctx.store).search("alpha")
    assert any(hit.workflow_id == workflow.id for hit in hits)
    entries = ctx.audit.entries(AuditQuery(action=AuditAction.BACKUP_RESTORE))
    assert len(entries) == 1 and '"versions_added": 2' in entries[0].details


def test_merge_recreates_a_workflow_and_portal_the_live_store_no_longer_has(ctx):
    seed(ctx.store, ["alpha", "bravo"], hub_id=555)
    backup = BackupService.from_context(ctx).backup_now().path
    with ctx.store.writing():
        Portal.delete().where(Portal.hub_id == 555).execute()
    with open_backup(ctx.paths, backup, secrets=ctx.secrets) as opened:
        backup_id = find_backup_workflow(opened.store, "77", 555)
        result = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                        backup_id, source=backup)
    assert result.plan.creates_portal and result.added == 2
    portal = Portal.get(Portal.hub_id == 555)
    assert portal.status == "disconnected"
    assert _steps(Workflow.get(Workflow.portal == portal).id) == ["alpha", "bravo"]


def test_an_unknown_workflow_is_one_clear_error(ctx):
    seed(ctx.store, ["alpha"])
    backup = BackupService.from_context(ctx).backup_now().path
    with open_backup(ctx.paths, backup, secrets=ctx.secrets) as opened:
        with pytest.raises(WorkflowNotFound, match="No stored workflow 'nope'"):
            find_backup_workflow(opened.store, "nope")
    assert len(history(Workflow.get().id)) == 1
