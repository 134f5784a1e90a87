"""The ZITADEL RPCs Chronik serves, read from the protos: one :class:`Method` per RPC with its
messages, HTTP rule, permission and translation, and :func:`serve`, which every transport
(gRPC, gRPC-web, grpc-gateway JSON) calls to answer one.

A translation takes a :class:`Call` and the RPC's request message and returns its response
as plain :data:`Data`; it never sees the transport. The protos are the one definition of the
messages and of the JSON routes (their ``google.api.http`` rules), as grpc-gateway reads them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.api.annotations_pb2 import http as http_option
from google.api.http_pb2 import HttpRule as HttpRuleOption
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, PermissionDenied
from chronik.events.catalogue import pick_language
from chronik.records import Editor
from chronik.services import Chronik

K = TypeVar("K")
V = TypeVar("V")

Header = Callable[[str], str | None]
"""A request header (gRPC metadata) by its lower-case name; ``None`` when absent."""


def organisation(caller: Principal, named: str | None) -> str:
    """The organisation a call acts in: the caller's, or the one named by ``x-zitadel-orgid``
    (any of its tenant's for a token holding ``IAM_OWNER``, otherwise only its own)."""
    if named is None or named == caller.organisation_id:
        return caller.organisation_id
    if "IAM_OWNER" not in caller.roles:
        raise PermissionDenied(
            f"this token may not act in organisation {named!r}", organisation=named
        )
    if len(named) > 200 or "\x00" in named:
        raise InvalidArgument("x-zitadel-orgid is not an organisation id")
    return named


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated call, as a translation sees it."""

    chronik: Chronik
    caller: Principal
    language: str
    named_organisation: str | None
    """The ``x-zitadel-orgid`` header as sent (Management API calls act in it)."""

    def organisation(self) -> str:
        """The organisation a Management call acts in (see :func:`organisation`)."""
        return organisation(self.caller, self.named_organisation)

    def editor(self, service: str) -> Editor:
        """Who the events a write appends are recorded as written by."""
        return Editor(user_id=self.caller.subject, service=service)


Data = dict[str, Any]
"""A message as plain data: a dict keyed by proto field name (see
:mod:`chronik.api.rpc.protojson`); ``Response(**data)`` builds it."""


class Shared(dict[str, Any]):
    """Plain data that stays the same for as long as it lives and is handed out again (a
    stored event's message, say): never changed once built, so a transport may keep what it
    made of it (the built message, its JSON) for the next answer that holds it."""

    __slots__ = ()


class Lru(Generic[K, V]):
    """The ``size`` most recently used values by key."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._values.get(key)
        if found is not None:
            self._values.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._values[key] = value
        if len(self._values) > self._size:
            self._values.popitem(last=False)


KEPT = 2048
"""How many :class:`Shared` data a transport keeps what it made of (and how many events'
:class:`Shared` data a translation keeps)."""


class Kept:
    """What a transport made of :class:`Shared` data, for the most recently used of them.
    Keyed by the data's identity; each entry holds the data too, so that no other object
    can take its id while the entry lives."""

    def __init__(self, make: Callable[[Shared], Any], size: int = KEPT) -> None:
        self._make = make
        self._kept: Lru[int, tuple[Shared, Any]] = Lru(size)

    def __call__(self, data: Shared) -> Any:
        found = self._kept.get(id(data))
        if found is not None:
            return found[1]
        made = self._make(data)
        self._kept.put(id(data), (data, made))
        return made


Translate = Callable[[Call, Any], Awaitable[Data]]


@dataclass(frozen=True, slots=True)
class Served:
    """What Chronik adds to an RPC of the protos: the permission it needs (checked before the
    request is read) and its translation."""

    permission: str
    translate: Translate


@dataclass(frozen=True, slots=True)
class HttpRule:
    """An RPC's ``google.api.http`` rule: how grpc-gateway serves it as JSON."""

    verb: str
    """``GET``, ``POST``, ``PUT``, ``DELETE`` or ``PATCH``."""
    path: str
    """The path template (``/admin/v1/failedevents/{database}/{view_name}/…``); each
    ``{field}`` is a field of the request message."""
    body: str
    """``*``: the body is the request message; empty: there is no body (the query string
    sets fields)."""


@dataclass(frozen=True, slots=True)
class Method:
    service: str
    """The service's full name (``zitadel.admin.v1.AdminService``)."""
    name: str
    request: type[Message]
    response: type[Message]
    http: HttpRule
    permission: str
    translate: Translate

    @property
    def path(self) -> str:
        """The gRPC (and gRPC-web) path: ``/zitadel.admin.v1.AdminService/ListEvents``."""
        return f"/{self.service}/{self.name}"


def _http_rule(rule: HttpRuleOption) -> HttpRule:
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        raise ValueError(f"unsupported HTTP rule {rule}")
    return HttpRule(verb.upper(), getattr(rule, verb), rule.body)


def _rule_of(method: MethodDescriptor) -> HttpRuleOption:
    extensions: Any = method.GetOptions().Extensions  # typeshed's key type misses extensions
    rule: HttpRuleOption = extensions[http_option]
    return rule


def methods_of(service: ServiceDescriptor, served: Mapping[str, Served]) -> tuple[Method, ...]:
    """The methods of ``service``: every RPC of its proto must be served (the protos hold
    only what Chronik serves), and nothing else may be."""
    names = {m.name for m in service.methods}
    if names != set(served):
        raise ValueError(f"{service.full_name}: served {sorted(served)}, declared {sorted(names)}")
    return tuple(
        Method(
            service=service.full_name,
            name=m.name,
            request=GetMessageClass(m.input_type),
            response=GetMessageClass(m.output_type),
            http=_http_rule(_rule_of(m)),
            permission=served[m.name].permission,
            translate=served[m.name].translate,
        )
        for m in service.methods
    )


async def serve(
    method: Method,
    chronik: Chronik,
    header: Header,
    read: Callable[[type[Message]], Awaitable[Message]],
) -> Data:
    """Answer one call of ``method``: authenticate (from the ``authorization`` header), check
    the method's permission, only then ``read`` the request message, and translate it. A
    refusal is a :class:`~chronik.errors.ChronikError` for the transport to render."""
    caller = await chronik.authenticator.authenticate(header("authorization"))
    caller.require(method.permission)
    request = await read(method.request)
    _refuse_nul(request, "")
    call = Call(
        chronik, caller, pick_language(header("accept-language")), header("x-zitadel-orgid")
    )
    return await method.translate(call, request)


def _refuse_nul(message: Message, where: str) -> None:
    """No string of a request may hold a NUL character: no PostgreSQL text can store one,
    and gRPC, unlike JSON, carries it without an escape."""
    for field, value in message.ListFields():
        name = f"{where}.{field.json_name}" if where else field.json_name
        values = value if field.is_repeated else (value,)
        if field.type == FieldDescriptor.TYPE_STRING:
            if any("\x00" in v for v in values):
                raise InvalidArgument(f"{name} holds a NUL (\\u0000) character", field=name)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for i, v in enumerate(values):
                _refuse_nul(v, f"{name}[{i}]" if field.is_repeated else name)


def all_methods() -> tuple[Method, ...]:
    """Every RPC Chronik serves, of every service."""
    from chronik.api.rpc import admin, management

    return admin.METHODS + management.METHODS
