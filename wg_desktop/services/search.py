"""Searching the whole stored history (the use case over store/search.py).

What it adds to the store functions: each call holds its own connection
(``Store.session``, so a worker thread can call it), a named portal must
exist, the rebuild takes the store's write lock, and ``status`` says whether
the index covers every stored version (a file salvaged by ``doctor`` or
copied from elsewhere may need a rebuild).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from wg_desktop.services.portals import find_portal
from wg_desktop.store import search as index
from wg_desktop.store.db import Store
from wg_desktop.store.models import WorkflowVersion
from wg_desktop.store.search import (DEFAULT_LIMIT, RebuildResult, SearchError, SearchHit,
                                     Snippet)

__all__ = ["IndexStatus", "RebuildResult", "SearchError", "SearchHit", "SearchService",
           "Snippet"]


@dataclass(frozen=True)
class IndexStatus:
    indexed: int           # versions in the index
    versions: int          # versions stored

    @property
    def complete(self) -> bool:
        return self.indexed == self.versions

    def advice(self) -> str | None:
        """One line for the user when the index misses versions, else None."""
        if self.complete:
            return None
        return (f"the search index covers {self.indexed} of {self.versions} stored versions; "
                "run 'wg-desktop search --rebuild' to index them all")


class SearchService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, query: str, portal: int | None = None,
               limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        """Versions containing every word of ``query`` (the last word may be
        the start of a longer one), most recently stored first. ``portal`` is
        a hub id; an unknown one raises PortalNotFound."""
        with self.store.session():
            if portal is not None:
                find_portal(portal)
            return index.search(query, portal=portal, limit=limit)

    def status(self) -> IndexStatus:
        with self.store.session():
            try:
                indexed = index.indexed_count(self.store.db)
            except Exception as exc:            # no index table: nothing is indexed
                if "no such table" not in str(exc):
                    raise
                indexed = 0
            return IndexStatus(indexed, WorkflowVersion.select().count())

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> RebuildResult:
        """Re-create the index (and its trigger, should either be missing) from
        every stored version. Holds the write lock: a sync waits for it."""
        with self.store.session(), self.store.writing():
            index.create_index(self.store.db)
            return index.rebuild_index(self.store.db, progress)
