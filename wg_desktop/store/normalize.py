"""Normalising a workflow definition so that "changed" means changed.

HubSpot bumps ``revisionId`` and ``updatedAt`` on every save, and the order
of ``actions`` carries no meaning (they form a graph keyed by ``actionId``).
Those are removed/sorted; everything else — including fields and action
types this app has never heard of — is kept verbatim.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

VOLATILE_KEYS = frozenset({"revisionId", "updatedAt"})


def _action_key(action: Any) -> tuple[int, str]:
    if isinstance(action, Mapping):
        ident = str(action.get("actionId", ""))
        return (int(ident), "") if ident.isdigit() else (1 << 62, ident)
    return (1 << 63, json.dumps(action, sort_keys=True, default=str))


def normalize_flow(flow: Mapping[str, Any]) -> dict[str, Any]:
    normalized = {k: v for k, v in flow.items() if k not in VOLATILE_KEYS}
    actions = normalized.get("actions")
    if isinstance(actions, list):
        normalized["actions"] = sorted(actions, key=_action_key)
    return normalized


def canonical_bytes(value: Any) -> bytes:
    """Stable bytes: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def summarize_change(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """A short, human summary of what changed (the diff view shows the rest)."""
    if old is None:
        count = len(new.get("actions") or [])
        return f"first captured ({count} action{'s' if count != 1 else ''})"
    parts: list[str] = []
    if old.get("name") != new.get("name"):
        parts.append("renamed")
    if old.get("isEnabled") != new.get("isEnabled"):
        parts.append("turned on" if new.get("isEnabled") else "turned off")
    old_actions = {str(a.get("actionId")): a for a in old.get("actions") or []
                   if isinstance(a, Mapping)}
    new_actions = {str(a.get("actionId")): a for a in new.get("actions") or []
                   if isinstance(a, Mapping)}
    added = len(new_actions.keys() - old_actions.keys())
    removed = len(old_actions.keys() - new_actions.keys())
    changed = sum(1 for k in new_actions.keys() & old_actions.keys()
                  if new_actions[k] != old_actions[k])
    for count, verb in ((added, "added"), (removed, "removed"), (changed, "changed")):
        if count:
            parts.append(f"{count} action{'s' if count != 1 else ''} {verb}")
    other = sorted(k for k in (old.keys() | new.keys()) - {"name", "isEnabled", "actions"}
                   if old.get(k) != new.get(k))
    if other:
        parts.append("settings changed: " + ", ".join(other[:4])
                     + ("…" if len(other) > 4 else ""))
    return "; ".join(parts) or "no visible change"
