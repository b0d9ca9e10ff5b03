"""A TCP proxy in the test's event loop that can hold back one reply (a GC pause, a busy
server): the request reaches the server and is applied, its answer comes late."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["SlowReplyProxy"]


class SlowReplyProxy:
    def __init__(self, host: str, port: int, delay_s: float) -> None:
        self.host, self.port, self.delay_s = host, port, delay_s
        self.armed = False  # the next reply chunk is held back delay_s (once)
        self.delayed = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, replies: bool) -> None:
        try:
            while data := await r.read(65536):
                if replies and self.armed:
                    self.armed = False
                    self.delayed += 1
                    await asyncio.sleep(self.delay_s)
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection(self.host, self.port)
        self._writers += [cw, sw]
        await asyncio.gather(self._pipe(cr, sw, False), self._pipe(sr, cw, True))

    async def close(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
