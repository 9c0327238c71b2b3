"""Full-text search over every stored version of every workflow (SQLite FTS5).

The index is one FTS5 table, ``version_search``, inside the same SQLCipher
database, so its pages are encrypted like every other row. It is
*contentless* (``content=''``): it keeps only the inverted index, not the
text, because the versions themselves are stored as ~100-byte zstd deltas and
a copy of their text would dwarf them. Snippets are therefore built here, in
Python, from the decoded version of each hit (a page of hits is a few dozen
decodes). ``contentless_delete=1`` lets rows be deleted by rowid.

One index row per version, rowid = ``workflow_version.id``. Its text is every
distinct string of the normalized JSON (names, property names, ids, URLs,
custom code, ...), integers as text, and the keys that are data rather than
schema (see :func:`extract_text`).

Keeping it current:

* storing: :func:`index_version`, called by ``versions.add_version``;
* deleting: an ``AFTER DELETE`` trigger on ``workflow_version`` created by
  migration 5, so every delete path is covered, including retention, the
  per-workflow cap and the foreign-key cascade when a portal's history is
  deleted — no caller can forget it;
* rebuilding: :func:`rebuild_index` (migration 5 runs it once for stores
  created before it; ``wg-desktop search --rebuild`` runs it on demand).

User input never reaches FTS5's query syntax: :func:`match_expression` turns
each word into a double-quoted phrase of its tokens (the last one a prefix),
so quotes, ``NEAR``, ``*``, ``-``, ``AND``/``OR`` and punctuation are just text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import peewee as pw

from wg_desktop.store import versions
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion

TABLE = "version_search"
TRIGGER = "version_search_forget"
# remove_diacritics 2: "Müller" and "Muller" find each other (SQLite >= 3.27).
TOKENIZER = "unicode61 remove_diacritics 2"
CREATE_TABLE_SQL = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
                    f"body, content='', contentless_delete=1, tokenize='{TOKENIZER}')")
CREATE_TRIGGER_SQL = (f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER DELETE ON workflow_version "
                      f"BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; END")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# A one- or two-letter prefix ("a*") expands to a large part of the vocabulary
# and scans most of the index; such a last word is matched as a whole word.
PREFIX_MIN_CHARS = 3
SNIPPET_CONTEXT = 60          # characters kept on each side of the first mark
REBUILD_BATCH = 500

# Keys of the HubSpot flow schema are the same in every version and say
# nothing about *this* workflow; keys that are data (property names used as
# map keys, e.g. customProperties.owner_team) have an underscore or a digit, or
# sit in a map known to be keyed by property.
PROPERTY_MAPS = frozenset({"customProperties", "inputFields", "outputFields", "fields"})

# unicode61 splits on everything that is not a letter, a digit or a private-use
# character; \w minus "_" is Python's nearest equivalent.
_TOKEN = re.compile(r"[^\W_]+")
_DATA_KEY = re.compile(r"[_0-9]")


class SearchError(RuntimeError):
    """The search could not run. The message is for the user."""


@dataclass(frozen=True)
class Snippet:
    """Where in the version the match is, and the matched text around it.

    ``path`` names the JSON field (``actions[actionId=4].webhookUrl``);
    ``marks`` are (start, end) character spans of ``text`` that matched.
    """

    path: str
    text: str
    marks: tuple[tuple[int, int], ...]

    def marked(self, before: str = "[", after: str = "]") -> str:
        out, last = [], 0
        for start, end in self.marks:
            out.append(self.text[last:start] + before + self.text[start:end] + after)
            last = end
        out.append(self.text[last:])
        return "".join(out)


@dataclass(frozen=True)
class SearchHit:
    hub_id: int
    portal_name: str
    workflow_id: int
    flow_id: str
    workflow_name: str            # the workflow's current name
    workflow_deleted: bool        # deleted in HubSpot (its history is still here)
    version_id: int
    version_number: int           # as 'wg-desktop history' numbers them: 1 = oldest
    version_count: int
    captured_at: dt.datetime
    origin: str
    snippet: Snippet | None       # None when the version could not be decoded


@dataclass(frozen=True)
class RebuildResult:
    indexed: int
    unreadable: tuple[int, ...]   # ids of versions that could not be decoded
    seconds: float


# -- extraction ---------------------------------------------------------------

def _is_data_key(key: str, parent: str) -> bool:
    return parent in PROPERTY_MAPS or _DATA_KEY.search(key) is not None


# A path is kept as linked (parent, segment) pairs and spelled out only for the
# one string a snippet shows: most strings of a version are never displayed.
_Path = tuple | None


def _spell(path: _Path) -> str:
    segments = []
    while path is not None:
        path, segment = path
        segments.append(segment)
    return "".join(reversed(segments)).lstrip(".")


def _walk(value: Any, path: _Path, parent: str) -> Iterator[tuple[_Path, str]]:
    if isinstance(value, str):
        if value.strip():
            yield path, value
    elif isinstance(value, bool) or value is None:
        return                      # true/false/null would match nearly every version
    elif isinstance(value, (int, float)):
        yield path, str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            child = (path, "." + key)
            if _is_data_key(key, parent):
                yield child, key
            yield from _walk(item, child, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict) and "actionId" in item:
                segment = f"[actionId={item['actionId']}]"
            else:
                segment = f"[{index}]"
            yield from _walk(item, (path, segment), parent)


def _distinct(definition: Any) -> Iterator[tuple[_Path, str]]:
    seen: set[str] = set()
    for path, text in _walk(definition, None, ""):
        if text not in seen:
            seen.add(text)
            yield path, text


def extract_text(definition: Any) -> list[tuple[str, str]]:
    """(JSON path, text) of every distinct searchable string of a version, in
    document order; a string that occurs again keeps its first path."""
    return [(_spell(path), text) for path, text in _distinct(definition)]


def index_text(definition: Any) -> str:
    return "\n".join(text for _, text in _distinct(definition))


# -- keeping the index current ---------------------------------------------------

def create_index(db: pw.Database) -> None:
    """The FTS table and the trigger that drops a deleted version from it."""
    db.execute_sql(CREATE_TABLE_SQL)
    db.execute_sql(CREATE_TRIGGER_SQL)


def index_version(version_id: int, definition: Any) -> None:
    """Add one stored version to the index (call in the storing transaction)."""
    WorkflowVersion._meta.database.execute_sql(
        f"INSERT INTO {TABLE} (rowid, body) VALUES (?, ?)", (version_id, index_text(definition)))


def rebuild_index(db: pw.Database | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RebuildResult:
    """Empty the index and fill it from every stored version. Call inside a
    write transaction. A version that cannot be decoded is left out and
    reported, never fatal: damage elsewhere must not keep the rest unsearchable."""
    db = db or WorkflowVersion._meta.database
    started = time.perf_counter()
    db.execute_sql(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('delete-all')")
    total = WorkflowVersion.select().count()
    done, last_id, unreadable = 0, 0, []
    while True:
        batch = list(WorkflowVersion.select().where(WorkflowVersion.id > last_id)
                     .order_by(WorkflowVersion.id).limit(REBUILD_BATCH))
        if not batch:
            break
        rows = []
        for version in batch:
            try:
                rows.append((version.id, index_text(json.loads(versions.version_bytes(version)))))
            except (versions.VersionCorrupt, ValueError):
                unreadable.append(version.id)
        if rows:
            db.execute_sql(f"INSERT INTO {TABLE} (rowid, body) VALUES "
                           + ", ".join(["(?, ?)"] * len(rows)),
                           [value for row in rows for value in row])
        done += len(batch)
        last_id = batch[-1].id
        if progress is not None:
            progress(done, total)
    return RebuildResult(done - len(unreadable), tuple(unreadable),
                         time.perf_counter() - started)


def indexed_count(db: pw.Database | None = None) -> int:
    db = db or WorkflowVersion._meta.database
    return db.execute_sql(f"SELECT count(*) FROM {TABLE}").fetchone()[0]


# -- queries ---------------------------------------------------------------------

def _fold(token: str) -> str:
    # What unicode61 with remove_diacritics does: strip combining marks, lower-case.
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(text: str) -> list[str]:
    return [_fold(t) for t in _TOKEN.findall(text)]


@dataclass(frozen=True)
class QueryTerm:
    words: tuple[str, ...]        # consecutive tokens (a phrase)
    prefix: bool                  # the last token may be the start of a longer one


def parse_query(query: str) -> tuple[QueryTerm, ...]:
    """Split user input into phrase terms: every whitespace-separated word is
    a phrase of its tokens (so a URL or ``hs_lead_status`` matches as typed);
    words without a letter or digit are dropped; the last word is a prefix
    unless the input ends with a space or it is too short."""
    words = [tokens(w) for w in query.split()]
    words = [w for w in words if w]
    terms = []
    for i, word in enumerate(words):
        last = i == len(words) - 1
        prefix = (last and not query[-1:].isspace() and len(word[-1]) >= PREFIX_MIN_CHARS)
        terms.append(QueryTerm(tuple(word), prefix))
    return tuple(terms)


def match_expression(terms: tuple[QueryTerm, ...]) -> str:
    """FTS5 MATCH text: quoted phrases (tokens hold no quote, so nothing needs
    escaping), implicitly AND-ed."""
    return " ".join('"' + " ".join(t.words) + '"' + ("*" if t.prefix else "") for t in terms)


def search(query: str, *, portal: int | None = None,
           limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
    """Versions whose text contains every word of ``query``, most recently
    stored first, at most ``limit``. ``portal`` is a hub id. An empty or
    punctuation-only query finds nothing."""
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"The limit must be between 1 and {MAX_LIMIT}.")
    terms = parse_query(query)
    if not terms:
        return []
    db = WorkflowVersion._meta.database
    sql = (f"SELECT s.rowid FROM {TABLE} s "
           "JOIN workflow_version v ON v.id = s.rowid "
           "JOIN workflow w ON w.id = v.workflow_id "
           "JOIN portal p ON p.id = w.portal_id "
           f"WHERE {TABLE} MATCH ?" + (" AND p.hub_id = ?" if portal is not None else "")
           + " ORDER BY s.rowid DESC LIMIT ?")
    params: list[Any] = [match_expression(terms)]
    if portal is not None:
        params.append(portal)
    params.append(limit)
    try:
        ids = [row[0] for row in db.execute_sql(sql, params).fetchall()]
    except pw.OperationalError as exc:
        # Quoting leaves nothing for FTS5 to reject; a missing table is the one
        # way left (a store not migrated yet), and it gets a sentence, not SQL.
        if "no such table" in str(exc):
            raise SearchError("This database has no search index yet; run "
                              "'wg-desktop search --rebuild'.") from None
        raise SearchError(f"The search could not run ({exc}).") from None
    return _hits(ids, terms)


def _hits(ids: list[int], terms: tuple[QueryTerm, ...]) -> list[SearchHit]:
    if not ids:
        return []
    rows = {v.id: v for v in (WorkflowVersion.select(WorkflowVersion, Workflow, Portal)
                              .join(Workflow).join(Portal)
                              .where(WorkflowVersion.id.in_(ids)))}
    numbers = _numbers(ids)
    hits = []
    for version_id in ids:
        version = rows.get(version_id)
        if version is None:
            continue
        workflow = version.workflow
        number, count = numbers[version_id]
        hits.append(SearchHit(
            hub_id=workflow.portal.hub_id, portal_name=workflow.portal.name,
            workflow_id=workflow.id, flow_id=workflow.flow_id, workflow_name=workflow.name,
            workflow_deleted=workflow.deleted_at is not None, version_id=version.id,
            version_number=number, version_count=count, captured_at=version.captured_at,
            origin=version.origin, snippet=_snippet(version, terms)))
    return hits


def _numbers(ids: list[int]) -> dict[int, tuple[int, int]]:
    """version id -> (number, count), numbered in the order ``versions.history``
    lists them (by capture time, then id; 1 = oldest). One query for the page."""
    marks = ", ".join("?" * len(ids))
    rows = WorkflowVersion._meta.database.execute_sql(
        "SELECT v.id, "
        "(SELECT count(*) FROM workflow_version o WHERE o.workflow_id = v.workflow_id "
        " AND (o.captured_at < v.captured_at OR (o.captured_at = v.captured_at AND o.id <= v.id))), "
        "(SELECT count(*) FROM workflow_version o WHERE o.workflow_id = v.workflow_id) "
        f"FROM workflow_version v WHERE v.id IN ({marks})", ids).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _find(haystack: list[str], term: QueryTerm) -> int:
    """Index in ``haystack`` where ``term`` starts, or -1."""
    n = len(term.words)
    for i in range(len(haystack) - n + 1):
        if haystack[i:i + n - 1] == list(term.words[:-1]):
            last = haystack[i + n - 1]
            if last == term.words[-1] or (term.prefix and last.startswith(term.words[-1])):
                return i
    return -1


def _folded(text: str) -> str:
    return text.lower() if text.isascii() else _fold(text)


def _snippet(version: WorkflowVersion, terms: tuple[QueryTerm, ...]) -> Snippet | None:
    try:
        definition = json.loads(versions.version_bytes(version))
    except (versions.VersionCorrupt, ValueError):
        return None
    # Cheap substring test first: only strings holding a term's first token
    # are split into tokens and compared.
    firsts = [term.words[0] for term in terms]
    best: tuple[int, _Path, str, list[tuple[int, int]]] | None = None
    first_string: tuple[_Path, str] | None = None
    for path, text in _distinct(definition):
        if first_string is None:
            first_string = (path, text)
        folded_text = _folded(text)
        if not any(first in folded_text for first in firsts):
            continue
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        folded = [_folded(text[s:e]) for s, e in spans]
        found, marks = 0, []
        for term in terms:
            at = _find(folded, term)
            if at >= 0:
                found += 1
                marks.append((spans[at][0], spans[at + len(term.words) - 1][1]))
        if found and (best is None or found > best[0]):
            best = (found, path, text, marks)
            if found == len(terms):
                break
    if best is None:
        # Every word matched, but in different strings joined in the index;
        # show the first string instead of nothing.
        if first_string is None:
            return None
        return Snippet(_spell(first_string[0]), _clip(first_string[1], 0)[0], ())
    _, path, text, marks = best
    marks = sorted(set(marks))
    clipped, offset = _clip(text, marks[0][0])
    shifted = tuple((s - offset, e - offset) for s, e in marks
                    if s >= offset and e - offset <= len(clipped))
    return Snippet(_spell(path), clipped, shifted)


def _clip(text: str, centre: int) -> tuple[str, int]:
    """One line of at most ~2 × SNIPPET_CONTEXT characters around ``centre``
    (newlines of custom code become spaces), and the offset it starts at."""
    start = max(0, centre - SNIPPET_CONTEXT)
    end = min(len(text), centre + 2 * SNIPPET_CONTEXT)
    piece = text[start:end].replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return piece, start
