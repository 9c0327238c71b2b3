"""``wg-desktop backup restore FILE --workflow W [--portal P] [--yes]``: bring
one workflow's history back from a backup into the current store.

The backup is opened read-only beside the store (services/backup_browse.py);
the versions the store lacks are added and its own are kept
(services/history_merge.py). Without ``--yes`` it only says what it would add.
Unlike a whole-store restore it works while the window runs: it is one write
transaction, like a sync's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wg_desktop.cli.backup import find_in_backup, opened_backup
from wg_desktop.cli.base import CliEnv, CliError
from wg_desktop.services.history_merge import merge_workflow_history, plan_history_merge
from wg_desktop.services.portals import find_portal


def cmd_backup_restore_workflow(args: argparse.Namespace, env: CliEnv) -> int:
    path = Path(args.file)
    with opened_backup(env, path) as opened:
        ctx = env.context()
        hub_id = None
        if args.portal:
            with opened.store.session():
                hub_id = find_portal(args.portal).hub_id
        workflow_id = find_in_backup(opened, args.workflow, hub_id)
        if not args.yes:
            plan = plan_history_merge(opened.store, ctx.store, workflow_id)
            print(f"From the backup of {opened.created_at:%Y-%m-%d %H:%M:%S}Z: {plan.text()}")
            if plan.missing:
                raise CliError("nothing was restored: add --yes to go ahead")
            return 0
        result = merge_workflow_history(opened.store, ctx.store, ctx.audit, ctx.settings,
                                        workflow_id, source=path)
    print(result.text())
    return 0
