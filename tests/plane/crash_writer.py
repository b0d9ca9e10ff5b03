"""A writer that writes slot 0 forever (to be killed -9): python crash_writer.py DATA_DIR."""

from __future__ import annotations

import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from helpers import slot_view

from pink.plane.shm import StatePlane


def main() -> None:
    plane = StatePlane.create(sys.argv[1], "acc", "crash", 2)
    v = 0
    while True:
        v += 1
        plane.write_slot(slot_view(0, v))
        if v == 1000:
            print("writing", flush=True)


if __name__ == "__main__":
    main()
