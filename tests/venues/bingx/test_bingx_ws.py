"""GzipSocket, the reconnecting connection under both BingX streams, against real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from bingx_fake import FakeBingx

from pink.venues.bingx.ws import GzipSocket


async def test_a_handshake_the_server_never_answers_is_given_up_and_tried_again(fake: FakeBingx) -> None:
    """A host that takes the TCP connection and never answers the WebSocket upgrade (a stalled
    deploy, a load balancer with no backend) must not hold the stream for aiohttp's 5-minute
    default: the attempt ends after the request timeout and the next one is made."""
    stalled: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # read nothing, answer nothing

    silent = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    urls = [f"ws://127.0.0.1:{port}/swap-market", fake.base_url.replace("http", "ws") + "/swap-market"]

    async def url() -> str:
        return urls.pop(0) if len(urls) > 1 else urls[0]

    async def on_json(_obj: Any) -> None:
        return None

    sock = GzipSocket(fake.config(request_timeout_s=0.3, reconnect_min_s=0.05), "user", url, on_json)
    sock.start()
    try:
        async with asyncio.timeout(10):  # a hang guard: the stalled attempt ends after 0.3 s
            await sock.connected.wait()
        assert stalled and sock.connects == 1
    finally:
        await sock.close()
        for writer in stalled:
            writer.close()
        silent.close()
        await silent.wait_closed()
