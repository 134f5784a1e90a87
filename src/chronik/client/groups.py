"""Consumer groups over HTTP (``/v1/groups``), as :class:`~chronik.groups.ConsumerGroups`
offers them: the same calls and arguments, answered with the core records
(:class:`~chronik.records.ConsumerGroup`, :class:`~chronik.records.FailedEvent` for a parked
event); a fetched event and a group's status with the client's own records of the same
shape (:class:`Handed`, :class:`GroupStatus`), since the client does not import the core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from chronik.client import wire
from chronik.records import ConsumerGroup, Event, FailedEvent, GroupSettings

if TYPE_CHECKING:
    from chronik.client.core import AsyncClient

ROOT = "/v1/groups"
PARKED_DATABASE = "groups"
"""The ``database`` of a group's parked events (the native answer does not repeat it)."""


@dataclass(frozen=True, slots=True)
class Handed:
    """An event lent to a consumer, and how many times it has been handed out (as
    :class:`chronik.groups.Handed`)."""

    event: Event
    deliveries: int


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """Where a group stands (as :class:`chronik.groups.GroupStatus`)."""

    group: ConsumerGroup
    position: int
    """The last sequence the group has handed out for the first time."""
    head: int
    in_flight: int
    parked: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class RemoteGroups:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        tenant_id: str,
        name: str,
        settings: GroupSettings | None = None,
        *,
        start: Literal["head", "beginning"] = "head",
    ) -> ConsumerGroup:
        """A new group that hands out the events appended from now on (``head``) or every
        event of the log (``beginning``); :class:`~chronik.errors.AlreadyExists` if the
        name is taken."""
        await self._client.check_tenant(tenant_id)
        s = settings or GroupSettings()
        body = {
            "name": name,
            "eventTypes": list(s.event_types),
            "ackTimeoutSeconds": s.ack_timeout_seconds,
            "maxDeliveries": s.max_deliveries,
            "retrySeconds": s.retry_seconds,
            "start": start,
        }
        found = await self._client.call("POST", ROOT, json=body, safe=False)
        return _status(tenant_id, found).group

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup:
        return (await self.status(tenant_id, name)).group

    async def find(self, tenant_id: str) -> list[ConsumerGroup]:
        await self._client.check_tenant(tenant_id)
        found = await self._client.call("GET", ROOT, safe=True)
        return [_status(tenant_id, g).group for g in found["groups"]]

    async def delete(self, tenant_id: str, name: str) -> None:
        """Remove a group with its position and parked events."""
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", _path(name), safe=False)

    async def status(self, tenant_id: str, name: str) -> GroupStatus:
        await self._client.check_tenant(tenant_id)
        return _status(tenant_id, await self._client.call("GET", _path(name), safe=True))

    async def fetch(
        self,
        tenant_id: str,
        name: str,
        consumer: str,
        *,
        limit: int = 100,
        wait_seconds: float = 0.0,
    ) -> list[Handed]:
        """Up to ``limit`` events lent to ``consumer``: first those to hand out again, then
        new ones in sequence order; with ``wait_seconds`` (at most 30), the server waits
        that long for one when there is none. Not repeated after a lost answer: the events
        it lent come back to the group after its ack timeout."""
        await self._client.check_tenant(tenant_id)
        body = {"consumer": consumer, "limit": limit, "waitSeconds": wait_seconds}
        found = await self._client.call(
            "POST", f"{_path(name)}/fetch", json=body, safe=False, wait=wait_seconds
        )
        return [Handed(wire.event(h["event"]), h["deliveries"]) for h in found["events"]]

    async def ack(self, tenant_id: str, name: str, sequences: Sequence[int]) -> list[int]:
        """Done with these: the ones that were in flight (returned) are settled for good. A
        repeat settles nothing more, so a lost answer is retried."""
        await self._client.check_tenant(tenant_id)
        body = {"sequences": list(sequences)}
        found = await self._client.call("POST", f"{_path(name)}/ack", json=body, safe=True)
        return [int(s) for s in found["sequences"]]

    async def nack(
        self,
        tenant_id: str,
        name: str,
        sequences: Sequence[int],
        *,
        action: Literal["retry", "park"] = "retry",
        reason: str = "",
    ) -> list[int]:
        """Not done: hand these out again after the group's ``retry_seconds`` (``retry``),
        or park them now (``park``); the ones that were in flight are returned."""
        await self._client.check_tenant(tenant_id)
        body = {"sequences": list(sequences), "action": action, "reason": reason}
        found = await self._client.call("POST", f"{_path(name)}/nack", json=body, safe=False)
        return [int(s) for s in found["sequences"]]

    async def parked(self, tenant_id: str, name: str) -> list[FailedEvent]:
        """The group's parked events, by sequence: ``failure_count`` is how many times each
        was handed out."""
        await self._client.check_tenant(tenant_id)
        found = await self._client.call("GET", f"{_path(name)}/parked", safe=True)
        return [_parked(tenant_id, name, p) for p in found["parked"]]

    async def replay(self, tenant_id: str, name: str, sequence: int | None = None) -> int:
        """Hand parked events (one, or all) out again with the next fetch; how many."""
        await self._client.check_tenant(tenant_id)
        body = {} if sequence is None else {"sequence": sequence}
        found = await self._client.call("POST", f"{_path(name)}/_replay", json=body, safe=False)
        return int(found["replayed"])

    async def delete_parked(self, tenant_id: str, name: str, sequence: int) -> None:
        await self._client.check_tenant(tenant_id)
        await self._client.call("DELETE", f"{_path(name)}/parked/{sequence}", safe=False)


def _path(name: str) -> str:
    return f"{ROOT}/{quote(name, safe='')}"


def _status(tenant_id: str, d: dict[str, Any]) -> GroupStatus:
    group = ConsumerGroup(
        tenant_id=tenant_id,
        name=d["name"],
        settings=GroupSettings(
            event_types=tuple(d["eventTypes"]),
            ack_timeout_seconds=d["ackTimeoutSeconds"],
            max_deliveries=d["maxDeliveries"],
            retry_seconds=d["retrySeconds"],
        ),
        created_at=wire.time(d["createdAt"]),
    )
    return GroupStatus(
        group=group,
        position=int(d["position"]),
        head=int(d["head"]),
        in_flight=d["inFlight"],
        parked=d["parked"],
    )


def _parked(tenant_id: str, name: str, d: dict[str, Any]) -> FailedEvent:
    return FailedEvent(
        view=f"group.{name}",
        tenant_id=tenant_id,
        database=PARKED_DATABASE,
        sequence=int(d["sequence"]),
        failure_count=d["deliveries"],
        error=d["error"],
        first_failed=wire.time(d["firstFailed"]),
        last_failed=wire.time(d["lastFailed"]),
    )
