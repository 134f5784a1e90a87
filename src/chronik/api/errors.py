"""Each surface's error body, from the one error tree.

ZITADEL (grpc-gateway): a ``google.rpc.Status``, ``{"code": <gRPC code>, "message": ...,
"details": [<Any>...]}`` (:mod:`chronik.api.zitadel_status`), its HTTP status by
grpc-gateway's table. Socotra: ``{"httpStatus": ..., "message": ...}``. Native:
``{"error": {"code": "NOT_FOUND", "message": ..., "details": {...}}}``. The HTTP status
always follows the gRPC code.
"""

from __future__ import annotations

from typing import Any, Literal

from chronik.api import zitadel_status
from chronik.errors import ChronikError

Surface = Literal["zitadel", "socotra", "native"]

GRPC_NAMES = {
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}


def surface_of(path: str) -> Surface:
    if path.startswith(("/admin/v1", "/management/v1")):
        return "zitadel"
    if path.startswith(("/event/", "/config/")):
        return "socotra"
    return "native"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _camel(name: str) -> str:
    """A detail's name as every surface writes JSON names (``current_version`` ->
    ``currentVersion``); the core names them in Python's style."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def body(
    surface: Surface, status: int, grpc_code: int, message: str, details: dict[str, Any]
) -> dict[str, Any]:
    if surface == "zitadel":
        reason = GRPC_NAMES.get(grpc_code, "UNKNOWN")
        value = zitadel_status.status(grpc_code, message, details, reason=reason)
        return zitadel_status.status_json(value)
    clean = {_camel(k): _jsonable(v) for k, v in details.items() if k != "cause"}
    if surface == "socotra":
        return {"httpStatus": status, "message": message, **({"details": clean} if clean else {})}
    return {
        "error": {
            "code": GRPC_NAMES.get(grpc_code, "UNKNOWN"),
            "message": message,
            "details": clean,
        }
    }


def http_status(surface: Surface, status: int, grpc_code: int) -> int:
    """The HTTP status of a :class:`ChronikError` with ``grpc_code`` on ``surface``:
    grpc-gateway's on ZITADEL's, else ``status`` (they differ on a body too large only: 429 on
    ZITADEL's, 413 elsewhere). Routing answers (404 no such path, 405 a method the path does
    not take) keep their HTTP status on every surface."""
    return zitadel_status.http_status(grpc_code) if surface == "zitadel" else status


def error_body(surface: Surface, err: ChronikError) -> dict[str, Any]:
    if surface == "zitadel":
        return zitadel_status.status_json(zitadel_status.zitadel_status(err))
    return body(surface, err.http_status, err.grpc_code, err.message, err.details)
