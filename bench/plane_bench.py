"""State-plane and projection benchmark. The last line printed is one JSON object.

* ``snapshot_reads_per_s``: validated reads (stamps + crc32 + strict decode +
  a consistency check of every field) of one slot by a separate reader
  PROCESS while this process writes the slot as fast as it can;
  ``torn_accepted`` counts accepted reads that were inconsistent (must be 0).
* ``slot_writes_per_s``: the writer's rate meanwhile (encode + publish).
* ``kernel_latency_ratio_sink_down``: median latency of one hot-path step
  with the projection sinks (real Redis and Hazelcast of scripts/services.sh)
  down, divided by the same with them up. The step is what the runtime does
  per kernel event after ``kernel.apply``: ``plane.write_slot(view)`` +
  ``projector.put_slot(view)`` + ``projector.put_event(fill)``.

Usage: python bench/plane_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from pink.kernel.messages import FillBooked, OrderSide, Side
from pink.kernel.views import SlotView
from pink.plane.shm import PlaneReader, StatePlane
from pink.projection.projector import Projector
from pink.projection.sinks import HazelcastSink, RedisSink

ROOT = Path(__file__).resolve().parents[1]


def view(slot: int, v: int, state: str = "OPEN") -> SlotView:
    q = Decimal(v) / 1000
    return SlotView(slot, v, state, f"t{v}", "BTC-USDT" + "X" * (v % 97),
                    Side.LONG if v % 2 else Side.SHORT, q, q, Decimal(v), q, Decimal(v) * q,
                    v % 7, -q, q, f"c{v}", v, "")


def fill(n: int) -> FillBooked:
    return FillBooked(0, "t", "i", "d", "c", "v", f"f{n}", "ENTRY", 0, "BTC-USDT", OrderSide.BUY,
                      Decimal("0.001"), Decimal("100.5"), Decimal("0.001"), Decimal("0.0001"),
                      "USDT", Decimal(0), n)


def reader_main(data_dir: str) -> None:
    reader = PlaneReader.open(data_dir)
    print("ready", flush=True)
    reads = torn = 0
    t0 = time.perf_counter()
    while True:
        got = reader.read_slot(0)
        if got is None:
            continue
        reads += 1
        if got != view(0, got.version, got.state):
            torn += 1
        if got.state == "DONE":
            break
    elapsed = time.perf_counter() - t0
    print(json.dumps({"reads_per_s": reads / elapsed, "torn": torn, "reads": reads,
                      "rejected": reader.rejected}), flush=True)
    reader.close()


def bench_plane(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        plane = StatePlane.create(d, "bench", "plane", 4)
        plane.write_slot(view(0, 1))
        proc = subprocess.Popen([sys.executable, __file__, "--reader", d],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        v = 1
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for _ in range(1000):
                v += 1
                plane.write_slot(view(0, v))
        elapsed = time.perf_counter() - t0
        plane.write_slot(view(0, v + 1, "DONE"))
        out, _ = proc.communicate(timeout=60)
        plane.close()
    result = json.loads(out.strip().splitlines()[-1])
    return {"snapshot_reads_per_s": result["reads_per_s"], "torn": result["torn"],
            "slot_writes_per_s": (v - 1) / elapsed, "reads": result["reads"]}


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _steps(up: bool, n: int) -> float:
    if up:
        sinks = [RedisSink("redis://127.0.0.1:6390/0"), HazelcastSink("127.0.0.1:5710")]
    else:
        sinks = [RedisSink(f"redis://127.0.0.1:{_dead_port()}/0", optional=True, timeout_s=0.2),
                 HazelcastSink(f"127.0.0.1:{_dead_port()}", optional=True,
                               connect_timeout_s=0.3)]
    proj = Projector("bench", f"lat-{int(up)}", sinks)
    await proj.start()
    with tempfile.TemporaryDirectory() as d:
        plane = StatePlane.create(d, "bench", f"lat{int(up)}", 8)
        views = [view(i % 8, i) for i in range(n)]
        fills = [fill(i) for i in range(n)]
        times: list[int] = []
        try:
            for i in range(n):
                t0 = time.perf_counter_ns()
                plane.write_slot(views[i])
                proj.put_slot(views[i])
                proj.put_event(fills[i])
                times.append(time.perf_counter_ns() - t0)
                if i % 50 == 0:
                    await asyncio.sleep(0)  # the sinks' tasks run between events
        finally:
            plane.close()
            await proj.close()
    return statistics.median(times) / 1000


async def bench_latency(n: int) -> dict[str, float]:
    services = ROOT / "scripts" / "services.sh"
    started = not (_answers(6390) and _answers(5710))
    if started:
        subprocess.run([str(services), "start"], check=True)
    try:
        down1 = await _steps(False, n)
        up = await _steps(True, n)
        down2 = await _steps(False, n)
    finally:
        if started:  # left running, they would hold the ports a later test run (CI) needs
            subprocess.run([str(services), "stop"], check=False)
    down = min(down1, down2)
    return {"step_us_sinks_up": up, "step_us_sinks_down": down, "ratio": down / up}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reader")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    if args.reader:
        reader_main(args.reader)
        return
    plane = bench_plane(args.seconds)
    lat = asyncio.run(bench_latency(args.steps))
    print(f"plane: {plane}", file=sys.stderr)
    print(f"hot-path step (write_slot + put_slot + put_event): {lat}", file=sys.stderr)
    print(json.dumps({
        "bench": "plane",
        "snapshot_reads_per_s": round(plane["snapshot_reads_per_s"]),
        "slot_writes_per_s": round(plane["slot_writes_per_s"]),
        "torn_accepted": plane["torn"],
        "kernel_latency_ratio_sink_down": round(lat["ratio"], 3),
        "step_us_sinks_up": round(lat["step_us_sinks_up"], 2),
        "step_us_sinks_down": round(lat["step_us_sinks_down"], 2),
    }))


if __name__ == "__main__":
    main()
