"""Run every benchmark: ``python -m benchmarks`` (or ``make bench``).

Each ``benchmarks/bench_*.py`` module exposes ``run() -> list[Result]``.
Results are printed as a table and written to ``benchmarks/results/latest.json``;
``docs/benchmarks.md`` holds the written-up figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from dataclasses import asdict
from pathlib import Path

from benchmarks.common import Result


def discover(selected: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="run only benchmarks whose module name contains this")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for name in discover(args.only):
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        for result in module.run():
            print("   " + result.line(), flush=True)
            results.append(result)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    failed = [r for r in results if r.met is False]
    print(f"{len(results)} results, {len(failed)} missed their target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
