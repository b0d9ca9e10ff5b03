"""A reader process for the torn-snapshot test: python torn_reader.py DATA_DIR SLOT.

Prints "ready", then reads the slot as fast as it can until it sees a view in
state DONE, checking every accepted view; prints one JSON line of counts.
"""

from __future__ import annotations

import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from helpers import consistent

from pink.plane.shm import PlaneReader


def main() -> None:
    reader = PlaneReader.open(sys.argv[1])
    slot = int(sys.argv[2])
    print("ready", flush=True)
    reads = torn = backwards = distinct = 0
    last = -1
    t0 = time.perf_counter()
    try:
        while True:
            view = reader.read_slot(slot)
            if view is None:
                continue
            reads += 1
            if not consistent(view):
                torn += 1
            if view.version < last:
                backwards += 1
            if view.version != last:
                distinct += 1
            last = view.version
            if view.state == "DONE":
                break
        elapsed = time.perf_counter() - t0
        print(json.dumps({
            "reads": reads, "torn_accepted": torn, "backwards": backwards,
            "distinct": distinct, "rejected": reader.rejected, "last": last,
            "reads_per_s": reads / elapsed,
        }), flush=True)
    finally:
        reader.close()


if __name__ == "__main__":
    main()
