"""A TCP proxy a test can cut and restore, to take a real server "down" for one client, or
hold, to stall it while counting the requests in flight."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._drop_next = 0
        self.accepted = 0
        self._open = asyncio.Event()
        self._open.set()
        self._held: set[int] = set()

    @property
    def held(self) -> int:
        """Connections whose client bytes wait for `release`: the requests in flight."""
        return len(self._held)

    def hold(self) -> None:
        """Keep what clients send from here on (a server that stalls) until `release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def drop_next(self, count: int = 1) -> None:
        """Accept the next `count` connections and close them at once, unanswered (what a
        client sees when it reuses a keep-alive connection the server just closed)."""
        self._drop_next += count

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection and refuse new ones (the port stays reserved for `restore`)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        self.release()
        await self.cut()
        for task in list(self._tasks):
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        connection = self.accepted  # before any await: other accepts run meanwhile
        if self._drop_next:
            self._drop_next -= 1
            with contextlib.suppress(Exception):
                await reader.read(1)  # wait for the request to start, then hang up
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst, held in ((reader, up_writer, connection), (up_reader, writer, None)):
            task = asyncio.create_task(self._pipe(src, dst, held))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, holdable: int | None
    ) -> None:
        """Copy src to dst; the client-to-server side (`holdable` = its connection) waits
        while the proxy holds."""
        try:
            while data := await src.read(65536):
                if holdable is not None and not self._open.is_set():
                    self._held.add(holdable)
                    await self._open.wait()
                    self._held.discard(holdable)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if holdable is not None:
                self._held.discard(holdable)
            self._writers.discard(dst)
            with contextlib.suppress(Exception):
                dst.transport.abort()
