"""``wg-desktop changes``: the Changes feed — what each sync found (offline)."""

from __future__ import annotations

import argparse

from wg_desktop.cli.base import CliEnv, CliError, emit_json
from wg_desktop.services.changes import (DEFAULT_LIMIT, FEED_CAP, BadSince, ChangeEntry,
                                         ChangeFeed, parse_since)
from wg_desktop.store.models import utcnow


def _line(entry: ChangeEntry) -> str:
    what = entry.label
    if entry.renamed_from is not None:
        what += f" (was '{entry.renamed_from}')"
    name = f"'{entry.name}'" if entry.name else ""
    parts = [f"{entry.at.astimezone():%Y-%m-%d %H:%M}", str(entry.hub_id), entry.flow_id or "-",
             what, name]
    line = "  ".join(p for p in parts if p)
    if entry.summary:
        line += f": {entry.summary}"
    return line


def cmd_changes(args: argparse.Namespace, env: CliEnv) -> int:
    try:
        since = utcnow() - parse_since(args.since) if args.since else None
    except BadSince as exc:
        raise CliError(f"--since: {exc}") from exc
    if not 1 <= args.limit <= FEED_CAP:
        raise CliError(f"--limit must be between 1 and {FEED_CAP}")
    feed = ChangeFeed(env.context().store)
    entries = feed.entries(args.portal, since=since, limit=args.limit)
    if args.json:
        emit_json([e.to_dict() for e in entries])
    elif not entries:
        print("no changes" + (f" in the last {args.since}" if args.since else ""))
    else:
        for entry in entries:
            print(_line(entry))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "changes", help="what syncs found: workflows created, edited, deleted (offline)",
        description="The Changes feed, newest first: every workflow a sync found created, "
                    "edited (with what changed), renamed, turned on or off, deleted or "
                    "recreated. A portal's first sync is one line.")
    parser.add_argument("--portal", type=int, metavar="HUB_ID", help="only this portal")
    parser.add_argument("--since", metavar="AGE",
                        help="only changes newer than AGE, e.g. 30m, 12h, 7d, 2w")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"at most N changes (default {DEFAULT_LIMIT})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=cmd_changes)
