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


def _hash_of(workflow_id: int, step: str) -> str:
    for info in history(workflow_id):
        if version_json(WorkflowVersion.get_by_id(info.id))["actions"][0]["fields"]["x"] == step:
            return info.content_hash
    raise AssertionError(step)


def test_the_confirmed_plan_is_merged_and_a_sync_in_between_adds_no_duplicate(ctx, monkeypatch):
    from wg_desktop.services import history_merge

    workflow = seed(ctx.store, ["alpha", "bravo", "charlie"])
    backup = BackupService.from_context(ctx).backup_now().path
    with ctx.store.writing():
        prune(list(WorkflowVersion.select().where(WorkflowVersion.workflow == workflow)
                   .order_by(WorkflowVersion.captured_at).limit(2)))
    with open_backup(ctx.paths, backup, secrets=ctx.secrets) as opened:
        backup_id = find_backup_workflow(opened.store, "Lead routing")
        plan = plan_history_merge(opened.store, ctx.store, backup_id)
        assert len(plan.missing) == 2
        # Syncs while the confirmation was open: one of the missing came back.
        seed(ctx.store, ["bravo", "delta"])
        monkeypatch.setattr(history_merge, "plan_history_merge",
                            lambda *args: pytest.fail("the confirmed plan is made again"))
        result = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                        backup_id, source=backup, plan=plan)
    assert result.added == 1 and result.total_versions == 4
    assert _steps(workflow.id) == ["alpha", "charlie", "bravo", "delta"]
    hashes = [info.content_hash for info in history(workflow.id)]
    assert len(hashes) == len(set(hashes))


def test_only_the_missing_versions_are_decoded_and_earlier_summaries_stay(ctx, monkeypatch):
    from wg_desktop.store import versions

    workflow = seed(ctx.store, ["alpha", "bravo", "charlie", "delta", "echo"])
    backup = BackupService.from_context(ctx).backup_now().path
    alpha, bravo, echo = (_hash_of(workflow.id, s) for s in ("alpha", "bravo", "echo"))
    with ctx.store.writing():
        prune(list(WorkflowVersion.select().where(WorkflowVersion.content_hash == bravo)))
        # Before the inserted version: a summary the merge has no reason to touch.
        WorkflowVersion.update(summary="kept").where(
            WorkflowVersion.content_hash == alpha).execute()
    decoded: list[str] = []
    real = versions.version_bytes
    monkeypatch.setattr(versions, "version_bytes", lambda version, keyframes=None: (
        decoded.append(version.content_hash) or real(version, keyframes)))
    with open_backup(ctx.paths, backup, secrets=ctx.secrets) as opened:
        backup_id = find_backup_workflow(opened.store, "Lead routing")
        plan = plan_history_merge(opened.store, ctx.store, backup_id)
        assert decoded == [bravo]                 # not the four the live store has
        assert plan.backup_versions == 5 and plan.live_versions == 4
        decoded.clear()
        result = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                        backup_id, source=backup, plan=plan)
    assert result.added == 1 and result.total_versions == 5
    # The newest once for the insert, then the timeline from the inserted
    # version's predecessor on: nothing decoded twice but the two ends.
    assert decoded.count(alpha) == 1 and decoded.count(echo) == 2
    assert len(decoded) == 6
    assert _steps(workflow.id) == ["alpha", "bravo", "charlie", "delta", "echo"]
    timeline = list(reversed(history(workflow.id)))
    assert timeline[0].summary == "kept"
    previous = version_json(WorkflowVersion.get_by_id(timeline[0].id))
    for info in timeline[1:]:
        current = version_json(WorkflowVersion.get_by_id(info.id))
        assert info.summary == version_summary(previous, current)
        previous = current
