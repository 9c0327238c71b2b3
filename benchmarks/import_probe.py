"""Child process of bench_import: imports one file into a fresh store through
``WorkflowQueries.import_file`` (what ``wg-desktop import`` calls) and prints
one JSON line with the outcome and the process's peak RSS.

    python -m benchmarks.import_probe FILE DATA_DIR [--limit-mb N]

``--limit-mb`` caps the address space (RLIMIT_AS) so that measuring an
unbounded reader cannot take the machine down; hitting the cap is reported
as the outcome "memory cap hit".
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--limit-mb", type=int, default=0)
    args = parser.parse_args()
    if args.limit_mb:
        limit = args.limit_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    from wg_desktop.config import Settings
    from wg_desktop.services.audit import AuditLog
    from wg_desktop.services.workflows import ImportRejected, WorkflowQueries
    from wg_desktop.store.db import open_store

    store = open_store(args.data_dir / "import.db", b"\x07" * 32)
    queries = WorkflowQueries(store, AuditLog(store, Settings.load(None, {})))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    try:
        _, stored = queries.import_file(args.file)
        outcome, message = "imported", f"{stored} new versions"
    except ImportRejected as exc:
        outcome, message = "refused", str(exc)
    except MemoryError:
        outcome, message = "memory cap hit", f"MemoryError under a {args.limit_mb} MB cap"
    except Exception as exc:    # reported, not raised: the figure is the point
        outcome, message = "crashed", f"{type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.perf_counter() - started
    store.close()
    print(json.dumps({"outcome": outcome, "message": message, "seconds": seconds,
                      "baseline_mb": baseline, "peak_rss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    main()
