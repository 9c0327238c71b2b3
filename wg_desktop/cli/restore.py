"""``wg-desktop restore WORKFLOW VERSION``: print the restore plan; apply it
only with ``--yes``; then print the result and the command that undoes it."""

from __future__ import annotations

import argparse
import sys

from wg_desktop.cli.base import CliEnv, emit_json, error_line, exit_code_for
from wg_desktop.services.restore import (RestoreConflict, RestoreError, RestorePlan,
                                         RestoreResult, RestoreService)


def _service(env: CliEnv) -> RestoreService:
    ctx = env.context()
    hub = env.hubspot()
    return RestoreService(ctx.store, ctx.audit, hub.clients, ctx.settings)


def _undo_command(result: RestoreResult) -> str | None:
    if result.undo_number is None:
        return None
    return (f"wg-desktop restore {result.flow_id} {result.undo_number} "
            f"--portal {result.plan.hub_id} --yes")


def _fail(env: CliEnv, exc: RestoreError, plan: RestorePlan | None, as_json: bool) -> int:
    """One line on stderr; with --json the plan (or the conflict's fresh plan) on stdout."""
    if as_json:
        fresh = exc.plan if isinstance(exc, RestoreConflict) else plan
        emit_json({"applied": False, "error": str(exc),
                   "plan": fresh.to_dict() if fresh is not None else None})
    elif isinstance(exc, RestoreConflict):
        print("The workflow changed in HubSpot; the plan now reads:")
        print(exc.plan.summary_text(), end="")
    registry = env._context.registry if env._context is not None else None
    print(error_line(exc, registry), file=sys.stderr)
    # The cause decides: a reconnect (3), busy (4), anything else failed (1).
    return int(exit_code_for(exc))


def cmd_restore(args: argparse.Namespace, env: CliEnv) -> int:
    service = _service(env)
    workflow = service.find(args.workflow, args.portal)
    plan = None
    try:
        plan = service.plan_restore(workflow, args.version, as_disabled=args.disabled)
        if not args.yes or not plan.can_apply:
            if args.json:
                emit_json({"applied": False, "plan": plan.to_dict()})
            else:
                print(plan.summary_text(), end="")
            if not plan.can_apply:
                raise RestoreError(f"Cannot restore '{plan.workflow_name}': {plan.refusal}. "
                                   "Nothing was changed.")
            if not args.json:
                print("Nothing was changed; add --yes to apply this plan.")
            return 0
        if not args.json:
            print(plan.summary_text(), end="")
        result = service.apply_restore(plan, as_disabled=args.disabled)
    except RestoreError as exc:
        return _fail(env, exc, plan, args.json)
    undo = _undo_command(result)
    if args.json:
        emit_json({"applied": True, "plan": plan.to_dict(), "result": result.to_dict(),
                   "undo": undo})
        return 0
    print(result.summary())
    if undo is not None:
        print(f"To undo: {undo}")
    else:
        print(f"To undo: delete flow {result.flow_id} in HubSpot (it did not exist before).")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "restore", help="restore a stored version to HubSpot (prints the plan; --yes applies)",
        description="Restore a workflow to a stored version. Always prints the plan first: "
                    "what changes from the live workflow, and warnings (references that may "
                    "no longer exist, fields HubSpot does not accept, a deleted workflow that "
                    "will be recreated with a new id). Applies only with --yes; the live "
                    "version is stored first, so the restore can be undone with the command "
                    "it prints. Exits 1 when HubSpot changed the workflow since the plan "
                    "(nothing is sent) or refused it, 3 when the portal needs a reconnect.")
    parser.add_argument("workflow", help="flow id or exact name (also an id it had before "
                                         "a restore recreated it)")
    parser.add_argument("version", help="version number as 'history' prints it (1 = oldest)")
    parser.add_argument("--portal", type=int, metavar="HUB_ID",
                        help="the portal, when the same flow id is stored for several")
    parser.add_argument("--disabled", action="store_true",
                        help="restore as turned off (the workflow does not enroll)")
    parser.add_argument("--yes", action="store_true", help="apply the plan (confirmation)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=cmd_restore)
