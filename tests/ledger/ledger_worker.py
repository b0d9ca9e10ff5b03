"""A ledger writer process for crash and lock tests (its own chDB directory).

    python ledger_worker.py write DATA_DIR   # put every record, flush (killed -9 meanwhile)
    python ledger_worker.py resume DATA_DIR  # re-put after the watermark, flush, print counts
    python ledger_worker.py hold DATA_DIR    # open the ledger and wait
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from ledger_records import Book, interleave, trade_steps

from pink.kernel.messages import KernelRecord, Side
from pink.ledger import JournalRecords, LedgerOutbox, LedgerWriter, audit, resolve_target
from pink.ledger.schema import TABLES

ACC, RT = "acc-crash", "rt-crash"


def journal() -> list[KernelRecord]:
    """The deterministic 'journal' both runs agree on."""
    book = Book("50000")
    return interleave(*(
        trade_steps(book, slot=s % 16, trade_id=f"K{s}", side=Side.LONG if s % 3 else Side.SHORT,
                    entry=[("0.4", f"{200 + s % 7}", "0.02"), ("0.6", f"{201 + s % 5}", "0.03")],
                    exits=[[("0.5", f"{205 - s % 9}", "0.01")], [("0.5", f"{199 + s % 4}", "0.01")]])
        for s in range(150)
    ))


async def main(mode: str, data_dir: str) -> None:
    writer = LedgerWriter.open(resolve_target(data_dir=data_dir, env={}))
    if mode == "hold":
        print("held", flush=True)
        time.sleep(600)
    records = journal()
    outbox = LedgerOutbox(writer, account_id=ACC, runtime_id=RT, batch_records=100, linger_s=0)
    outbox.start()
    start = (await outbox.resume_position() or 0) if mode == "resume" else 0
    for position, record in enumerate(records, start=1):
        if position > start:
            outbox.put((record,), position)
    print(f"flushing from {start}", flush=True)
    if mode == "write":  # say when a quarter is in: the test kills it then, mid-way whatever the speed
        while (outbox.health().watermark or 0) < len(records) // 4:
            await asyncio.sleep(0.001)
        print("a quarter written", flush=True)
    assert await outbox.flush(120)
    await outbox.close()
    if mode == "resume":
        client = LedgerWriter.open(resolve_target(data_dir=data_dir, env={})).client
        counts = {}
        for table in TABLES:
            raw, final, ids = client.query(
                f"SELECT (SELECT count() FROM pink.{table}), (SELECT count() FROM pink.{table} FINAL),"
                f" (SELECT uniqExact(id) FROM pink.{table})").result_rows[0]
            counts[table] = [int(raw), int(final), int(ids)]
        report = audit(client, JournalRecords(ACC, RT, records))
        print(json.dumps({"resumed_from": start, "records": len(records), "counts": counts,
                          "audit_ok": report.ok, "differences": report.differences[:5]}))
        client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
