"""The ledger outbox: the hot path appends records, a writer task inserts rows.

``put(records, position)`` only appends to an in-memory deque (about a
microsecond). The writer task (:meth:`LedgerOutbox.run`) takes batches,
builds rows (pure, :mod:`pink.ledger.rows`) and inserts them through
:class:`~pink.ledger.writer.LedgerWriter` in one worker thread
(clickhouse-connect is blocking). A batch leaves the deque only after its
insert succeeded; a failed or slow insert is retried with back-off and never
blocks ``put``. Rows have deterministic ids in ReplacingMergeTree tables, so
a retry after an insert that did land replaces, never duplicates.

Durability is the kernel journal's (see docs/ledger.md): ``position`` is the
journal position of the records; after each batch the writer stores the
highest position it has written (the watermark). On restart the runtime asks
:meth:`LedgerOutbox.resume_position` and re-puts the journal records after
it; anything re-put twice is idempotent.

``put`` must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from pink.errors import ClosedError
from pink.kernel.messages import KernelRecord
from pink.ledger.rows import LedgerRowError, Row, rows_for
from pink.ledger.writer import LedgerWriter

__all__ = ["LedgerHealth", "LedgerOutbox"]

log = logging.getLogger("pink.ledger")

_Entry = tuple[int | None, Sequence[KernelRecord]]
_ERROR_CHARS = 300  # of an error kept for health (a failed insert's message holds its whole query)
_LOG_EVERY = 30  # failed attempts in a row between two warnings (about a minute at the longest back-off)


@dataclass(frozen=True, slots=True)
class LedgerHealth:
    backend: str  # "embedded chdb <dir>" or "server <url>"
    backlog: int  # records accepted by put() and not yet in the ledger
    rows_written: int
    batches_written: int
    failures: int  # failed insert attempts (each retried)
    rejected: int  # records that cannot be stored exactly (never retried)
    last_error: str  # why inserts fail now, else the last rejection; "" when all is well
    watermark: int | None  # highest journal position written
    closed: bool


@dataclass(frozen=True, slots=True)
class _BatchResult:
    rows: int
    rejected: int
    reject_error: str
    position: int | None


class LedgerOutbox:
    """Buffered, retrying, idempotent ledger writes off the hot path."""

    def __init__(
        self,
        writer: LedgerWriter,
        *,
        account_id: str,
        runtime_id: str,
        batch_records: int = 5000,
        linger_s: float = 0.05,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 2.0,
    ) -> None:
        self._writer = writer
        self.account_id = account_id
        self.runtime_id = runtime_id
        self._batch_records = batch_records
        self._linger_s = linger_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._queue: deque[_Entry] = deque()
        self._backlog = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._closed = False
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pink-ledger")
        self._rows_written = 0
        self._batches = 0
        self._failures = 0
        self._rejected = 0
        self._last_error = ""
        self._reject_error = ""  # the last record that could not be stored: reported for good
        self._failing = 0  # insert attempts failed in a row (0: the ledger is writing)
        self._watermark: int | None = None

    # ------------------------------------------------------------ hot path

    def put(self, records: Sequence[KernelRecord], position: int | None = None) -> None:
        """Accept a kernel message's records (``outcome.records``); never blocks."""
        if self._closed:
            raise ClosedError("ledger outbox")
        if records:
            self._queue.append((position, records))
            self._backlog += len(records)
            self._idle.clear()
            self._wake.set()

    # ------------------------------------------------------------ writer task

    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` as a task owned by the outbox (closed by close())."""
        if self._closed:
            raise ClosedError("ledger outbox")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="pink-ledger")
        return self._task

    async def run(self) -> None:
        """The writer task: batch, insert, retry with back-off, until closed."""
        if self._running:
            raise RuntimeError("ledger outbox writer is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        delay = self._backoff[0]
        try:
            while True:
                if not self._queue:
                    self._idle.set()
                    if self._stop.is_set():
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self._linger_s and self._backlog < self._batch_records:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self._linger_s)
                batch = self._take()
                try:
                    result = await loop.run_in_executor(self._executor, self._write, batch)
                except Exception as exc:  # outage, timeout, server error: retry
                    self._failures += 1
                    self._failing += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
                    if self._failing % _LOG_EVERY == 1:  # the first of an outage, then now and then
                        log.warning("ledger insert failed %d time(s) in a row, %d records waiting (retrying "
                                    "in %.2fs): %s", self._failing, self._backlog, delay, self._last_error)
                    if self._stop.is_set():
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                delay = self._backoff[0]
                for _ in batch:
                    self._queue.popleft()
                self._backlog -= sum(len(records) for _, records in batch)
                if self._failing:
                    log.warning("ledger writes again after %d failed attempts; %d records still to write",
                                self._failing, self._backlog)
                    self._failing = 0
                    self._last_error = self._reject_error  # the outage is over; a rejection stays
                self._rows_written += result.rows
                self._batches += 1
                if result.rejected:
                    self._rejected += result.rejected
                    self._last_error = self._reject_error = result.reject_error
                if result.position is not None:
                    self._watermark = result.position
        finally:
            self._running = False
            self._done.set()

    def _take(self) -> list[_Entry]:
        batch: list[_Entry] = []
        count = 0
        for entry in islice(self._queue, 0, None):
            batch.append(entry)
            count += len(entry[1])
            if count >= self._batch_records:
                break
        return batch

    def _write(self, batch: list[_Entry]) -> _BatchResult:
        """Runs in the worker thread: build rows, insert, store the watermark."""
        rows: list[tuple[str, Row]] = []
        rejected, reject_error, position = 0, "", None
        for entry_position, records in batch:
            for record in records:
                try:
                    rows.extend(
                        rows_for(record, account_id=self.account_id, runtime_id=self.runtime_id)
                    )
                except LedgerRowError as exc:
                    rejected += 1
                    reject_error = f"rejected {type(record).__name__}: {exc}"
                    log.error("ledger %s", reject_error)
            if entry_position is not None:
                position = entry_position
        written = self._writer.insert(rows)
        if position is not None:
            self._writer.set_watermark(self.account_id, self.runtime_id, position)
        return _BatchResult(written, rejected, reject_error, position)

    # ------------------------------------------------------------ control

    async def resume_position(self) -> int | None:
        """Journal position up to which records are in the ledger (replay after it)."""
        if self._closed:
            raise ClosedError("ledger outbox")
        loop = asyncio.get_running_loop()
        position = await loop.run_in_executor(
            self._executor, self._writer.watermark, self.account_id, self.runtime_id
        )
        if position is not None and self._watermark is None:
            self._watermark = position
        return position

    async def flush(self, timeout: float) -> bool:
        """Wait until everything put so far is in the ledger; False on timeout."""
        if self._closed:
            raise ClosedError("ledger outbox")
        return await self._drain(timeout)

    async def _drain(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, drain for up to ``timeout`` s, stop the writer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._running:
            await self._drain(timeout)
        self._stop.set()
        self._wake.set()
        if self._running:
            await self._done.wait()
        if self._task is not None:
            await self._task
        if self._backlog:
            log.error(
                "ledger closed with %d records not written (%s); they are in the journal "
                "after position %s and are re-put on restart",
                self._backlog, self._last_error, self._watermark,
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._writer.close)
        self._executor.shutdown(wait=True)

    def health(self) -> LedgerHealth:
        return LedgerHealth(
            backend=self._writer.describe(),
            backlog=self._backlog,
            rows_written=self._rows_written,
            batches_written=self._batches,
            failures=self._failures,
            rejected=self._rejected,
            last_error=self._last_error,
            watermark=self._watermark,
            closed=self._closed,
        )
