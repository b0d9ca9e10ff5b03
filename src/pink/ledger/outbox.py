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
:meth:`LedgerOutbox.resume_position` and has the writer read the journal's
records after it (:meth:`LedgerOutbox.from_journal`); anything written twice
is idempotent.

Memory stays bounded in an outage: past ``max_backlog`` records the queue is
let go of (the journal holds those records) and, until the ledger is back,
``put`` leaves journaled records to the journal too; the writer then reads
them from the journal, in its thread, before what was put since. Only the
rows of refused intents put with no journal position (a kernel run without a
journal) are lost that way (counted in ``refusals_dropped`` and logged).

``put`` must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from pink.errors import ClosedError
from pink.kernel.messages import IntentRecorded, KernelRecord
from pink.ledger.rows import LedgerRowError, Row, rows_for
from pink.ledger.worker import LedgerWorker
from pink.ledger.writer import LedgerWriter

__all__ = ["LedgerHealth", "LedgerOutbox"]

log = logging.getLogger("pink.ledger")

_Entry = tuple[int | None, Sequence[KernelRecord]]
#: the journal's records after a position up to another (inclusive), as ``(position, records)``
JournalSource = Callable[[int, int], Iterable[tuple[int, Sequence[KernelRecord]]]]
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
    from_journal: int = 0  # journal messages let go from memory in an outage, to be read from it again
    refusals_dropped: int = 0  # refused intents' rows let go with them that no journal holds (no position)


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
        max_backlog: int = 50_000,
        journal: JournalSource | None = None,
    ) -> None:
        self._writer = writer
        self._max_backlog = max_backlog
        self._journal = journal
        self._journal_upto: int | None = None  # let go of records up to here: the journal gives them again
        self._spilling = False  # put() leaves journaled records to the journal (an outage, past max_backlog)
        # the journal being read, up to which position (made, used and closed in the worker thread only)
        self._reader: tuple[Iterator[tuple[int, Sequence[KernelRecord]]], int] | None = None
        self._spill_logged = False  # the outage's first let-go is logged, not every one
        self._refusals_dropped = 0
        self._delay = backoff_initial_s
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
        self._executor = LedgerWorker()
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
        if not records:
            return
        if self._spilling:
            if position is not None:
                self._journal_upto = position
            else:  # (a journaled refusal is read from the journal again)
                self._refusals_dropped += _refusals(records)
            return
        self._queue.append((position, records))
        self._backlog += len(records)
        self._idle.clear()
        self._wake.set()

    def from_journal(self, upto: int) -> None:
        """Have the writer read the journal's records after the watermark up to message ``upto``
        (a start-up catch-up): in its thread, in batches, before the records put from now on."""
        if self._closed:
            raise ClosedError("ledger outbox")
        if self._journal is None:
            raise ValueError("ledger outbox: no journal to read from")
        if upto > (self._watermark or 0):
            self._journal_upto = max(self._journal_upto or 0, upto)
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
        try:
            while True:
                if self._journal_upto is not None:  # let go of in an outage: read it again from the journal
                    upto = self._journal_upto
                    self._spilling = False  # newer records queue in memory again (all after ``upto``)
                    # while it fails, a cheap query tells when it is back (not a replay of the journal)
                    probe = self._probe if self._failing else self._write_from_journal
                    result = await self._attempt(loop, probe, upto)
                    if result is None:
                        if self._stop.is_set():
                            return
                        continue
                    if result.position is not None:
                        self._count(result)
                    if self._backlog > self._max_backlog:  # put faster than the journal is read
                        self._spill()
                    if probe == self._write_from_journal and self._reader is None and self._journal_upto == upto:
                        self._journal_upto = None
                    continue  # (closing too: as the queue, the journal's records are written while it works)
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
                result = await self._attempt(loop, self._write, batch)
                if result is None:
                    if self._stop.is_set():
                        return
                    continue
                for _ in batch:
                    self._queue.popleft()
                self._backlog -= sum(len(records) for _, records in batch)
                self._count(result)
        finally:
            self._running = False
            self._done.set()

    async def _attempt(self, loop: asyncio.AbstractEventLoop, write: Callable[[Any], _BatchResult],
                       arg: Any) -> _BatchResult | None:
        """``write(arg)`` in the worker thread; None when it failed (outage, timeout, server
        error: counted, logged at the start of an outage, waited for with back-off)."""
        try:
            result = await loop.run_in_executor(self._executor, write, arg)
        except Exception as exc:
            self._failures += 1
            self._failing += 1
            self._last_error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
            if self._failing % _LOG_EVERY == 1:  # the first of an outage, then now and then
                log.warning("ledger insert failed %d time(s) in a row, %d records waiting (retrying "
                            "in %.2fs): %s", self._failing, self._backlog, self._delay, self._last_error)
            if self._journal is not None and self._backlog > self._max_backlog:
                self._spill()
            if not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._delay)
                self._delay = min(self._delay * 2, self._backoff[1])
            return None
        self._delay = self._backoff[0]
        if self._failing:
            log.warning("ledger writes again after %d failed attempts; %d records still to write%s",
                        self._failing, self._backlog, "" if self._journal_upto is None else
                        f", and the journal's up to position {self._journal_upto}")  # fmt: skip
            self._failing = 0
            self._spill_logged = False
            self._last_error = self._reject_error  # the outage is over; a rejection stays
        return result

    def _count(self, result: _BatchResult) -> None:
        self._rows_written += result.rows
        self._batches += 1
        if result.rejected:
            self._rejected += result.rejected
            self._last_error = self._reject_error = result.reject_error
        if result.position is not None:
            self._watermark = result.position

    def _spill(self) -> None:
        """Past ``max_backlog`` in an outage: let go of the queued records (the journal holds them;
        they are read from it again once the ledger is back) and leave newer ones to it too."""
        last, refusals = None, 0
        for position, records in self._queue:
            if position is not None:
                last = position
            else:
                refusals += _refusals(records)
        if last is not None:
            self._journal_upto = max(self._journal_upto or 0, last)
        self._refusals_dropped += refusals
        if not self._spill_logged:
            self._spill_logged = True
            log.warning("ledger behind by %d records (more than %d): they are let go from memory and "
                        "read again from the journal (after position %s)%s", self._backlog,
                        self._max_backlog, self._watermark or 0, f"; {refusals} refused intents' rows, which no "
                        "journal holds, are lost" if refusals else "")  # fmt: skip
        self._queue.clear()
        self._backlog = 0
        self._spilling = True

    def _probe(self, _upto: int) -> _BatchResult:
        """Runs in the worker thread: raises while the ledger cannot be reached."""
        self._writer.watermark(self.account_id, self.runtime_id)
        return _BatchResult(0, 0, "", None)

    def _write_from_journal(self, upto: int) -> _BatchResult:
        """Runs in the worker thread: the next batch of the journal's records after the watermark
        up to ``upto``; the reader is dropped once it got there (or on a failure)."""
        assert self._journal is not None
        if self._reader is None or self._reader[1] != upto:
            self._close_reader()
            self._reader = (iter(self._journal(self._watermark or 0, upto)), upto)
        reader = self._reader[0]
        batch: list[_Entry] = []
        count = 0
        try:
            for position, records in reader:
                if position > upto:
                    break
                batch.append((position, records))
                count += len(records)
                if count >= self._batch_records or position >= upto:
                    break
            if not batch or (batch[-1][0] is not None and batch[-1][0] >= upto):
                self._close_reader()
            return self._write(batch) if batch else _BatchResult(0, 0, "", None)
        except BaseException:
            self._close_reader()
            raise

    def _close_reader(self) -> None:
        """(Worker thread: the reader's journal connection belongs to it.)"""
        reader, self._reader = self._reader, None
        close = getattr(reader[0], "close", None) if reader is not None else None
        if close is not None:
            close()

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
        """Stop accepting, drain for up to ``timeout`` s, stop the writer (idempotent). An insert
        still in flight then (a server that does not answer) is given up, not waited for."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._running:
            await self._drain(timeout)
        self._stop.set()
        self._wake.set()
        hung = False
        if self._running:
            try:
                await asyncio.wait_for(asyncio.shield(self._done.wait()), max(deadline - loop.time(), 0.1))
            except TimeoutError:
                hung = True
                log.error("ledger close: an insert in flight got no answer within %.1f s (%s) and is given "
                          "up; its records are in the journal after position %s and are re-put on restart",
                          timeout, self._writer.describe(), self._watermark)  # fmt: skip
        if self._task is not None:
            if hung:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._backlog or self._journal_upto is not None:
            log.error(
                "ledger closed with %d records not written%s (%s); they are in the journal "
                "after position %s and are re-put on restart",
                self._backlog, "" if self._journal_upto is None else
                f" and the journal's up to position {self._journal_upto}", self._last_error, self._watermark,
            )  # fmt: skip
        if hung:  # after the insert, if the process still runs then
            self._executor.submit(self._close_reader)
            self._executor.submit(self._writer.close)
            self._executor.shutdown(wait=False)
            return
        await loop.run_in_executor(self._executor, self._close_reader)
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
            from_journal=0 if self._journal_upto is None else self._journal_upto - (self._watermark or 0),
            refusals_dropped=self._refusals_dropped,
        )


def _refusals(records: Sequence[KernelRecord]) -> int:
    return sum(1 for r in records if type(r) is IntentRecorded and r.status == "REFUSED")
