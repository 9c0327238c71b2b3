"""Dangling references of a version about to be restored: ids of lists, emails,
owners, properties, pipelines and other workflows that may no longer exist.

What can honestly be checked from stored data (no extra HubSpot calls):

* **Workflows** are checked exactly against the store: a flow id referenced by
  the version (``flowId``/``flowIds``/``flow_id``, e.g. an unenrollment
  setting) is *deleted* when the last sync marked that workflow deleted, and
  *unknown* when this portal's store has never seen it. Only v4 flow ids are
  checked: legacy v3 ``workflowId`` values live in another id space.
* **Lists, emails, owners, properties and pipelines**: the app stores no
  inventory of them, so the check is indirect. An id is *not seen* when no
  other evidence of it exists: neither the live flow (fetched for the plan)
  nor the latest stored version of any other live workflow of the portal
  references it. That does not prove it was deleted (an email used by one
  workflow only is never seen elsewhere); the warning says "could not be
  confirmed", never "missing".

Pure functions over definitions; no Qt, no database (the service builds the
index from the store).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

# Keys whose values are ids of one kind wherever they appear in a definition.
LIST_KEYS = frozenset({"listId", "listIds", "suppressionListIds", "list_id", "ilsListId"})
EMAIL_KEYS = frozenset({"content_id", "emailContentId", "email_content_id", "emailId"})
OWNER_KEYS = frozenset({"user_ids", "userIds", "owner_id", "ownerId", "owner_ids"})
PROPERTY_KEYS = frozenset({"property", "property_name", "propertyName",
                           "contactPropertyAnchor"})
PIPELINE_KEYS = frozenset({"pipelineId", "pipeline_id"})
WORKFLOW_KEYS = frozenset({"flowId", "flowIds", "flow_id"})
# Properties whose values are ids of another kind (a filter "pipeline is any
# of default", a "set owner" action).
OWNER_PROPERTIES = frozenset({"hubspot_owner_id", "hs_owner_id"})
PIPELINE_PROPERTIES = frozenset({"pipeline", "hs_pipeline"})


class RefKind(enum.StrEnum):
    LIST = "list"
    EMAIL = "email"
    OWNER = "owner"
    PROPERTY = "property"
    PIPELINE = "pipeline"
    WORKFLOW = "workflow"


REF_LABELS = {RefKind.LIST: "List", RefKind.EMAIL: "Email", RefKind.OWNER: "Owner/user",
              RefKind.PROPERTY: "Property", RefKind.PIPELINE: "Pipeline",
              RefKind.WORKFLOW: "Workflow"}


class DanglingReason(enum.StrEnum):
    DELETED = "deleted"          # a workflow the last sync saw deleted
    UNKNOWN = "unknown"          # a workflow this portal's store never saw
    NOT_SEEN = "not_seen"        # no live flow references it: could not be confirmed


@dataclass(frozen=True, order=True)
class Reference:
    kind: RefKind
    value: str


@dataclass(frozen=True)
class DanglingReference:
    reference: Reference
    reason: DanglingReason

    @property
    def text(self) -> str:
        label = f"{REF_LABELS[self.reference.kind]} {self.reference.value}"
        if self.reason is DanglingReason.DELETED:
            return f"{label} was deleted in HubSpot (last sync); the restored version refers to it"
        if self.reason is DanglingReason.UNKNOWN:
            return f"{label} is not a workflow of this portal that the app has seen"
        return (f"{label} could not be confirmed: no live workflow of this portal uses it "
                "in the latest sync (it may have been deleted)")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.reference.kind), "id": self.reference.value,
                "reason": str(self.reason), "text": self.text}


@dataclass(frozen=True)
class ReferenceIndex:
    """What the latest synced state of a portal refers to, plus its workflows."""

    seen: frozenset[Reference]
    live_flow_ids: frozenset[str]
    deleted_flow_ids: frozenset[str]


def _scalars(value: Any) -> Iterable[str]:
    if isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        yield str(value).strip()


def _property_values(node: Mapping[str, Any]) -> list[str]:
    """The values a property filter or a set-property action names."""
    found: list[str] = []
    operation = node.get("operation")
    if isinstance(operation, Mapping):
        found += list(_scalars(operation.get("values")))
        found += list(_scalars(operation.get("value")))
    value = node.get("value")
    if isinstance(value, Mapping) and value.get("type") == "STATIC_VALUE":
        found += list(_scalars(value.get("staticValue")))
    return found


def references(flow: Mapping[str, Any]) -> frozenset[Reference]:
    """Every id of the kinds above that ``flow`` refers to (any depth)."""
    found: set[Reference] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, Mapping):
            return
        for key, value in node.items():
            if key in LIST_KEYS:
                found.update(Reference(RefKind.LIST, v) for v in _scalars(value))
            elif key in EMAIL_KEYS:
                found.update(Reference(RefKind.EMAIL, v) for v in _scalars(value))
            elif key in OWNER_KEYS:
                found.update(Reference(RefKind.OWNER, v) for v in _scalars(value))
            elif key in PIPELINE_KEYS:
                found.update(Reference(RefKind.PIPELINE, v) for v in _scalars(value))
            elif key in WORKFLOW_KEYS:
                found.update(Reference(RefKind.WORKFLOW, v) for v in _scalars(value))
            elif key in PROPERTY_KEYS and isinstance(value, str) and value.strip():
                found.add(Reference(RefKind.PROPERTY, value.strip()))
                prop = value.strip()
                kind = (RefKind.OWNER if prop in OWNER_PROPERTIES else
                        RefKind.PIPELINE if prop in PIPELINE_PROPERTIES else None)
                if kind is not None:
                    found.update(Reference(kind, v) for v in _property_values(node))
            walk(value)

    walk(flow)
    return frozenset(found)


def build_index(latest_versions: Iterable[Mapping[str, Any]], live_flow_ids: Iterable[str],
                deleted_flow_ids: Iterable[str]) -> ReferenceIndex:
    seen: set[Reference] = set()
    for flow in latest_versions:
        seen |= references(flow)
    live = frozenset(str(i) for i in live_flow_ids)
    return ReferenceIndex(frozenset(seen), live, frozenset(str(i) for i in deleted_flow_ids)
                          - live)


def dangling_references(target: Mapping[str, Any], index: ReferenceIndex, *,
                        self_flow_id: str | None = None) -> tuple[DanglingReference, ...]:
    """The references of ``target`` the index cannot vouch for, sorted."""
    result: list[DanglingReference] = []
    for ref in sorted(references(target)):
        if ref.kind is RefKind.WORKFLOW:
            if ref.value == self_flow_id or ref.value in index.live_flow_ids:
                continue
            reason = (DanglingReason.DELETED if ref.value in index.deleted_flow_ids
                      else DanglingReason.UNKNOWN)
        elif ref in index.seen:
            continue
        else:
            reason = DanglingReason.NOT_SEEN
        result.append(DanglingReference(ref, reason))
    return tuple(result)
