"""Ledger benchmark: hot-path put() cost and sustained ingest into embedded chDB.

    .venv/bin/python bench/ledger_bench.py [--trades N]

Last line: {"bench": "ledger", "hot_path_us_per_event": ..., "ingest_rows_per_s": ...}
Targets: <= 10 µs per put, >= 50,000 rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ledger"))

from ledger_records import Book, interleave, trade_steps

from pink.kernel.messages import KernelRecord, Side
from pink.ledger import LedgerOutbox, LedgerWriter, resolve_target


def records(n_trades: int) -> list[KernelRecord]:
    book = Book("1000000")
    return interleave(*(
        trade_steps(book, slot=s % 32, trade_id=f"B{s}", side=Side.LONG if s % 2 else Side.SHORT,
                    entry=[("0.4", f"{200 + s % 7}", "0.02"), ("0.6", f"{201 + s % 5}", "0.03")],
                    exits=[[("0.5", f"{205 - s % 9}", "0.01")], [("0.5", f"{199 + s % 4}", "0.01")]])
        for s in range(n_trades)
    ))


async def main(n_trades: int) -> dict[str, object]:
    recs = records(n_trades)
    with tempfile.TemporaryDirectory() as tmp:
        writer = LedgerWriter.open(resolve_target(data_dir=tmp, env={}))
        # Hot path: put() alone, the writer task not yet running.
        outbox = LedgerOutbox(writer, account_id="bench", runtime_id="rt", batch_records=20000)
        t0 = time.perf_counter()
        for pos, rec in enumerate(recs, start=1):
            outbox.put((rec,), pos)
        put_us = (time.perf_counter() - t0) / len(recs) * 1e6
        # Ingest: everything put, timed from start to the last row in ClickHouse.
        t0 = time.perf_counter()
        outbox.start()
        assert await outbox.flush(600)
        elapsed = time.perf_counter() - t0
        health = outbox.health()
        await outbox.close()
    print(f"records {len(recs)}, rows {health.rows_written} in {elapsed:.2f}s, "
          f"batches {health.batches_written}, put {put_us:.2f} µs/event")
    return {"bench": "ledger", "hot_path_us_per_event": round(put_us, 3),
            "ingest_rows_per_s": round(health.rows_written / elapsed)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=10000)
    print(json.dumps(asyncio.run(main(parser.parse_args().trades))))
