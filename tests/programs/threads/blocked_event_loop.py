"""An asyncio server whose handler calls a blocking function: the event loop stops serving everyone."""
import asyncio
import time


def legacy_lookup(key: str) -> str:
    time.sleep(600)  # a synchronous call (think requests.get) inside a coroutine
    return key


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    writer.write(legacy_lookup("user").encode())
    await writer.drain()
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health\n")
    await writer.drain()
    print("ready", flush=True)
    await asyncio.sleep(600)


asyncio.run(main())
