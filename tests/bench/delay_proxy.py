#!/usr/bin/env python3
"""A TCP proxy that adds a fixed one-way delay in each direction (issue 18's latency scenario).

    delay_proxy.py LISTEN_PORT TARGET_PORT [--delay-ms 20]

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to 127.0.0.1:TARGET_PORT. Every
chunk is delivered DELAY after it was read, in order, in both directions, so one round trip costs
2 × DELAY (the RTT). The TCP handshake to the proxy is local, so the proxy models it: it
connects upstream only after one RTT and a half (SYN/SYN-ACK, then the ACK reaching the server),
and the server's banner then takes the delay back to the client: connecting and the banner cost
2 RTT, as over a real link. A close (EOF) travels with the same delay as data. Prints "ready" on
stdout once listening; runs until killed.
"""

import argparse
import asyncio
import sys


async def relay(reader, writer_ready, delay):
    """Copies reader to the writer writer_ready gives, each chunk `delay` seconds after it was
    read; EOF is passed on as a half-close, after the same delay."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        writer = await writer_ready
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:  # the other side is gone: nothing left to deliver to
                return

    task = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay, None))
    await task


async def serve(listen_port, target_port, delay):
    async def handle(client_reader, client_writer):
        loop = asyncio.get_running_loop()
        upstream = loop.create_future()  # the server's writer, once connected
        to_client = loop.create_future()
        to_client.set_result(client_writer)

        async def connect():
            await asyncio.sleep(3 * delay)  # SYN, SYN-ACK, ACK: the handshake of a real link
            reader, writer = await asyncio.open_connection("127.0.0.1", target_port)
            upstream.set_result(writer)
            return reader, writer

        up = asyncio.create_task(connect())
        client_to_server = asyncio.create_task(relay(client_reader, upstream, delay))
        try:
            server_reader, server_writer = await up
        except OSError:
            client_writer.close()
            client_to_server.cancel()
            return
        await asyncio.gather(relay(server_reader, to_client, delay), client_to_server)
        for w in (client_writer, server_writer):
            try:
                w.close()
            except OSError:
                pass

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("listen_port", type=int)
    ap.add_argument("target_port", type=int)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.listen_port, args.target_port, args.delay_ms / 1000.0))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
