"""``chronik serve --grpc-port``: the same process serves ZITADEL's AdminService over gRPC
beside HTTP, over the same database, and stops both on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import grpc

from chronik.api.proto.zitadel import admin_pb2, admin_pb2_grpc
from tests.acceptance.conftest import Start
from tests.acceptance.server import free_port
from tests.acceptance.test_server import bootstrap_token


def test_serve_answers_grpc_on_its_grpc_port_and_stops_cleanly(start: Start, data: Path) -> None:
    port = free_port()
    server = start(data, args=["--grpc-port", str(port)])
    token = bootstrap_token(data)
    with server.client(token) as client:
        appended = client.post(
            "/v1/events",
            json={
                "events": [{"aggregateType": "user", "aggregateId": "u-1", "type": "user.added"}]
            },
        )
        assert appended.status_code == 200, appended.text
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        answer = admin.ListEvents(
            admin_pb2.ListEventsRequest(event_types=["user.added"]),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
    assert [e.aggregate.id for e in answer.events] == ["u-1"]
    assert server.terminate() == 0
    assert "Traceback" not in server.stderr()
