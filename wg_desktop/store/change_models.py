"""The Changes feed table (created by migration 8).

One row per workflow a sync found created, edited, deleted or recreated —
with the facts a later reader cannot recover from the versions alone: the
version's one-line summary copied at the time (versions are pruned by the
retention policy and the per-workflow cap, the feed outlives them), the name
it had before a rename, whether it was turned on or off, and the deletions
(a deleted workflow stores no version at all). A portal's first capture is
one row, not one per workflow. Bound to the same ``database_proxy`` as every
other model.
"""

from __future__ import annotations

import peewee as pw

from wg_desktop.store.models import BaseModel, UtcDateTimeField, Workflow, utcnow


class WorkflowChange(BaseModel):
    at = UtcDateTimeField(default=utcnow)                # when the sync stored it
    portal_hub_id = pw.BigIntegerField()
    # The store's row; the feed goes with it when the portal's data is removed.
    workflow = pw.ForeignKeyField(Workflow, null=True, on_delete="CASCADE")
    version_id = pw.IntegerField(null=True)              # the version stored (may be pruned)
    flow_id = pw.TextField(default="")
    name = pw.TextField(default="")
    kind = pw.TextField()                                # services.changes.FeedKind
    renamed_from = pw.TextField(null=True)               # the name before, when renamed
    turned = pw.TextField(null=True)                     # "on" | "off" when that flipped
    summary = pw.TextField(default="")

    class Meta:
        table_name = "workflow_change"
        indexes = ((("portal_hub_id", "at"), False),)


MIGRATION_8_MODELS = (WorkflowChange,)
