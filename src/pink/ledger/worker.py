"""The ledger writer's one thread: runs what is submitted, in order, and is never waited for at exit.

clickhouse-connect is blocking, so the outbox runs the writer here. A ThreadPoolExecutor's
thread is joined when the interpreter exits, so an insert a hung server never answers would hold
the process up to the client's read timeout however the outbox was closed. This thread is a
daemon: what it still runs at exit is left to the journal, which holds those records.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

__all__ = ["LedgerWorker"]

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class LedgerWorker(Executor):
    def __init__(self, name: str = "pink-ledger") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._shut = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._shut:
            raise RuntimeError("the ledger worker is shut down")
        future: Future[Any] = Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller, as a ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop after what was submitted (``cancel_futures``: what has not started is cancelled);
        ``wait``: until it has run."""
        while cancel_futures:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:  # (shut down before: its end stays last)
                self._jobs.put(None)
                break
            job[0].cancel()
        if not self._shut:
            self._shut = True
            self._jobs.put(None)
        if wait:
            self._thread.join()
