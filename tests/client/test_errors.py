"""Every error the server answers is, to the remote client, the class the server raised:
the native body the server renders, read back."""

from __future__ import annotations

import pytest

from chronik import errors
from chronik.api.errors import error_body
from chronik.client import wire

RAISED = [
    errors.InvalidArgument("bad", field="name"),
    errors.FailedPrecondition("not now"),
    errors.NotFound("none"),
    errors.AlreadyExists("taken"),
    errors.Conflict("stale", expected_version=1, current_version=2),
    errors.PermissionDenied("no"),
    errors.ResourceExhausted("too big"),
    errors.Unauthenticated("who?"),
    errors.Unavailable("down"),
    errors.DeliveryFailed("the receiver answered 500"),
]


@pytest.mark.parametrize("raised", RAISED, ids=lambda e: type(e).__name__)
def test_a_native_error_is_read_as_the_class_the_server_raised(
    raised: errors.ChronikError,
) -> None:
    body = error_body("native", raised)
    found = wire.error(raised.http_status, body, "")
    assert type(found) is type(raised)
    assert (found.message, found.details) == (raised.message, raised.details)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.InvalidArgument),
        (401, errors.Unauthenticated),
        (403, errors.PermissionDenied),
        (404, errors.NotFound),
        (409, errors.AlreadyExists),
        (413, errors.ResourceExhausted),
        (502, errors.Unavailable),
        (503, errors.Unavailable),
        (504, errors.Unavailable),
        (500, errors.ChronikError),
    ],
)
def test_an_answer_without_a_native_body_is_read_by_its_status(
    status: int, kind: type[errors.ChronikError]
) -> None:
    found = wire.error(status, None, "<html>Bad Gateway</html>")
    assert type(found) is kind and found.details["status"] == status
