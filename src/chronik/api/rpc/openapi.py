"""The OpenAPI description of the grpc-gateway JSON routes, read from the protos: each
message's schema as protojson writes it (camelCase names, 64-bit integers as strings, enums
by name, Timestamps as RFC 3339), each route's from its HTTP rule."""

from __future__ import annotations

import re
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from chronik.api.rpc.methods import Method, all_methods
from chronik.api.rpc.protojson import INT64

_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
_UNSIGNED = {FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.500s"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
}


def _descriptor(message: type[Message]) -> Descriptor:
    return cast(Descriptor, message.DESCRIPTOR)


def _ref(descriptor: Descriptor) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{descriptor.full_name}"}


def _field_schema(field: FieldDescriptor, found: dict[str, Any], writing: bool) -> dict[str, Any]:
    kind = field.type
    schema: dict[str, Any]
    if kind == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        assert message is not None
        schema = dict(_WELL_KNOWN.get(message.full_name) or _ref(message))
        if message.full_name not in _WELL_KNOWN:
            _collect(message, found, writing)
    elif kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        assert enum is not None
        names = [v.name for v in enum.values]
        # protojson writes the name; it reads the name or the number.
        schema = {"type": "string", "enum": names}
        if not writing:
            schema = {"anyOf": [schema, {"type": "integer"}]}
    elif kind in INT64:
        bounds = {"minimum": 0} if kind in _UNSIGNED else {}
        schema = (
            {"type": "string", "pattern": r"^-?[0-9]+$"}
            if writing
            else {
                "anyOf": [
                    {"type": "string", "pattern": r"^-?[0-9]+$"},
                    {"type": "integer", **bounds},
                ]
            }
        )
    elif kind in _INT32:
        schema = {"type": "integer"}
        if kind == FieldDescriptor.TYPE_UINT32:
            schema.update(minimum=0, maximum=2**32 - 1)
    elif kind == FieldDescriptor.TYPE_BOOL:
        schema = {"type": "boolean"}
    elif kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        schema = {"type": "number"}
    elif kind == FieldDescriptor.TYPE_BYTES:
        schema = {"type": "string", "format": "byte"}
    else:
        schema = {"type": "string"}
    return {"type": "array", "items": schema} if field.is_repeated else schema


def _collect(descriptor: Descriptor, found: dict[str, Any], writing: bool) -> None:
    name = descriptor.full_name
    if name in found:
        return
    found[name] = {}  # a message may hold itself
    found[name] = {
        "type": "object",
        "properties": {f.json_name: _field_schema(f, found, writing) for f in descriptor.fields},
        # protojson leaves proto3 defaults out, so no field is ever required; an answer holds
        # only the message's fields.
        **({"additionalProperties": False} if writing else {}),
    }


def _words(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", name).capitalize()


def _operation(method: Method, errors: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"{(\w+)}", method.http.path)
    ]
    operation: dict[str, Any] = {
        "operationId": f"{method.service}.{method.name}",
        "summary": _words(method.name),
        "tags": [method.service],
        "responses": {
            "200": {
                "description": "Success",
                "content": {"application/json": {"schema": _ref(_descriptor(method.response))}},
            },
            **errors,
        },
    }
    if method.service.startswith("zitadel.management."):
        parameters.append(
            {
                "name": "x-zitadel-orgid",
                "in": "header",
                "required": False,
                "description": "The organisation to act in (the token's by default).",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if method.http.body == "*":
        operation["requestBody"] = {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "$ref": f"#/components/schemas/{method.request.DESCRIPTOR.full_name}.in"
                    }
                }
            },
        }
    return operation


def describe(errors: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``paths`` and ``components.schemas`` of every RPC's JSON route; ``errors`` are
    the error responses each route declares."""
    paths: dict[str, Any] = {}
    outgoing: dict[str, Any] = {}
    incoming: dict[str, Any] = {}
    for method in all_methods():
        _collect(_descriptor(method.response), outgoing, writing=True)
        if method.http.body == "*":
            _collect(_descriptor(method.request), incoming, writing=False)
        paths.setdefault(method.http.path, {})[method.http.verb.lower()] = _operation(
            method, errors
        )
    schemas = dict(outgoing)
    for name, schema in incoming.items():
        schemas[f"{name}.in"] = _rename_refs(schema)
    return paths, schemas


def _rename_refs(node: Any) -> Any:
    """Point a request schema's references at the request variants (``….in``)."""
    if isinstance(node, dict):
        return {k: (f"{v}.in" if k == "$ref" else _rename_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_refs(v) for v in node]
    return node
