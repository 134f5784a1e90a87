"""The ZITADEL surface's error as grpc-gateway writes it: a ``google.rpc.Status``.

One ``Status`` message per error, built here, serves both transports:
grpc-gateway JSON writes it with protobuf's ``json_format`` (:func:`status_json`), and gRPC
can send the same message as its ``grpc-status-details-bin`` trailer. Every detail is an
``Any`` with a ``type.googleapis.com/`` type URL of a message a protojson client knows:

- ``zitadel.v1.ErrorDetail {id, message}`` on the errors ZITADEL attaches one to
  (:data:`ERROR_IDS`: unauthenticated, permission denied, not found, already exists);
- ``google.rpc.BadRequest`` naming the field of an ``INVALID_ARGUMENT`` that names one;
- ``google.rpc.ErrorInfo {reason, domain: "chronik", metadata}`` with every other detail
  Chronik knows (a limit, a current version), values as strings.

The HTTP status follows the gRPC code by grpc-gateway's table (:data:`HTTP_STATUS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import BadRequest, ErrorInfo
from google.rpc.status_pb2 import Status

from chronik.api.proto.zitadel import message_pb2
from chronik.errors import ChronikError

DOMAIN = "chronik"

HTTP_STATUS = {
    0: 200,  # OK
    1: 499,  # CANCELLED
    2: 500,  # UNKNOWN
    3: 400,  # INVALID_ARGUMENT
    4: 504,  # DEADLINE_EXCEEDED
    5: 404,  # NOT_FOUND
    6: 409,  # ALREADY_EXISTS
    7: 403,  # PERMISSION_DENIED
    8: 429,  # RESOURCE_EXHAUSTED
    9: 400,  # FAILED_PRECONDITION
    10: 409,  # ABORTED
    11: 400,  # OUT_OF_RANGE
    12: 501,  # UNIMPLEMENTED
    13: 500,  # INTERNAL
    14: 503,  # UNAVAILABLE
    15: 500,  # DATA_LOSS
    16: 401,  # UNAUTHENTICATED
}
"""grpc-gateway's ``runtime.HTTPStatusFromCode``: the HTTP status of each gRPC code."""

ERROR_IDS = {
    16: "CHRONIK-AU01",  # UNAUTHENTICATED: no token, or an unknown, expired or revoked one
    7: "CHRONIK-PD01",  # PERMISSION_DENIED: the token may not do this, or not in this org
    5: "CHRONIK-NF01",  # NOT_FOUND
    6: "CHRONIK-AE01",  # ALREADY_EXISTS
}
"""The ``zitadel.v1.ErrorDetail`` id of each gRPC code ZITADEL attaches one to; stable, in
ZITADEL's ``AREA-xxxx`` shape."""


def http_status(grpc_code: int) -> int:
    """The HTTP status grpc-gateway answers for ``grpc_code``."""
    return HTTP_STATUS.get(grpc_code, 500)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _text(value: Any) -> str:
    """A detail as an ``ErrorInfo`` metadata value: strings as they are, else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool) or value is None:
        return json.dumps(value)
    return str(value)


def _reason(name: str) -> str:
    """``ViewBehind`` -> ``VIEW_BEHIND``: an ``ErrorInfo`` reason from an error's class."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def status(grpc_code: int, message: str, details: Mapping[str, Any], *, reason: str) -> Status:
    """The ``google.rpc.Status`` of a failure with ``grpc_code``, ``message`` and Chronik's
    ``details`` (a ``cause`` is the server's own and left out)."""
    known = {_camel(k): v for k, v in details.items() if k != "cause"}
    packed: list[Message] = []
    if grpc_code in ERROR_IDS:
        packed.append(message_pb2.ErrorDetail(id=ERROR_IDS[grpc_code], message=message))
    field = known.get("field")
    if grpc_code == 3 and isinstance(field, str) and field:
        del known["field"]
        violation = BadRequest.FieldViolation(field=field, description=message)
        packed.append(BadRequest(field_violations=[violation]))
    if known:
        metadata = {k: _text(v) for k, v in known.items()}
        packed.append(ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata))
    result = Status(code=grpc_code, message=message)
    for detail in packed:
        result.details.add().Pack(detail)
    return result


def zitadel_status(err: ChronikError) -> Status:
    """``err`` as the ``google.rpc.Status`` ZITADEL's surfaces answer (JSON and gRPC)."""
    return status(err.grpc_code, err.message, err.details, reason=_reason(type(err).__name__))


def status_json(value: Status) -> dict[str, Any]:
    """``value`` as grpc-gateway writes it: protojson, JSON names, ``details`` always there."""
    return json_format.MessageToDict(
        value, always_print_fields_with_no_presence=True, preserving_proto_field_name=False
    )
