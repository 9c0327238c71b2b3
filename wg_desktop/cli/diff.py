"""CLI commands that read what changed: ``diff`` (two versions of a workflow,
or two workflows, across portals, or a version with a workflow in a file, or
a version with what is live in HubSpot now) and ``describe`` (a version in
words). Only ``diff --live`` reaches HubSpot; everything else reads the local
store (and the file) and works offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wg_desktop.cli.base import CliEnv, CliError, ExitCode, emit_json
from wg_desktop.flows.diff import diff_flows, unified_lines
from wg_desktop.flows.words import readable_lines, readable_text
from wg_desktop.services.compare import (LIVE_LABEL, ComparedSide, CompareService, Comparison,
                                         WorkflowSide, compare_with_file, compare_workflows,
                                         stored_side)
from wg_desktop.services.compare_file import FileWorkflowChoiceNeeded
from wg_desktop.services.portals import find_portal
from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries
from wg_desktop.store.models import Workflow

DIFFERENCES_FOUND = 1       # only with --exit-code, as git diff does


def _queries(env: CliEnv) -> WorkflowQueries:
    ctx = env.context()
    return WorkflowQueries(ctx.store, ctx.audit)


def _find(queries: WorkflowQueries, ref: str, hub_id: int | None) -> Workflow:
    """WORKFLOW or PORTAL:WORKFLOW (PORTAL a hub id or a portal name). A name
    that merely contains a colon ('Lead nurture: Webinar') still works."""
    portal_ref, sep, rest = ref.partition(":")
    if sep and portal_ref.strip() and rest.strip():
        try:
            portal = find_portal(portal_ref)
        except LookupError:
            portal = None
        if portal is not None:
            return queries.find(rest, portal.hub_id)
    return queries.find(ref, hub_id)


def _versions(queries: WorkflowQueries, workflow: Workflow, refs: list[str]) -> Comparison:
    """V1 → V2 of one workflow (V2 defaults to the latest, V1 to the one before V2)."""
    if len(refs) > 2:
        raise CliError("diff takes at most two version numbers (V1 V2)")
    new_info, _ = queries.version(workflow, refs[1] if len(refs) == 2 else None)
    if refs:
        old_info, _ = queries.version(workflow, refs[0])
    else:
        count = len(queries.history(workflow))      # the latest is v{count}
        if count <= 1:
            raise WorkflowNotFound(f"'{workflow.name}' v{count} is its first version; "
                                   "nothing to compare it with.")
        old_info, _ = queries.version(workflow, count - 1)
    return compare_workflows(queries, WorkflowSide(workflow.id, old_info.id),
                             WorkflowSide(workflow.id, new_info.id))


def _live(env: CliEnv, queries: WorkflowQueries, workflow: Workflow, refs: list[str]
          ) -> Comparison:
    """The stored version → live now. Reaches HubSpot: a portal that needs a
    reconnect or an unreachable HubSpot raise the errors the CLI maps to its
    exit statuses (3, 1); a workflow deleted in HubSpot is one line (1)."""
    if len(refs) > 1:
        raise CliError("diff --live takes one version number (WORKFLOW [V] --live)")
    info, _ = queries.version(workflow, refs[0] if refs else None)
    stored = stored_side(queries, WorkflowSide(workflow.id, info.id))
    live = CompareService(env.hubspot().clients, queries).live(workflow.id)
    now = ComparedSide(f"{LIVE_LABEL} ({live.hub_id}:{live.flow_id}, revision "
                       f"{live.revision_id})", "live", dict(live.definition))
    return Comparison(stored, now, diff_flows(stored.definition, now.definition))


def _with_file(queries: WorkflowQueries, workflow: Workflow, refs: list[str],
               args: argparse.Namespace) -> Comparison:
    """The stored version (default: the latest) → the workflow in --file."""
    if len(refs) > 1:
        raise CliError("diff --file takes one version number (WORKFLOW [V] --file FILE)")
    version_id = queries.version(workflow, refs[0])[0].id if refs else None
    try:
        return compare_with_file(queries, WorkflowSide(workflow.id, version_id),
                                 Path(args.file), args.file_workflow)
    except FileWorkflowChoiceNeeded as exc:
        raise CliError(f"{exc}; choose one with --file-workflow NAME|ID: "
                       f"{exc.examples_text()}") from None


def _check_modes(args: argparse.Namespace) -> None:
    if args.live and args.file is not None:
        raise CliError("--live and --file cannot be combined: compare a version with what "
                       "HubSpot holds now, or with a file")
    if args.workflows and args.live:
        raise CliError("--live compares one workflow: WORKFLOW [V] --live, not --workflows")
    if args.workflows and args.file is not None:
        raise CliError("--file compares one workflow: WORKFLOW [V] --file FILE, not --workflows")
    if args.file_workflow is not None and args.file is None:
        raise CliError("--file-workflow chooses a workflow inside --file FILE")
    if args.workflows and args.refs:
        raise CliError("give either WORKFLOW [V1] [V2] or --workflows A B, not both")
    if not args.workflows and not args.refs:
        raise CliError("name a workflow: wg-desktop diff WORKFLOW [V1] [V2] "
                       "(or --workflows A B, or WORKFLOW [V] --file FILE)")


def cmd_diff(args: argparse.Namespace, env: CliEnv) -> int:
    _check_modes(args)
    queries = _queries(env)
    if args.workflows:
        old, new = (_find(queries, ref, args.portal) for ref in args.workflows)
        comparison = compare_workflows(queries, WorkflowSide(old.id), WorkflowSide(new.id))
    else:
        workflow = _find(queries, args.refs[0], args.portal)
        if args.file is not None:
            comparison = _with_file(queries, workflow, args.refs[1:], args)
        elif args.live:
            comparison = _live(env, queries, workflow, args.refs[1:])
        else:
            comparison = _versions(queries, workflow, args.refs[1:])
    _print(comparison, args)
    return (DIFFERENCES_FOUND if args.exit_code and not comparison.diff.identical
            else ExitCode.DONE)


def _print(comparison: Comparison, args: argparse.Namespace) -> None:
    old, new = comparison.old, comparison.new
    unified = (unified_lines(old.definition, new.definition, old_label=old.label,
                             new_label=new.label) if args.unified else None)
    if args.json:
        document = {"old": old.label, "new": new.label, **comparison.diff.to_dict()}
        if unified is not None:
            document["unified"] = unified
        emit_json(document)
        return
    if unified is not None:
        for line in unified:
            print(line)
        return
    print(f"{old.label} → {new.label}")
    sys.stdout.write(comparison.diff.summary_text())


def cmd_describe(args: argparse.Namespace, env: CliEnv) -> int:
    queries = _queries(env)
    workflow = _find(queries, args.workflow, args.portal)
    _, definition = queries.version(workflow, args.version)
    if args.json:
        emit_json([line.to_dict() for line in readable_lines(definition)])
    else:
        sys.stdout.write(readable_text(definition))
    return ExitCode.DONE


def register(sub: argparse._SubParsersAction) -> None:
    diff = sub.add_parser(
        "diff", help="what changed between two stored versions, two workflows, a stored "
                     "version and a file (offline), or a stored version and the live "
                     "workflow (--live)",
        description="Compare two versions of a workflow (V2 defaults to the latest, V1 to the "
                    "one before V2; numbers as 'history' prints them, 1 = oldest), or the "
                    "latest versions of two workflows with --workflows A B (each WORKFLOW or "
                    "PORTAL:WORKFLOW), or with --file a stored version (default: the latest) and "
                    "a workflow in a file (HubSpot's flow JSON, or an export of this app: the "
                    "one with the same flow id, or the one --file-workflow names), or with "
                    "--live a stored version and what HubSpot holds now. Exits 0 when the "
                    "comparison ran, differences or not; with --exit-code, 1 when they "
                    "differ. With --file, 1 when the file cannot be read as workflows and 2 "
                    "when it holds several and none is named. With --live, 3 when the portal "
                    "needs a reconnect and 1 when HubSpot cannot be read or the workflow was "
                    "deleted there.")
    diff.add_argument("refs", nargs="*", metavar="WORKFLOW [V1] [V2]",
                      help="flow id or exact name, then up to two version numbers")
    diff.add_argument("--workflows", nargs=2, metavar=("A", "B"),
                      help="compare the latest versions of two workflows")
    diff.add_argument("--portal", type=int, metavar="HUB_ID",
                      help="the portal, when the same flow id is stored for several")
    diff.add_argument("--live", action="store_true",
                      help="compare the version with the workflow as HubSpot holds it now "
                           "(reads HubSpot)")
    diff.add_argument("--file", metavar="FILE",
                      help="compare the version with a workflow in FILE: a flow as HubSpot's "
                           "API returns it, a list of flows, or an export zip of this app")
    diff.add_argument("--file-workflow", metavar="NAME|ID",
                      help="which workflow of FILE, when it holds several and none has the "
                           "stored workflow's flow id")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.add_argument("--unified", action="store_true",
                      help="a unified line diff of the canonical JSON")
    diff.add_argument("--exit-code", action="store_true",
                      help="exit 1 when the versions differ (as 'git diff --exit-code')")
    diff.set_defaults(handler=cmd_diff)

    describe = sub.add_parser("describe", help="a stored version in words: trigger, actions "
                                                "in order, settings (default: latest)")
    describe.add_argument("workflow", help="flow id or exact name (or PORTAL:WORKFLOW)")
    describe.add_argument("version", nargs="?", help="version number as 'history' prints it "
                                                     "(1 = oldest; default: the latest)")
    describe.add_argument("--portal", type=int, metavar="HUB_ID",
                          help="the portal, when the same flow id is stored for several")
    describe.add_argument("--json", action="store_true", help="the lines as JSON")
    describe.set_defaults(handler=cmd_describe)
