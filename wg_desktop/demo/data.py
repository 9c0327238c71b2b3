"""Deterministic, realistic workflow data for the demo portals, and the
thread-safe store the HTTP handlers read and write.

A portal's list of flows (ids, names, object types, revision ids, dates) is
generated eagerly from the seed — cheap, 5,000 flows in well under a second.
The full flow bodies (actions graph, enrollment criteria, ...) are generated
lazily from a per-flow seed when first asked for, and only stored once a flow
has been changed (PUT, drift), so memory stays small.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator

ANCHOR_MS = 1_767_225_600_000          # 2026-01-01T00:00:00Z: generated dates lie before it
DAY_MS = 86_400_000

CONTACT = "0-1"
COMPANY = "0-2"
DEAL = "0-3"
TICKET = "0-5"
OBJECT_TYPE_WEIGHTS = ((CONTACT, 50), (DEAL, 20), (COMPANY, 15), (TICKET, 15))
OBJECT_LABEL = {CONTACT: "contact", COMPANY: "company", DEAL: "deal", TICKET: "ticket"}

CONTACT_FLOW = "CONTACT_FLOW"
PLATFORM_FLOW = "PLATFORM_FLOW"

# Keys the server owns: never taken from a PUT body.
META_KEYS = ("id", "uuid", "name", "type", "flowType", "objectTypeId", "isEnabled", "revisionId",
             "createdAt", "updatedAt", "crmObjectCreationStatus")
MAX_HISTORY_PER_FLOW = 100


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> HubSpot's ISO-8601 form, e.g. 2025-03-04T10:11:12.123Z."""
    stamp = dt.datetime.fromtimestamp(ms // 1000, dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def flow_type_for(object_type_id: str) -> str:
    return CONTACT_FLOW if object_type_id == CONTACT else PLATFORM_FLOW


# -- vocabulary ----------------------------------------------------------------

REGIONS = ("EMEA", "NA", "APAC", "LATAM", "DACH", "UK&I", "Nordics", "ANZ")
SEGMENTS = ("SMB", "Mid-market", "Enterprise", "Partners", "Trial users", "Customers", "Students",
            "Agencies", "Healthcare", "Fintech", "Retail", "Manufacturing")
TOPICS = ("Product launch", "Pricing page", "Webinar: Automation 101", "Ebook: RevOps guide",
          "Free trial", "Demo request", "Case study", "Spring promo", "Black Friday",
          "Annual conference", "Newsletter", "Feature adoption", "Onboarding", "Renewal")
STAGES = ("Appointment scheduled", "Qualified to buy", "Presentation scheduled",
          "Decision maker bought-in", "Contract sent", "Closed won", "Closed lost")

NAME_TEMPLATES: dict[str, tuple[str, ...]] = {
    CONTACT: (
        "Lead nurture: {topic}", "Welcome series – {segment}", "MQL → SQL handoff ({region})",
        "Re-engagement: {segment} inactive 90 days", "Webinar follow-up: {topic}",
        "Newsletter double opt-in ({region})", "Lifecycle stage sync – {segment}",
        "Trial onboarding day {n}", "Unsubscribe cleanup – {region}", "Lead scoring: {topic}",
        "Persona assignment – {segment}", "Event reminders: {topic}", "Form follow-up: {topic}",
        "Birthday email ({region})", "Sales rep rotation – {region} inbound",
    ),
    COMPANY: (
        "Company owner rotation ({region})", "Target account alert – {segment}",
        "Set ICP tier for {segment}", "Churn-risk review: {segment} accounts",
        "New customer company setup ({region})", "Industry enrichment – {segment}",
        "Account-based marketing: {topic}",
    ),
    DEAL: (
        "Deal stage: {stage} → owner task", "Closed won → onboarding handoff ({region})",
        "Stale deal reminder ({n} days)", "Renewal pipeline – {segment}",
        "Large deal alert ({region})", "Deal desk approval – {segment}",
        "Closed lost feedback survey ({region})",
    ),
    TICKET: (
        "Ticket SLA escalation ({region})", "CSAT survey after close – {segment}",
        "Route high-priority tickets ({region})", "Auto-close pending tickets after {n} days",
        "Billing issue triage – {segment}", "Bug report → engineering ({region})",
    ),
}

PROPERTIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    CONTACT: (
        ("lifecyclestage", ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                            "opportunity", "customer")),
        ("hs_lead_status", ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED")),
        ("hs_persona", ("persona_1", "persona_2", "persona_3")),
        ("country", ("United States", "Germany", "United Kingdom", "France", "Australia")),
        ("hs_language", ("en", "de", "fr", "es")),
    ),
    COMPANY: (
        ("industry", ("COMPUTER_SOFTWARE", "HOSPITAL_HEALTH_CARE", "FINANCIAL_SERVICES", "RETAIL")),
        ("type", ("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")),
        ("lifecyclestage", ("lead", "opportunity", "customer", "evangelist")),
        ("icp_tier", ("tier_1", "tier_2", "tier_3")),
    ),
    DEAL: (
        ("dealstage", ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                       "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")),
        ("dealtype", ("newbusiness", "existingbusiness")),
        ("hs_priority", ("low", "medium", "high")),
        ("pipeline", ("default", "renewals")),
    ),
    TICKET: (
        ("hs_pipeline_stage", ("1", "2", "3", "4")),
        ("hs_ticket_priority", ("LOW", "MEDIUM", "HIGH", "URGENT")),
        ("hs_ticket_category", ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")),
        ("source_type", ("EMAIL", "CHAT", "PHONE", "FORM")),
    ),
}

TASK_SUBJECTS = ("Follow up with {label}", "Call {label} within 24h", "Review {label} details",
                 "Send proposal", "Schedule kickoff meeting", "Check onboarding progress",
                 "Confirm billing contact", "Qualify inbound lead")
DELAYS_MINUTES = (15, 30, 60, 120, 240, 1440, 2880, 4320, 10080)
EVENT_TYPE_IDS = ("4-96000", "4-1639801", "4-1553675", "4-68559", "4-666440")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")


# -- records -------------------------------------------------------------------

@dataclass(slots=True)
class FlowRecord:
    """Server-side state of one flow. ``body`` is None while the flow still
    equals its generated form; it then holds every non-meta key."""

    flow_id: int
    object_type_id: str
    name: str | None
    uuid: str
    is_enabled: bool
    revision: int
    created_ms: int
    updated_ms: int
    gen_seed: int
    size: int
    workflow_id: int | None = None      # legacy v3 id (contact flows only)
    anchor: str | None = None           # v3 type hint: None / "PROPERTY" / "STATIC"
    body: dict[str, Any] | None = None
    pending_until: float = 0.0          # monotonic time until creation is COMPLETE


def _uuid_from(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def weighted_choice(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


def make_name(rng: random.Random, object_type_id: str, used: set[str]) -> str:
    template = rng.choice(NAME_TEMPLATES[object_type_id])
    name = template.format(topic=rng.choice(TOPICS), segment=rng.choice(SEGMENTS),
                           region=rng.choice(REGIONS), stage=rng.choice(STAGES),
                           n=rng.choice((3, 5, 7, 14, 30)))
    if name in used:
        k = 2
        while f"{name} ({k})" in used:
            k += 1
        name = f"{name} ({k})"
    used.add(name)
    return name


def _size(rng: random.Random) -> int:
    if rng.random() < 0.03:
        return rng.randint(60, 300)
    return max(2, min(300, int(rng.lognormvariate(2.4, 0.75))))


def generate_records(seed: int, portal_id: int, count: int) -> list[FlowRecord]:
    """The flows of one portal, in ascending id order. Deterministic."""
    rng = random.Random(f"wg-demo-flows:{seed}:{portal_id}")
    flow_id = 1_400_000_000 + (portal_id % 1000) * 10_000_000 + rng.randrange(1_000_000)
    workflow_id = 20_000_000 + (portal_id % 1000) * 1_000_000 + rng.randrange(100_000)
    used: set[str] = set()
    forced: dict[int, int] = {}
    if count >= 2:
        small, large = rng.sample(range(count), 2)
        forced = {small: 2, large: 300}
    records: list[FlowRecord] = []
    for i in range(count):
        flow_id += rng.randint(1, 9_000)
        obj = weighted_choice(rng, OBJECT_TYPE_WEIGHTS)
        created = ANCHOR_MS - rng.randint(20, 1_100) * DAY_MS - rng.randrange(DAY_MS)
        updated = created + rng.randrange(ANCHOR_MS - created)
        record = FlowRecord(
            flow_id=flow_id, object_type_id=obj, name=make_name(rng, obj, used),
            uuid=_uuid_from(rng), is_enabled=rng.random() < 0.75, revision=rng.randint(1, 40),
            created_ms=created, updated_ms=updated, gen_seed=rng.getrandbits(63),
            size=forced.get(i) or _size(rng))
        if obj == CONTACT:
            workflow_id += rng.randint(1, 500)
            record.workflow_id = workflow_id
            anchor_pick = rng.random()
            record.anchor = "PROPERTY" if anchor_pick < 0.05 else ("STATIC" if anchor_pick < 0.08 else None)
        records.append(record)
    return records


# -- bodies --------------------------------------------------------------------

class _BodyBuilder:
    """Builds one flow body from its own random generator."""

    def __init__(self, rng: random.Random, object_type_id: str) -> None:
        self.rng = rng
        self.obj = object_type_id
        self.actions: list[dict[str, Any]] = []
        self._next = 1

    def _new_id(self) -> str:
        value = str(self._next)
        self._next += 1
        return value

    # filters ---------------------------------------------------------------
    def property_filter(self) -> dict[str, Any]:
        prop, values = self.rng.choice(PROPERTIES[self.obj])
        chosen = self.rng.sample(values, k=self.rng.randint(1, min(2, len(values))))
        return {"filterType": "PROPERTY", "property": prop,
                "operation": {"operationType": "ENUMERATION", "operator": "IS_ANY_OF",
                              "values": chosen, "includeObjectsWithNoValueSet": False}}

    def filter_branch(self) -> dict[str, Any]:
        ands = [{"filterBranchType": "AND", "filterBranchOperator": "AND", "filterBranches": [],
                 "filters": [self.property_filter() for _ in range(self.rng.randint(1, 3))]}
                for _ in range(self.rng.randint(1, 2))]
        return {"filterBranchType": "OR", "filterBranchOperator": "OR", "filterBranches": ands,
                "filters": []}

    # actions ---------------------------------------------------------------
    def single_action(self, action_id: str) -> dict[str, Any]:
        rng = self.rng
        label = OBJECT_LABEL[self.obj]
        pick = rng.random()
        if pick < 0.24:
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-1",
                    "fields": {"delta": str(rng.choice(DELAYS_MINUTES)), "time_unit": "MINUTES"}}
        if pick < 0.48:
            prop, values = rng.choice(PROPERTIES[self.obj])
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-5",
                    "fields": {"property_name": prop,
                               "value": {"type": "STATIC_VALUE", "staticValue": rng.choice(values)}}}
        if pick < 0.64:
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-4",
                    "fields": {"content_id": str(rng.randint(100_000_000_000, 199_999_999_999))}}
        if pick < 0.78:
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-3",
                    "fields": {"task_type": rng.choice(("TODO", "CALL", "EMAIL")),
                               "subject": rng.choice(TASK_SUBJECTS).format(label=label),
                               "body": f"<p>Created by workflow for this {label}.</p>",
                               "priority": rng.choice(("NONE", "LOW", "MEDIUM", "HIGH")),
                               "associations": [{"target": {"associationCategory": "HUBSPOT_DEFINED",
                                                            "associationTypeId": 204},
                                                 "value": {"type": "ENROLLED_OBJECT"}}],
                               "use_explicit_associations": "true"}}
        if pick < 0.84:
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-8",
                    "fields": {"user_ids": [str(rng.randint(1_000_000, 9_999_999))],
                               "subject": f"Workflow alert: {label} needs attention",
                               "body": f"A {label} met the criteria of this workflow."}}
        if pick < 0.89:
            return {"type": "SINGLE_CONNECTION", "actionId": action_id, "actionTypeVersion": 0,
                    "actionTypeId": "0-63809083",
                    "fields": {"listId": str(rng.randint(100, 9_999))}}
        if pick < 0.95:
            slug = rng.choice(("crm-sync", "erp", "slack-relay", "billing", "data-warehouse"))
            return {"type": "WEBHOOK", "actionId": action_id,
                    "webhookUrl": f"https://hooks.example.com/{slug}/{rng.randint(1, 999)}",
                    "method": rng.choice(("POST", "POST", "GET")),
                    "queryParams": [],
                    "authSettings": {"type": "SIGNATURE"}}
        prop = rng.choice(PROPERTIES[self.obj])[0]
        return {"type": "CUSTOM_CODE", "actionId": action_id, "runtime": "NODE20X",
                "sourceCode": ("exports.main = async (event, callback) => {\n"
                               f"  const value = event.inputFields['{prop}'];\n"
                               "  callback({ outputFields: { score: value ? 10 : 0 } });\n};\n"),
                "secretNames": [],
                "inputFields": [{"name": prop, "value": {"type": "OBJECT_PROPERTY", "propertyName": prop}}],
                "outputFields": [{"name": "score", "type": "NUMBER"}]}

    def branch_action(self, action_id: str, outlets: int) -> tuple[dict[str, Any], list[Callable]]:
        """A branch with ``outlets`` exits (the last one is the default);
        returns the action and a setter per exit to attach its path."""
        rng = self.rng
        if rng.random() < 0.6:
            branches = [{"branchName": f"Path {chr(65 + i)}", "filterBranch": self.filter_branch()}
                        for i in range(outlets - 1)]
            action = {"type": "LIST_BRANCH", "actionId": action_id, "listBranches": branches,
                      "defaultBranchName": "None met"}
        else:
            prop, values = rng.choice(PROPERTIES[self.obj])
            chosen = rng.sample(values, k=min(outlets - 1, len(values)))
            branches = [{"branchValue": v} for v in chosen]
            action = {"type": "STATIC_BRANCH", "actionId": action_id,
                      "inputValue": {"type": "OBJECT_PROPERTY", "propertyName": prop},
                      "staticBranches": branches, "defaultBranchName": "Other"}

        def setter_for(target: dict[str, Any], key: str) -> Callable[[str], None]:
            def attach(next_id: str) -> None:
                target[key] = {"edgeType": "STANDARD", "nextActionId": next_id}
            return attach

        setters = [setter_for(b, "connection") for b in branches]
        setters.append(setter_for(action, "defaultBranch"))
        return action, setters

    def chain(self, budget: int, depth: int) -> str | None:
        """Build a path of exactly ``budget`` actions; return its first id."""
        first: str | None = None
        attach: Callable[[str], None] | None = None
        while budget > 0:
            action_id = self._new_id()
            if first is None:
                first = action_id
            if attach is not None:
                attach(action_id)
            if budget >= 4 and depth < 4 and self.rng.random() < 0.12:
                outlets = self.rng.randint(2, 3)
                action, setters = self.branch_action(action_id, outlets)
                self.actions.append(action)
                remaining = budget - 1
                shares = self._split(remaining, len(setters))
                for setter, share in zip(setters, shares):
                    start = self.chain(share, depth + 1)
                    if start is not None:
                        setter(start)
                return first
            action = self.single_action(action_id)
            self.actions.append(action)

            def attach(next_id: str, _a: dict[str, Any] = action) -> None:
                _a["connection"] = {"edgeType": "STANDARD", "nextActionId": next_id}
            budget -= 1
        return first

    def _split(self, total: int, parts: int) -> list[int]:
        cuts = sorted(self.rng.randint(0, total) for _ in range(parts - 1))
        edges = [0, *cuts, total]
        return [edges[i + 1] - edges[i] for i in range(parts)]

    # settings --------------------------------------------------------------
    def enrollment(self) -> dict[str, Any]:
        rng = self.rng
        pick = rng.random()
        if pick < 0.55:
            return {"type": "LIST_BASED", "shouldReEnroll": rng.random() < 0.3,
                    "unEnrollObjectsNotMeetingCriteria": rng.random() < 0.2,
                    "listFilterBranch": self.filter_branch(),
                    "reEnrollmentTriggersFilterBranches": []}
        if pick < 0.85:
            return {"type": "EVENT_BASED", "shouldReEnroll": rng.random() < 0.5,
                    "eventFilterBranches": [{"filterBranchType": "UNIFIED_EVENTS",
                                             "filterBranchOperator": "AND",
                                             "eventTypeId": rng.choice(EVENT_TYPE_IDS),
                                             "operator": "HAS_COMPLETED",
                                             "filterBranches": [], "filters": []}],
                    "listMembershipFilterBranches": []}
        return {"type": "MANUAL", "shouldReEnroll": False}

    def time_windows(self) -> list[dict[str, Any]]:
        if self.rng.random() >= 0.4:
            return []
        start, end = self.rng.choice(((8, 18), (9, 17), (7, 15)))
        return [{"day": d, "startTime": {"hour": start, "minute": 0}, "endTime": {"hour": end, "minute": 0}}
                for d in DAYS]

    def blocked_dates(self) -> list[dict[str, Any]]:
        if self.rng.random() >= 0.25:
            return []
        return [{"dayOfMonth": 25, "month": 12, "year": 2026}, {"dayOfMonth": 26, "month": 12, "year": 2026},
                {"dayOfMonth": 1, "month": 1, "year": 2027}][: self.rng.randint(1, 3)]


def generate_body(record: FlowRecord) -> dict[str, Any]:
    """The non-meta part of a generated flow (deterministic per record)."""
    rng = random.Random(record.gen_seed)
    builder = _BodyBuilder(rng, record.object_type_id)
    start = builder.chain(record.size, 0)
    body: dict[str, Any] = {}
    if rng.random() < 0.4:
        body["description"] = f"Maintained by the {rng.choice(('Marketing Ops', 'RevOps', 'Sales Ops', 'Support Ops'))} team."
    body["startActionId"] = start
    body["nextAvailableActionId"] = str(builder._next)
    body["actions"] = builder.actions
    body["enrollmentCriteria"] = builder.enrollment()
    if rng.random() < 0.1:
        body["enrollmentSchedule"] = {"type": "DAILY", "timeOfDay": {"hour": 9, "minute": 0}}
    body["timeWindows"] = builder.time_windows()
    body["blockedDates"] = builder.blocked_dates()
    body["customProperties"] = {"owner_team": "Marketing Ops"} if rng.random() < 0.15 else {}
    body["dataSources"] = []
    if record.object_type_id == CONTACT:
        body["suppressionListIds"] = [rng.randint(100, 9_999)] if rng.random() < 0.3 else []
        body["canEnrollFromSalesforce"] = False
        if record.anchor == "PROPERTY":
            body["eventAnchor"] = {"type": "CONTACT_PROPERTY_ANCHOR", "contactPropertyAnchor": "renewal_date"}
        elif record.anchor == "STATIC":
            body["eventAnchor"] = {"type": "STATIC_DATE_ANCHOR",
                                   "staticDateAnchor": {"dayOfMonth": 15, "month": 11, "year": 2026}}
        if rng.random() < 0.15:
            body["goalFilterBranch"] = builder.filter_branch()
        if rng.random() < 0.2:
            body["unEnrollmentSetting"] = {"type": "SELECTIVE", "flowIds": []}
    elif rng.random() < 0.2:
        body["suppressionFilterBranch"] = builder.filter_branch()
    return body


def new_body(rng: random.Random, object_type_id: str, size: int) -> dict[str, Any]:
    """A fresh body for a flow added by drift."""
    probe = FlowRecord(flow_id=0, object_type_id=object_type_id, name=None, uuid="", is_enabled=False,
                       revision=1, created_ms=0, updated_ms=0, gen_seed=rng.getrandbits(63), size=size)
    return generate_body(probe)


def next_action_id(actions: list[Any]) -> str:
    highest = 0
    for action in actions:
        if isinstance(action, dict):
            try:
                highest = max(highest, int(str(action.get("actionId", "0"))))
            except ValueError:
                pass
    return str(highest + 1)


# -- store ---------------------------------------------------------------------

class FlowNotFound(KeyError):
    pass


class RevisionConflict(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


class CreationPending(Exception):
    pass


class FlowStore:
    """All flows of one portal. Every public method is thread-safe."""

    def __init__(self, portal_id: int, seed: int, count: int, *,
                 creation_pending_s: float = 0.0,
                 clock: Callable[[], float] | None = None,
                 wall_ms: Callable[[], int] | None = None) -> None:
        self.portal_id = portal_id
        self._clock = clock or time.monotonic
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self._creation_pending_s = creation_pending_s
        self._lock = threading.RLock()
        records = generate_records(seed, portal_id, count)
        self._records: dict[int, FlowRecord] = {r.flow_id: r for r in records}
        self._ids: list[int] = [r.flow_id for r in records]
        self._by_workflow_id: dict[int, int] = {r.workflow_id: r.flow_id for r in records
                                                if r.workflow_id is not None}
        self._last_id = self._ids[-1] if self._ids else 1_400_000_000 + (portal_id % 1000) * 10_000_000
        self._last_workflow_id = max(self._by_workflow_id, default=20_000_000 + (portal_id % 1000) * 1_000_000)
        self._history: dict[int, OrderedDict[int, dict[str, Any]]] = {}
        self._rng = random.Random(f"wg-demo-store:{seed}:{portal_id}")
        self._cache: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._cache_size = 256

    # reading ------------------------------------------------------------------
    def count(self) -> int:
        with self._lock:
            return len(self._ids)

    def flow_ids(self) -> list[int]:
        with self._lock:
            return list(self._ids)

    def has(self, flow_id: int) -> bool:
        with self._lock:
            return flow_id in self._records

    def page(self, after_id: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Listings with id > after_id; the second value is the last id when
        more follow, else None."""
        with self._lock:
            start = 0 if after_id is None else bisect_right(self._ids, after_id)
            chunk = self._ids[start:start + limit]
            more = start + limit < len(self._ids)
            items = [self._listing(self._records[i]) for i in chunk]
        return items, (chunk[-1] if more and chunk else None)

    def get(self, flow_id: int) -> dict[str, Any]:
        with self._lock:
            record = self._records.get(flow_id)
            if record is None:
                raise FlowNotFound(flow_id)
            snapshot = self._snapshot(record)
            body = record.body
        if body is None:
            body = self._generated(snapshot)
        return self._compose(snapshot, body)

    def revision(self, flow_id: int, revision: int) -> tuple[dict[str, Any], int] | None:
        """(flow as of that revision, when the revision was made) or None."""
        with self._lock:
            record = self._records.get(flow_id)
            old = self._history.get(flow_id, {}).get(revision)
            if old is not None:
                return copy.deepcopy(old), _parse_iso_ms(old["updatedAt"])
            if record is None or record.revision != revision:
                return None
        current = self.get(flow_id)
        return current, _parse_iso_ms(current["updatedAt"])

    def records(self) -> Iterator[FlowRecord]:
        """Snapshots of all records (for the v3 list)."""
        with self._lock:
            return iter([self._snapshot(self._records[i]) for i in self._ids])

    def by_workflow_id(self, workflow_id: int) -> int | None:
        with self._lock:
            return self._by_workflow_id.get(workflow_id)

    def record(self, flow_id: int) -> FlowRecord:
        with self._lock:
            record = self._records.get(flow_id)
            if record is None:
                raise FlowNotFound(flow_id)
            return self._snapshot(record)

    # writing ------------------------------------------------------------------
    def replace(self, flow_id: int, revision_id: int, content: dict[str, Any], *,
                name: str | None, is_enabled: bool, uuid: str | None) -> dict[str, Any]:
        """PUT: full replace of the non-meta content, guarded by revision."""
        with self._lock:
            record = self._records.get(flow_id)
            if record is None:
                raise FlowNotFound(flow_id)
            if record.pending_until and self._clock() < record.pending_until:
                raise CreationPending(flow_id)
            if revision_id != record.revision:
                raise RevisionConflict(record.revision)
            previous = record.body if record.body is not None else self._generated(self._snapshot(record))
            self._archive(record, previous)
            content = copy.deepcopy(content)
            content["dataSources"] = copy.deepcopy(previous.get("dataSources", []))
            actions = content.get("actions") or []
            content["nextAvailableActionId"] = str(max(int(next_action_id(actions)),
                                                       _int_or(previous.get("nextAvailableActionId"), 1)))
            record.body = content
            record.name = name
            record.is_enabled = is_enabled
            if uuid:
                record.uuid = uuid
            self._bump(record)
            snapshot = self._snapshot(record)
        return self._compose(snapshot, content)

    def create(self, object_type_id: str, content: dict[str, Any], *, name: str | None,
               is_enabled: bool, uuid: str | None = None) -> dict[str, Any]:
        with self._lock:
            self._last_id += self._rng.randint(1, 9_000)
            now = self._wall_ms()
            record = FlowRecord(flow_id=self._last_id, object_type_id=object_type_id, name=name,
                                uuid=uuid or _uuid_from(self._rng), is_enabled=is_enabled, revision=1,
                                created_ms=now, updated_ms=now, gen_seed=0, size=0)
            if object_type_id == CONTACT:
                self._last_workflow_id += self._rng.randint(1, 500)
                record.workflow_id = self._last_workflow_id
                self._by_workflow_id[record.workflow_id] = record.flow_id
            content = copy.deepcopy(content)
            content.setdefault("dataSources", [])
            content["nextAvailableActionId"] = next_action_id(content.get("actions") or [])
            record.body = content
            if self._creation_pending_s > 0:
                record.pending_until = self._clock() + self._creation_pending_s
            self._records[record.flow_id] = record
            self._ids.append(record.flow_id)
            snapshot = self._snapshot(record)
        return self._compose(snapshot, content)

    def delete(self, flow_id: int) -> None:
        with self._lock:
            record = self._records.pop(flow_id, None)
            if record is None:
                raise FlowNotFound(flow_id)
            index = bisect_right(self._ids, flow_id) - 1
            del self._ids[index]
            if record.workflow_id is not None:
                self._by_workflow_id.pop(record.workflow_id, None)

    def modify(self, flow_id: int, change: Callable[[FlowRecord, dict[str, Any]], None]) -> int:
        """Apply ``change(record, body_copy)`` as a new revision; returns it."""
        with self._lock:
            record = self._records.get(flow_id)
            if record is None:
                raise FlowNotFound(flow_id)
            previous = record.body if record.body is not None else self._generated(self._snapshot(record))
            self._archive(record, previous)
            body = copy.deepcopy(previous)
            change(record, body)
            body["nextAvailableActionId"] = str(max(int(next_action_id(body.get("actions") or [])),
                                                    _int_or(body.get("nextAvailableActionId"), 1)))
            record.body = body
            self._bump(record)
            return record.revision

    def pick(self, rng: random.Random, predicate: Callable[[FlowRecord], bool] | None = None) -> int | None:
        with self._lock:
            if not self._ids:
                return None
            if predicate is None:
                return rng.choice(self._ids)
            for _ in range(20):
                candidate = rng.choice(self._ids)
                if predicate(self._records[candidate]):
                    return candidate
            matches = [i for i in self._ids if predicate(self._records[i])]
            return rng.choice(matches) if matches else None

    # internals ----------------------------------------------------------------
    def _bump(self, record: FlowRecord) -> None:
        record.revision += 1
        record.updated_ms = max(self._wall_ms(), record.updated_ms + 1)

    def _archive(self, record: FlowRecord, body: dict[str, Any]) -> None:
        history = self._history.setdefault(record.flow_id, OrderedDict())
        history[record.revision] = copy.deepcopy(self._compose(self._snapshot(record), body))
        while len(history) > MAX_HISTORY_PER_FLOW:
            history.popitem(last=False)

    @staticmethod
    def _snapshot(record: FlowRecord) -> FlowRecord:
        return FlowRecord(record.flow_id, record.object_type_id, record.name, record.uuid,
                          record.is_enabled, record.revision, record.created_ms, record.updated_ms,
                          record.gen_seed, record.size, record.workflow_id, record.anchor,
                          record.body, record.pending_until)

    def _generated(self, record: FlowRecord) -> dict[str, Any]:
        key = (record.flow_id, record.gen_seed)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        body = generate_body(record)
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return body

    def _status(self, record: FlowRecord) -> str:
        if record.pending_until and self._clock() < record.pending_until:
            return "PENDING"
        return "COMPLETE"

    @staticmethod
    def _listing(record: FlowRecord) -> dict[str, Any]:
        item: dict[str, Any] = {"id": str(record.flow_id), "isEnabled": record.is_enabled,
                                "flowType": "WORKFLOW", "objectTypeId": record.object_type_id,
                                "revisionId": str(record.revision),
                                "createdAt": iso_ms(record.created_ms), "updatedAt": iso_ms(record.updated_ms)}
        if record.name is not None:
            item["name"] = record.name
        item["uuid"] = record.uuid
        return item

    def _compose(self, record: FlowRecord, body: dict[str, Any]) -> dict[str, Any]:
        flow: dict[str, Any] = {"id": str(record.flow_id), "uuid": record.uuid}
        if record.name is not None:
            flow["name"] = record.name
        flow.update({"type": flow_type_for(record.object_type_id), "flowType": "WORKFLOW",
                     "objectTypeId": record.object_type_id, "isEnabled": record.is_enabled,
                     "revisionId": str(record.revision), "createdAt": iso_ms(record.created_ms),
                     "updatedAt": iso_ms(record.updated_ms),
                     "crmObjectCreationStatus": self._status(record)})
        for key, value in body.items():
            if key not in META_KEYS:
                flow[key] = value
        return flow


def _int_or(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _parse_iso_ms(text: str) -> int:
    stamp = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp() * 1000)
