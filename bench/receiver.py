"""A webhook receiver for the benchmarks: HTTP/1.1 with keep-alive on loopback, answering
every POST ``200`` at once and printing ``<webhook-id> <arrival time>`` for each.

    python -m bench.receiver PORT
"""

from __future__ import annotations

import asyncio
import sys
import time

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    out = sys.stdout
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.time()
            length, message_id = 0, b"-"
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"webhook-id":
                    message_id = value.strip()
            if length:
                await reader.readexactly(length)
            writer.write(_OK)
            out.write(f"{message_id.decode()} {arrived:.6f}\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        out.flush()
        writer.close()


async def _flush() -> None:
    while True:
        await asyncio.sleep(0.005)
        sys.stdout.flush()


async def main(port: int) -> None:
    server = await asyncio.start_server(_connection, "127.0.0.1", port)
    print(f"ready {port}", flush=True)
    asyncio.get_running_loop().create_task(_flush())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
