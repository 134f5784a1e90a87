"""The grpc.aio server: started in the HTTP app's lifespan, in its event loop, over its
:class:`~chronik.services.Chronik`, and stopped before that closes."""

from __future__ import annotations

from dataclasses import dataclass

from grpc import aio

from chronik.api.rpc.methods import all_methods
from chronik.api.rpc.servicer import handlers
from chronik.errors import Unavailable
from chronik.services import Chronik

GRACE_SECONDS = 30.0
"""How long a stop lets calls in flight finish (uvicorn's graceful shutdown, too)."""


@dataclass(frozen=True, slots=True)
class GrpcServer:
    server: aio.Server
    port: int
    """The port it listens on (the one chosen when 0 was asked for)."""

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        await self.server.stop(grace)


async def start(chronik: Chronik, host: str, port: int, *, max_message_bytes: int) -> GrpcServer:
    """A running server on ``host:port`` (0: a free port). A request message over
    ``max_message_bytes`` is refused with ``RESOURCE_EXHAUSTED``."""
    # gRPC's SO_REUSEPORT stays on: the processes of ``serve --workers N`` share the port
    # as they share the HTTP one (``serve`` checks first that no other process holds it).
    server = aio.server(options=[("grpc.max_receive_message_length", max_message_bytes)])
    server.add_generic_rpc_handlers(handlers(chronik, all_methods()))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise Unavailable(f"cannot listen for gRPC on {address}: {exc}") from None
    await server.start()
    return GrpcServer(server, bound)
