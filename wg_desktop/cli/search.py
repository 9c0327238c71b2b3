"""``wg-desktop search``: full-text search over every stored version (offline)."""

from __future__ import annotations

import argparse
import sys

from wg_desktop.cli.base import CliEnv, CliError, emit_json
from wg_desktop.services.search import SearchError, SearchHit, SearchService
from wg_desktop.store.search import DEFAULT_LIMIT, MAX_LIMIT


def _hit_json(hit: SearchHit) -> dict:
    snippet = hit.snippet
    return {"hub_id": hit.hub_id, "portal": hit.portal_name, "flow_id": hit.flow_id,
            "name": hit.workflow_name, "deleted": hit.workflow_deleted,
            "version": hit.version_number, "versions": hit.version_count,
            "version_id": hit.version_id, "captured_at": hit.captured_at.isoformat(),
            "origin": hit.origin,
            "where": snippet.path if snippet else None,
            "snippet": snippet.marked() if snippet else None,
            "text": snippet.text if snippet else None,
            "marks": [list(m) for m in snippet.marks] if snippet else []}


def _hit_line(hit: SearchHit) -> str:
    where = (f"{hit.snippet.path}: {hit.snippet.marked()}" if hit.snippet
             else "(this version cannot be decoded)")
    return (f"{hit.hub_id}  {hit.flow_id}  v{hit.version_number}  "
            f"{hit.captured_at.astimezone():%Y-%m-%d %H:%M}  {hit.workflow_name}  {where}")


def cmd_search(args: argparse.Namespace, env: CliEnv) -> int:
    service = SearchService(env.context().store)
    text = " ".join(args.text)
    if args.rebuild:
        if text:
            raise CliError("--rebuild takes no search text; run the search afterwards")
        result = service.rebuild()
        line = f"indexed {result.indexed} versions in {result.seconds:.1f} s"
        if result.unreadable:
            line += (f"; {len(result.unreadable)} could not be decoded and are left out "
                     "(run 'wg-desktop doctor')")
        print(line)
        return 0
    if not text.strip():
        raise CliError("give the text to search for (or --rebuild to rebuild the index)")
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CliError(f"--limit must be between 1 and {MAX_LIMIT}")
    try:
        hits = service.search(text, portal=args.portal, limit=args.limit)
    except SearchError as exc:
        raise CliError(str(exc)) from exc
    advice = service.status().advice()
    if advice:
        print(f"wg-desktop: warning: {advice}", file=sys.stderr)
    if args.json:
        emit_json([_hit_json(h) for h in hits])
    elif not hits:
        print("no matches")
    else:
        for hit in hits:
            print(_hit_line(hit))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    search = sub.add_parser(
        "search", help="find text in every stored version of every workflow (offline)",
        description="Every word must occur in the version; the last word may be the start "
                    "of a longer one. Quotes and operators are plain text. Newest first. "
                    "Put '--' before text that starts with '-'.")
    search.add_argument("text", nargs="*", help="words to find (names, property names, "
                                                "ids, URLs, code)")
    search.add_argument("--portal", type=int, metavar="HUB_ID", help="only this portal")
    search.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"at most N hits (default {DEFAULT_LIMIT})")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.add_argument("--rebuild", action="store_true",
                        help="rebuild the index from every stored version")
    search.set_defaults(handler=cmd_search)
