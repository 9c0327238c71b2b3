"""Checking a database file for damage and saving what is readable of it.

SQLCipher authenticates every page with an HMAC, so damage shows as whole
pages that cannot be decrypted. SQLite's ``.recover`` is not reachable from
Python, so salvage walks each table by rowid into a new file: a damaged page
costs the rows stored on it, nothing more.

Two SQLCipher habits shape the code: after a connection met one bad page,
every later statement on it fails (so each failed try gets a fresh
connection), and ``PRAGMA cipher_integrity_check`` names exactly the pages
whose HMAC fails, where SQLite's own integrity_check only sees the first.

The damaged file is only ever opened read-only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from wg_desktop.paths import make_private_file
from wg_desktop.store.db import StoreError, connect_raw
from wg_desktop.store.health_models import SAMPLE_HOURLY_BACKFILL

HOURLY_ROLLUP = "health_sample_hourly"

# Enough to show what is wrong without burying the report under consequences.
MAX_PROBLEMS = 50
CHUNK_ROWS = 500
MIN_ROWID = -(2 ** 63)
MAX_ROWID = 2 ** 63 - 1
_HMAC_PAGE = re.compile(r"page (\d+)", re.IGNORECASE)


class SalvageFailed(StoreError):
    pass


@dataclass(frozen=True)
class TableCount:
    name: str
    rows: int | None            # None: could not be counted
    error: str | None = None


@dataclass(frozen=True)
class IntegrityReport:
    path: Path
    mode: str                   # "quick" | "full"
    ok: bool
    problems: tuple[str, ...]
    damaged_pages: tuple[int, ...]
    schema_version: int | None
    tables: tuple[TableCount, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True)
class TableSalvage:
    name: str
    recovered: int
    lost: int | None            # None: unknown (no intact index and the end of the table is unreadable)
    lost_exact: bool            # True when counted against an intact index
    unreadable: tuple[tuple[int, int | None], ...]   # rowid ranges that could not be read


@dataclass(frozen=True)
class SalvageReport:
    source: Path
    target: Path
    tables: tuple[TableSalvage, ...]
    orphans: int                # salvaged rows whose parent row was lost
    emptied_indexes: tuple[str, ...]   # virtual tables (search) emptied: rebuild them
    check_ok: bool              # the new file passed integrity_check
    check_problem: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"], data["target"] = str(self.source), str(self.target)
        return data


class _Source:
    """Read-only connections to the checked file, renewed after each failure."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key
        # A folder we may not write to gets no -shm file: read the main file alone.
        self.immutable = not os.access(path.parent, os.W_OK)
        self._conn: sqlcipher.Connection | None = None

    @property
    def conn(self) -> sqlcipher.Connection:
        if self._conn is None:
            self._conn = connect_raw(self.path, self.key, immutable=self.immutable)
        return self._conn

    def reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def fresh(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement on a new connection: a check that *reported* a bad
        page (rather than raising) has already spoiled the old one."""
        self.reset()
        return self.query(sql, params)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement; on failure renew the connection and re-raise."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlcipher.DatabaseError:
            self.reset()
            raise

    def close(self) -> None:
        self.reset()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _problem_lines(rows: list[tuple]) -> list[str]:
    return [line for row in rows for line in str(row[0]).splitlines()
            if line and not line.startswith("***")]


def check_file(path: Path, key: bytes, *, full: bool = True) -> IntegrityReport:
    """Integrity report of ``path``; reads only, never writes to it."""
    if not path.exists():
        raise StoreError(f"There is no database at {path}.")
    source = _Source(path, key)
    problems: list[str] = []
    pages: list[int] = []
    try:
        try:
            for line in _problem_lines(source.fresh("PRAGMA cipher_integrity_check")):
                match = _HMAC_PAGE.search(line)
                if match and "hmac" in line.lower():
                    pages.append(int(match.group(1)))
                problems.append(line)
        except sqlcipher.DatabaseError as exc:
            problems.append(f"cipher_integrity_check: {exc}")
        pragma = "integrity_check" if full else "quick_check"
        try:
            rows = source.fresh(f"PRAGMA {pragma}")
            if rows != [("ok",)]:
                problems.extend(_problem_lines(rows))
        except sqlcipher.DatabaseError as exc:
            problems.append(f"{pragma}: {exc}")
        try:
            version = source.fresh("SELECT max(version) FROM schema_version")[0][0]
        except sqlcipher.DatabaseError as exc:
            version = None
            problems.append(f"schema version: {exc}")
        counts: list[TableCount] = []
        try:
            names = [r[0] for r in source.fresh(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        except sqlcipher.DatabaseError as exc:
            names = []
            problems.append(f"schema: {exc}")
        for name in names:
            try:
                counts.append(TableCount(name, source.fresh(
                    f"SELECT count(*) FROM {_q(name)}")[0][0]))
            except sqlcipher.DatabaseError as exc:
                counts.append(TableCount(name, None, str(exc)))
                problems.append(f"table {name}: {exc}")
    finally:
        source.close()
    return IntegrityReport(path, "full" if full else "quick", not problems,
                           tuple(problems[:MAX_PROBLEMS]), tuple(sorted(set(pages))),
                           version, tuple(counts))


def default_salvage_path(path: Path, now: dt.datetime | None = None) -> Path:
    now = now or dt.datetime.now()
    return path.with_name(f"{path.name}.salvaged-{now:%Y%m%d-%H%M%S}")


def salvage(path: Path, key: bytes, target: Path | None = None) -> SalvageReport:
    """Copy every readable row of ``path`` into a new store ``target`` (same key,
    same schema). ``path`` is opened read-only and never changed; a failed
    salvage removes its own half-written target."""
    target = target or default_salvage_path(path)
    if target.exists():
        raise SalvageFailed(f"{target} exists already; nothing was written.")
    source = _Source(path, key)
    try:
        schema = source.query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
    except sqlcipher.DatabaseError as exc:
        source.close()
        raise SalvageFailed(f"Cannot salvage {path}: its list of tables is unreadable "
                            f"({exc}), so no row can be found. Restore a backup.") from None
    make_private_file(target)
    out = connect_raw(target, key, read_only=False)
    try:
        tables = [(name, sql) for kind, name, _, sql in schema if kind == "table"]
        virtual = [(name, sql) for name, sql in tables if _is_virtual(sql)]
        # A virtual table (the FTS5 search index) creates its own shadow tables;
        # those are copied like any table, into the rows the creation put there.
        for _, sql in virtual:
            out.execute(sql)
        shadows = {r[0] for r in out.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")} - {n for n, _ in virtual}
        for name, sql in tables:
            if not _is_virtual(sql) and name not in shadows:
                out.execute(sql)
        results = [_salvage_table(source, out, name, replace=name in shadows)
                   for name, sql in tables if not _is_virtual(sql)]
        lost_shadows = {r.name for r in results if r.name in shadows and r.lost != 0}
        rebuild = []
        for name, _ in virtual:
            if any(shadow.startswith(f"{name}_") for shadow in lost_shadows):
                # A partly copied index would answer wrongly: empty it instead.
                out.execute(f"INSERT INTO {_q(name)} ({_q(name)}) VALUES ('delete-all')")
                rebuild.append(name)
        for kind, _, _, sql in schema:
            if kind != "table":
                out.execute(sql)
        if any(name == HOURLY_ROLLUP for name, _ in tables):
            # A derived table: rebuilt from the samples that were saved, so it
            # never counts samples the damage took.
            out.execute(f"DELETE FROM {HOURLY_ROLLUP}")
            out.execute(SAMPLE_HOURLY_BACKFILL)
        orphans = len(out.execute("PRAGMA foreign_key_check").fetchall())
    except BaseException:
        out.close()
        source.close()
        target.unlink(missing_ok=True)
        raise
    out.close()
    source.close()
    verify = check_file(target, key, full=True)
    return SalvageReport(path, target, tuple(results), orphans, tuple(rebuild), verify.ok,
                         verify.problems[0] if verify.problems else "")


def _is_virtual(sql: str) -> bool:
    return sql.lstrip().upper().startswith("CREATE VIRTUAL TABLE")


def _salvage_table(source: _Source, out: sqlcipher.Connection, table: str, *,
                   replace: bool = False) -> TableSalvage:
    columns = [r[1] for r in source.query(f"PRAGMA table_info({_q(table)})")]
    cols = ", ".join(_q(c) for c in columns)
    # Every read seeks with ">= start", the very form _next_readable probes with:
    # once a probe succeeded, the next read cannot fail on the same pages again.
    select_chunk = (f"SELECT rowid, {cols} FROM {_q(table)} WHERE rowid >= ? "
                    "ORDER BY rowid LIMIT ?")
    insert = (f"INSERT {'OR REPLACE ' if replace else ''}INTO {_q(table)} ({cols}) "
              f"VALUES ({', '.join('?' for _ in columns)})")
    recovered = 0
    unreadable: list[tuple[int, int | None]] = []
    if not _has_rowid(source, table):
        # No rowid to page by (FTS5's small WITHOUT ROWID shadow tables): all or nothing.
        try:
            rows = source.query(f"SELECT {cols} FROM {_q(table)}")
        except sqlcipher.DatabaseError:
            return TableSalvage(table, 0, None, False, ((1, None),))
        out.execute("BEGIN")
        out.executemany(insert, rows)
        out.execute("COMMIT")
        return TableSalvage(table, len(rows), 0, True, ())

    def keep(rows: list[tuple]) -> None:
        nonlocal recovered
        if rows:
            out.execute("BEGIN")
            out.executemany(insert, [row[1:] for row in rows])
            out.execute("COMMIT")
            recovered += len(rows)

    start = MIN_ROWID
    while start <= MAX_ROWID:
        batch: list[tuple] = []
        try:
            # Rows are taken one by one, so those read before a bad page are kept.
            for row in source.conn.execute(select_chunk, (start, CHUNK_ROWS)):
                batch.append(row)
        except sqlcipher.DatabaseError:
            source.reset()
            keep(batch)
            start = batch[-1][0] + 1 if batch else start
            # The next row alone: sqlite3 reads one row ahead, so the row before
            # the failure may have been dropped with it.
            try:
                single = source.query(select_chunk, (start, 1))
            except sqlcipher.DatabaseError:
                damaged_row = _next_rowid(source, table, start)
                if damaged_row is not None:
                    # The row is found but its content is not readable (it spills
                    # onto a damaged overflow page): only that row is lost.
                    unreadable.append((damaged_row, damaged_row))
                    start = damaged_row + 1
                    continue
                resume = _next_readable(source, table, start)
                unreadable.append((max(start, 1), None if resume is None else resume - 1))
                if resume is None:
                    break
                start = resume
                continue
            if not single:
                break
            keep(single)
            start = single[0][0] + 1
            continue
        keep(batch)
        if len(batch) < CHUNK_ROWS:
            break
        start = batch[-1][0] + 1

    expected = _expected_rows(source, table)
    if expected is not None:
        lost: int | None = max(expected - recovered, 0)
    elif any(hi is None for _, hi in unreadable):
        lost = None
    else:
        lost = sum(hi - lo + 1 for lo, hi in unreadable if hi is not None and hi >= lo)
    return TableSalvage(table, recovered, lost, expected is not None, tuple(unreadable))


def _has_rowid(source: _Source, table: str) -> bool:
    try:
        source.query(f"SELECT rowid FROM {_q(table)} LIMIT 0")
    except sqlcipher.OperationalError as exc:
        if "no such column" in str(exc):
            return False
        raise
    return True


def _next_rowid(source: _Source, table: str, start: int) -> int | None:
    """The first rowid from ``start`` on if the way to it is readable, else None."""
    try:
        rows = source.query(f"SELECT rowid FROM {_q(table)} WHERE rowid >= ? "
                            "ORDER BY rowid LIMIT 1", (start,))
    except sqlcipher.DatabaseError:
        return None
    return rows[0][0] if rows else None


def _next_readable(source: _Source, table: str, start: int) -> int | None:
    """The smallest rowid above ``start`` (where a seek failed) from which
    seeking works again, or None.

    A seek only touches the pages on the way to its rowid, so seeks into the
    damaged range fail and seeks past it succeed: gallop, then bisect.
    """
    probe_sql = f"SELECT rowid FROM {_q(table)} WHERE rowid >= ? ORDER BY rowid LIMIT 1"

    def readable(rowid: int) -> bool:
        try:
            source.query(probe_sql, (rowid,))
        except sqlcipher.DatabaseError:
            return False
        return True

    failed, step = start, 1
    while True:
        candidate = start + step
        if candidate > MAX_ROWID:
            return None
        if readable(candidate):
            break
        failed, step = candidate, step * 2
    low, high = failed, candidate
    while high - low > 1:
        middle = (low + high) // 2
        if readable(middle):
            high = middle
        else:
            low = middle
    return high


def _expected_rows(source: _Source, table: str) -> int | None:
    """How many rows the table had, from any intact index (they hold every rowid)
    or from the table itself; None when neither can be read."""
    try:
        indexes = [r[1] for r in source.query(f"PRAGMA index_list({_q(table)})")]
    except sqlcipher.DatabaseError:
        indexes = []
    for index in indexes:
        try:
            return source.query(
                f"SELECT count(*) FROM {_q(table)} INDEXED BY {_q(index)}")[0][0]
        except sqlcipher.DatabaseError:
            continue
    try:
        return source.query(f"SELECT count(*) FROM {_q(table)}")[0][0]
    except sqlcipher.DatabaseError:
        return None
