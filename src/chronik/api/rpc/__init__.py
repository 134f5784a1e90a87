"""ZITADEL's services as gRPC: one translation per RPC (:mod:`.admin`), proto message in and
proto message out over the same services the JSON routes call, and the transport around them
(:mod:`.servicer`: metadata auth and the error status; :mod:`.server`: the grpc.aio server)."""
