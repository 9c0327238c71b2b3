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
