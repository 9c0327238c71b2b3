"""Finding the workflow to compare inside a file: a single flow as HubSpot's
v4 API returns it, a list of flows or HubSpot's ``{"results": [...]}``, or
this app's export zip (one flow per entry, with a manifest naming each
entry's portal).

The file is read through the import reader (``open_import``), so the same
bounds hold as for an import: a regular file only, every entry capped, JSON
depth checked before parsing, documents parsed one at a time. Only the flows
that could be the answer are kept while the rest of the file is read, so a
5,000-workflow export costs the memory of its candidates' names, not of its
definitions.

Which flow: the one named by ``choice`` (flow id, else name, case-insensitive);
else the file's only flow; else the one with the stored workflow's flow id
(its own portal's first, when an export holds the same id for several).
Anything else asks for a choice, listing a few candidates.

Core module: no Qt. Blocking: call it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from wg_desktop.services.import_reader import ImportRejected, open_import
from wg_desktop.store.normalize import normalize_flow

CANDIDATES_NAMED = 5           # how many candidates a "choose one" message names


class FileNotComparable(ImportRejected):
    """The file cannot be read as workflows; the message is one line."""


class FileWorkflowChoiceNeeded(FileNotComparable):
    """The file holds several workflows and none is the obvious one. The
    message is one line; ``candidates`` lists every workflow in the file."""

    def __init__(self, message: str, candidates: list["FileFlowRef"]) -> None:
        super().__init__(message)
        self.candidates = candidates

    def examples_text(self) -> str:
        """A few candidates, e.g. "'Welcome' (101), 'Renewal' (102) and 7 more"."""
        named = ", ".join(ref.display for ref in self.candidates[:CANDIDATES_NAMED])
        rest = len(self.candidates) - CANDIDATES_NAMED
        return named + (f" and {rest} more" if rest > 0 else "")


@dataclass(frozen=True)
class FileFlowRef:
    """A workflow found in the file, as candidates are listed."""

    entry: str                 # the zip entry holding it, or the file's name
    flow_id: str
    name: str
    hub_id: int | None         # the portal the export's manifest names for the entry

    @property
    def display(self) -> str:
        return f"'{self.name or '(unnamed)'}' ({self.flow_id})"


@dataclass(frozen=True)
class FileFlow:
    """The chosen workflow, normalized as the sync stores versions."""

    file_name: str
    ref: FileFlowRef
    definition: Mapping[str, Any] = field(repr=False)

    @property
    def label(self) -> str:
        inside = f" › {self.ref.entry}" if self.ref.entry != self.file_name else ""
        return f"File {self.file_name}{inside}: {self.ref.display}"


def _not_comparable(error: ImportRejected) -> FileNotComparable:
    """The reader words its refusals for an import; here nothing is imported."""
    text = str(error).removesuffix("; nothing was imported.").rstrip(".")
    return FileNotComparable(f"{text}; nothing was compared.")


def _flows_in(document: Any, entry: str, file_name: str) -> list[dict[str, Any]]:
    """The flows of one document: a flow, a list of flows, or ``{"results": [...]}``."""
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        document = document["results"]
    flows = document if isinstance(document, list) else [document]
    where = file_name if entry == file_name else f"{file_name} › {entry}"
    for flow in flows:
        if not isinstance(flow, dict) or flow.get("id") in (None, ""):
            raise FileNotComparable(
                f"{where}: not a HubSpot workflow (expected a flow object with an 'id', a list "
                "of them, or {\"results\": [...]}); nothing was compared.")
    return flows


def _manifest_hubs(manifest: Any) -> dict[str, int]:
    """The source portal of each entry the export's manifest lists."""
    hubs: dict[str, int] = {}
    entries = manifest.get("workflows") if isinstance(manifest, dict) else None
    for item in entries if isinstance(entries, list) else []:
        hub = item.get("hub_id") if isinstance(item, dict) else None
        if isinstance(hub, int) and not isinstance(hub, bool):
            hubs[str(item.get("file"))] = hub
    return hubs


def _exactly(ref: FileFlowRef, choice: str) -> bool:
    """Named by flow id, or by zip entry (the one way to tell apart the same
    flow id exported from two portals)."""
    return choice in (ref.flow_id, ref.entry)


def _matches_choice(ref: FileFlowRef, choice: str) -> bool:
    return _exactly(ref, choice) or ref.name.casefold() == choice.casefold()


def read_file_flow(path: Path, *, flow_id: str, hub_id: int,
                   choice: str | None = None) -> FileFlow:
    """The workflow of the file at ``path`` to compare with the stored
    workflow ``flow_id`` of portal ``hub_id`` (an imported source's pseudo
    hub id is the negative of the portal it came from)."""
    choice = (choice or "").strip() or None
    candidates: list[FileFlowRef] = []
    kept: list[tuple[FileFlowRef, dict[str, Any]]] = []
    try:
        with open_import(path) as reader:
            hubs = _manifest_hubs(reader.manifest())
            for entry, document in reader.documents():
                for flow in _flows_in(document, entry, path.name):
                    ref = FileFlowRef(entry, str(flow["id"]), str(flow.get("name") or ""),
                                      hubs.get(entry))
                    candidates.append(ref)
                    wanted = (_matches_choice(ref, choice) if choice is not None
                              else ref.flow_id == flow_id or len(candidates) == 1)
                    if wanted:
                        kept.append((ref, flow))
                del document        # freed before the next document is parsed
    except FileNotComparable:
        raise
    except ImportRejected as exc:
        raise _not_comparable(exc) from None
    if not candidates:
        raise FileNotComparable(f"{path.name} holds no workflow; nothing was compared.")
    ref, flow = _choose(path.name, candidates, kept, flow_id=flow_id, hub_id=hub_id,
                        choice=choice)
    return FileFlow(path.name, ref, normalize_flow(flow))


def _choose(file_name: str, candidates: list[FileFlowRef],
            kept: list[tuple[FileFlowRef, dict[str, Any]]], *, flow_id: str, hub_id: int,
            choice: str | None) -> tuple[FileFlowRef, dict[str, Any]]:
    if choice is not None:
        by_id = [item for item in kept if _exactly(item[0], choice)]
        found = by_id or kept
        if not found:
            raise FileWorkflowChoiceNeeded(
                f"{file_name} holds no workflow '{choice}' ({len(candidates)} workflow"
                f"{'s' if len(candidates) != 1 else ''} in it)", candidates)
        subject = f"workflows in {file_name} match '{choice}'"
    elif len(candidates) == 1:
        return kept[0]
    else:
        found = [item for item in kept if item[0].flow_id == flow_id]
        if not found:
            raise FileWorkflowChoiceNeeded(
                f"{file_name} holds {len(candidates)} workflows and none has flow id "
                f"{flow_id}", candidates)
        subject = f"workflows in {file_name} have flow id {flow_id}"
    if len(found) > 1:
        # An export of several portals: the stored workflow's own portal first.
        own = [item for item in found if item[0].hub_id is not None
               and abs(item[0].hub_id) == abs(hub_id)]
        if len(own) == 1:
            return own[0]
        raise FileWorkflowChoiceNeeded(f"{len(found)} {subject}",
                                       [item[0] for item in found])
    return found[0]


__all__ = ["FileFlow", "FileFlowRef", "FileNotComparable", "FileWorkflowChoiceNeeded",
           "read_file_flow"]
