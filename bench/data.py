"""A realistic, seeded event mix shared by every workload.

Three tenants (80 / 15 / 5 % of the events), 20 event types with a Zipf-like skew, each
belonging to one of 5 aggregate types, 100,000 aggregates (split by tenant and type, some
hot), a few hundred resource owners (per aggregate, skewed) and editors (per append), and
JSON payloads of 100-300 bytes. The same :class:`Spec` feeds Chronik (as a ``NewEvent``),
the raw table (as a row) and eventsourcing (as a ``StoredEvent``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from chronik.records import Editor, NewEvent

TENANTS = [("bench-main", 0.80), ("bench-second", 0.15), ("bench-small", 0.05)]

# (event type, aggregate type), most frequent first; weights follow 1 / rank ** 1.1.
EVENT_TYPES = [
    ("user.token.added", "user"),
    ("user.human.changed", "user"),
    ("project.changed", "project"),
    ("user.human.added", "user"),
    ("policy.login.changed", "policy"),
    ("user.human.password.changed", "user"),
    ("project.role.added", "project"),
    ("action.changed", "action"),
    ("user.human.email.verified", "user"),
    ("org.member.added", "org"),
    ("project.added", "project"),
    ("user.machine.added", "user"),
    ("policy.password.changed", "policy"),
    ("action.added", "action"),
    ("project.grant.added", "project"),
    ("user.removed", "user"),
    ("org.domain.added", "org"),
    ("action.deactivated", "action"),
    ("org.added", "org"),
    ("policy.lockout.added", "policy"),
]
TYPE_WEIGHTS = [1 / (rank + 1) ** 1.1 for rank in range(len(EVENT_TYPES))]
AGGREGATE_TYPES = ["user", "project", "policy", "action", "org"]
AGGREGATES = 100_000
OWNERS = 300
EDITORS = 300
SERVICES = ["console", "management-api", "admin-api", "scheduler"]


@dataclass(slots=True, frozen=True)
class Spec:
    """One event to write, before any backend-specific encoding."""

    aggregate_type: str
    aggregate_id: str
    resource_owner: str
    type: str
    payload: dict[str, Any]
    payload_json: str


@dataclass(slots=True)
class Batch:
    """One append: a tenant, its editor, and its events."""

    tenant: int
    editor: Editor
    specs: list[Spec]


_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
)


def _share(total: int, tenant: int) -> int:
    return max(1, round(total * TENANTS[tenant][1]))


class Model:
    """The seeded universe of tenants, aggregates, owners and editors."""

    def __init__(self, seed: int = 42, payloads: int = 4000) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.tenant_weights = [w for _, w in TENANTS]
        # Aggregates per (tenant, aggregate type), in proportion to the tenant's share and
        # the type's share of the events.
        type_share: dict[str, float] = dict.fromkeys(AGGREGATE_TYPES, 0.0)
        for (_, agg), w in zip(EVENT_TYPES, TYPE_WEIGHTS, strict=True):
            type_share[agg] += w
        total = sum(type_share.values())
        self.aggregates: list[dict[str, list[tuple[str, str]]]] = []
        self.editors: list[list[Editor]] = []
        for t in range(len(TENANTS)):
            owners = [
                f"{300_000_000_000_000_000 + t * 1_000_000 + i * 7919}"
                for i in range(_share(OWNERS, t))
            ]
            by_type: dict[str, list[tuple[str, str]]] = {}
            for agg in AGGREGATE_TYPES:
                n = max(10, round(_share(AGGREGATES, t) * type_share[agg] / total))
                ids = []
                for i in range(n):
                    agg_id = f"{200_000_000_000_000_000 + rng.getrandbits(56)}"
                    # Owners are skewed: a few organisations own most aggregates.
                    owner = owners[int(len(owners) * rng.random() ** 2)]
                    ids.append((agg_id, owner))
                    del i
                by_type[agg] = ids
            self.aggregates.append(by_type)
            self.editors.append(
                [
                    Editor(
                        user_id=f"{100_000_000_000_000_000 + t * 1_000_000 + i * 104729}",
                        service=SERVICES[i % len(SERVICES)],
                    )
                    for i in range(_share(EDITORS, t))
                ]
            )
        self.payloads = [self._payload() for _ in range(payloads)]
        self.payload_json = [msgspec.json.encode(p).decode() for p in self.payloads]

    def _payload(self) -> dict[str, Any]:
        rng = self.rng
        target = rng.randint(100, 300)
        payload: dict[str, Any] = {
            "userName": f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}{rng.randint(1, 999)}",
            "email": f"{rng.choice(_WORDS)}@example.com",
            "version": rng.randint(1, 40),
        }
        note: list[str] = []
        while len(msgspec.json.encode(payload)) + len(" ".join(note)) + 11 < target:
            note.append(rng.choice(_WORDS))
        payload["description"] = " ".join(note)
        return payload

    def spec(self, tenant: int) -> Spec:
        rng = self.rng
        etype, agg = rng.choices(EVENT_TYPES, TYPE_WEIGHTS)[0]
        pool = self.aggregates[tenant][agg]
        # A hot set: the first aggregates of each pool are written far more often.
        agg_id, owner = pool[int(len(pool) * rng.random() ** 3)]
        i = rng.randrange(len(self.payloads))
        return Spec(agg, agg_id, owner, etype, self.payloads[i], self.payload_json[i])

    def tenant(self) -> int:
        return self.rng.choices(range(len(TENANTS)), self.tenant_weights)[0]

    def batch(self, size: int, tenant: int | None = None) -> Batch:
        t = self.tenant() if tenant is None else tenant
        editor = self.editors[t][int(len(self.editors[t]) * self.rng.random() ** 1.5)]
        return Batch(t, editor, [self.spec(t) for _ in range(size)])

    def batches(self, count: int, size: int) -> list[Batch]:
        return [self.batch(size) for _ in range(count)]


def new_events(batch: Batch) -> list[NewEvent]:
    return [
        NewEvent(
            aggregate_type=s.aggregate_type,
            aggregate_id=s.aggregate_id,
            type=s.type,
            payload=s.payload,
            resource_owner=s.resource_owner,
        )
        for s in batch.specs
    ]


class RawRows:
    """Turns specs into rows of the ``events`` table, as a plain application would: it keeps
    the sequence and the aggregate versions in memory and makes unique locators cheaply."""

    def __init__(self, start_sequence: int = 0) -> None:
        self.sequence = start_sequence
        self.versions: dict[tuple[int, str, str], int] = {}
        self.requests = 0

    def rows(self, batch: Batch, created_at: Any) -> list[tuple[Any, ...]]:
        self.requests += 1
        request = f"R{self.requests:025d}"
        editor = batch.editor
        tenant_key = batch.tenant + 1
        out = []
        versions = self.versions
        for s in batch.specs:
            self.sequence += 1
            key = (tenant_key, s.aggregate_type, s.aggregate_id)
            version = versions.get(key, 0) + 1
            versions[key] = version
            out.append(
                (
                    self.sequence,
                    tenant_key,
                    f"L{self.sequence:025d}",
                    s.aggregate_type,
                    s.aggregate_id,
                    version,
                    s.resource_owner,
                    s.type,
                    1,
                    s.payload_json,
                    editor.user_id,
                    editor.service,
                    request,
                    created_at,
                )
            )
        return out


class StoredEvents:
    """Turns specs into eventsourcing ``StoredEvent`` objects (one UUID per aggregate)."""

    def __init__(self) -> None:
        from eventsourcing.persistence import StoredEvent

        self._stored_event = StoredEvent
        self.versions: dict[tuple[int, str, str], tuple[uuid.UUID, int]] = {}

    def events(self, batch: Batch) -> list[Any]:
        out = []
        for s in batch.specs:
            key = (batch.tenant, s.aggregate_type, s.aggregate_id)
            known = self.versions.get(key)
            originator, version = known if known else (uuid.uuid4(), 0)
            version += 1
            self.versions[key] = (originator, version)
            out.append(
                self._stored_event(
                    originator_id=originator,
                    originator_version=version,
                    topic=s.type,
                    state=s.payload_json.encode(),
                )
            )
        return out
