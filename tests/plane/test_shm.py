from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pink.errors import ClosedError, CodecError, StartupError
from pink.kernel.views import SlotView
from pink.plane.shm import PlaneGoneError, PlaneReader, StatePlane

from .helpers import account_view, consistent, intent_record, slot_view

HERE = Path(__file__).parent


def _region_bytes(plane: StatePlane) -> dict[str, bytes]:
    m = plane.manifest
    paths = {"account": m.account, "intents": m.intents, **m.slot_regions}
    return {k: Path(p).read_bytes() for k, p in paths.items()}


def test_round_trip_and_none_before_first_write(plane: StatePlane) -> None:
    reader = PlaneReader.open(plane.data_dir)
    try:
        assert reader.read_slot(2) is None
        assert reader.read_account() is None
        assert reader.read_intents() == []
        plane.write_slot(slot_view(2, 7))
        plane.write_account(account_view(3))
        assert reader.read_slot(2) == slot_view(2, 7)
        assert reader.read_account() == account_view(3)
        assert reader.slots == list(range(8))
    finally:
        reader.close()


def test_e19_f5_f7_f9_only_touched_slot_is_written(plane: StatePlane) -> None:
    """Flaws E19, F5, F7, F9."""
    for i in range(8):
        plane.write_slot(slot_view(i, 1))
    plane.write_account(account_view(1))
    reader = PlaneReader.open(plane.data_dir)
    try:
        gens = {i: reader.slot_generation(i) for i in range(8)}
        before = _region_bytes(plane)
        plane.write_slot(slot_view(3, 2))
        after = _region_bytes(plane)
        changed = {k for k in before if before[k] != after[k]}
        assert changed == {"3"}, changed
        assert {i: reader.slot_generation(i) for i in range(8)} == {**gens, 3: gens[3] + 1}
        assert reader.read_slot(3) == slot_view(3, 2)
    finally:
        reader.close()


def test_f10_f11_concurrent_reader_never_accepts_torn_snapshot(tmp_path: Path) -> None:
    """Flaws F10, F11."""
    writes = 120_000
    plane = StatePlane.create(tmp_path, "acc", "torn", 2)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "torn_reader.py"), str(tmp_path), "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        for v in range(1, writes + 1):
            plane.write_slot(slot_view(0, v))
        plane.write_slot(slot_view(0, writes + 1, state="DONE"))
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        plane.close()
    result = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 0
    assert result["torn_accepted"] == 0
    assert result["backwards"] == 0
    assert result["last"] == writes + 1
    assert result["reads"] > 1000 and result["distinct"] > 100, result
    print("torn-test reader:", result)


def test_f10_f11_failed_write_leaves_previous_snapshot_readable(plane: StatePlane) -> None:
    """Flaws F10, F11."""
    plane.write_slot(slot_view(1, 5))
    reader = PlaneReader.open(plane.data_dir)
    try:
        huge = SlotView(**{**_fields(slot_view(1, 6)), "desync_reason": "x" * 10_000})
        with pytest.raises(CodecError, match="exceeds"):
            plane.write_slot(huge)
        assert reader.read_slot(1) == slot_view(1, 5)
        # A writer that dies half way through a write (stamp zeroed, half a payload).
        region = plane._slots[1]
        region.begin_unpublished(b'{"slot":1,"version":6,' + b"x" * 200)
        assert reader.read_slot(1) == slot_view(1, 5)
    finally:
        reader.close()


def _fields(view: SlotView) -> dict[str, object]:
    return {name: getattr(view, name) for name in SlotView.__slots__}


def test_f10_f11_writer_killed_mid_write_leaves_a_valid_snapshot(tmp_path: Path) -> None:
    """Flaws F10, F11."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    reader = PlaneReader.open(tmp_path)
    try:
        view = reader.read_slot(0)
        assert view is not None and consistent(view) and view.version >= 1000
        assert not reader.writer_alive
    finally:
        reader.close()
    # The next run in the same data dir cleans up the dead writer's regions.
    old = json.loads((tmp_path / "plane.json").read_text())
    plane = StatePlane.create(tmp_path, "acc", "crash", 2)
    try:
        assert plane.manifest.pid == os.getpid() and old["pid"] != os.getpid()
        assert old["slot_regions"]["0"] == plane.manifest.slot_regions["0"]  # same run name
        reader = PlaneReader.open(tmp_path)
        try:
            assert reader.read_slot(0) is None  # a fresh region, not the dead writer's
        finally:
            reader.close()
    finally:
        plane.close()
    assert not os.path.exists(old["slot_regions"]["0"])


def test_second_live_writer_is_refused(plane: StatePlane) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"]
    )
    try:
        manifest = json.loads((plane.data_dir / "plane.json").read_text())
        manifest["pid"] = proc.pid  # pretend another live process owns it
        (plane.data_dir / "plane.json").write_text(json.dumps(manifest))
        with pytest.raises(StartupError, match=f"in use by pid {proc.pid}"):
            StatePlane.create(plane.data_dir, "acc-1", "other", 2)
    finally:
        proc.kill()
        proc.wait()


def test_f12_intent_ring_is_bounded(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "acc", "ring", 1, ring_size=512)
    reader = PlaneReader.open(tmp_path)
    try:
        size = os.path.getsize(plane.manifest.intents)
        for n in range(1, 2001):
            assert plane.push_intent(intent_record(n))
        assert os.path.getsize(plane.manifest.intents) == size
        mem = plane.recent_intents()
        shared = reader.read_intents()
        assert len(mem) == 512 and len(shared) == 512
        assert [r.ts for r in shared] == list(range(1489, 2001))
        assert shared == mem
    finally:
        reader.close()
        plane.close()


def test_f13_no_lock_held_while_calling_out(plane: StatePlane) -> None:
    inside = threading.Event()
    release = threading.Event()
    reentered: list[int] = []

    def blocking_listener(kind: str, index: int) -> None:
        if kind == "slot":
            inside.set()
            release.wait(5)

    def reentrant_listener(kind: str, index: int) -> None:
        if kind == "slot" and not reentered:
            reentered.append(index)
            plane.push_intent(intent_record(1))  # calls back into the plane

    plane.add_listener(reentrant_listener)
    plane.add_listener(blocking_listener)
    writer = threading.Thread(target=plane.write_slot, args=(slot_view(0, 1),))
    writer.start()
    try:
        assert inside.wait(5)
        # While a listener is running, the plane's lock is free: other threads proceed.
        done = threading.Event()

        def other() -> None:
            plane.recent_intents()
            plane.add_listener(lambda k, i: None)
            done.set()

        t = threading.Thread(target=other)
        t.start()
        assert done.wait(2), "a lock was held while calling out to a listener"
        t.join()
    finally:
        release.set()
        writer.join(5)
    assert not writer.is_alive()
    assert reentered == [0]
    assert [r.ts for r in plane.recent_intents()] == [1]


def test_listener_errors_are_counted_not_raised(plane: StatePlane) -> None:
    def bad(kind: str, index: int) -> None:
        raise RuntimeError("boom")

    plane.add_listener(bad)
    plane.write_slot(slot_view(0, 1))
    assert plane.listener_errors == 1
    plane.remove_listener(bad)
    plane.write_slot(slot_view(0, 2))
    assert plane.listener_errors == 1


def test_f14_f30_reader_names_unknown_fields(plane: StatePlane) -> None:
    """Flaws F14, F30."""
    plane._slots[4].publish(b'{"slot":4,"surprise":1}')
    reader = PlaneReader.open(plane.data_dir)
    try:
        with pytest.raises(CodecError, match="SlotView: Object contains unknown field `surprise`"):
            reader.read_slot(4)
    finally:
        reader.close()


def test_wait_for_change_wakes_on_write(plane: StatePlane) -> None:
    reader = PlaneReader.open(plane.data_dir)
    try:
        assert reader.wait_for_change(0.05) is None
        timer = threading.Timer(0.1, plane.write_slot, args=(slot_view(0, 1),))
        timer.start()
        t0 = time.monotonic()
        seen = reader.wait_for_change(5)
        timer.join()
        assert seen is not None and time.monotonic() - t0 < 1.0
        assert reader.read_slot(0) == slot_view(0, 1)
    finally:
        reader.close()


def test_regions_are_owner_only(plane: StatePlane) -> None:
    m = plane.manifest
    for path in [m.meta, m.account, m.intents, *m.slot_regions.values()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert "acc-1" in path
    assert stat.S_IMODE(os.stat(plane.data_dir / "plane.json").st_mode) == 0o600


def test_close_is_idempotent_and_use_after_close_raises(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "acc", "close", 2)
    reader = PlaneReader.open(tmp_path)
    paths = [plane.manifest.meta, *plane.manifest.slot_regions.values()]
    plane.close()
    plane.close()
    assert not any(os.path.exists(p) for p in paths)
    assert not (tmp_path / "plane.json").exists()
    with pytest.raises(ClosedError):
        plane.write_slot(slot_view(0, 1))
    with pytest.raises(PlaneGoneError, match="closed by its writer"):
        reader.read_slot(0)
    reader.close()
    reader.close()
    with pytest.raises(ClosedError):
        reader.read_account()
    with pytest.raises(PlaneGoneError, match="is `pink run` running"):
        PlaneReader.open(tmp_path)


def test_vanished_regions_give_a_clear_message(tmp_path: Path) -> None:
    plane = StatePlane.create(tmp_path, "acc", "gone", 2)
    try:
        os.unlink(plane.manifest.slot_regions["1"])
        with pytest.raises(PlaneGoneError, match="has vanished"):
            PlaneReader.open(tmp_path)
    finally:
        plane.close()


def test_two_data_dirs_with_the_same_ids_keep_their_own_planes(tmp_path: Path) -> None:
    """`pink status --data-dir A` showed B's account, and A's close unlinked B's regions."""
    a = StatePlane.create(tmp_path / "a", "paper", "rt1", 2)
    try:
        b = StatePlane.create(tmp_path / "b", "paper", "rt1", 2)
        try:
            a.write_account(account_view(1))
            b.write_account(account_view(2))
            for plane, view in ((a, account_view(1)), (b, account_view(2))):
                reader = PlaneReader.open(plane.data_dir)
                try:
                    assert reader.read_account() == view
                finally:
                    reader.close()
            a.close()
            reader = PlaneReader.open(tmp_path / "b")  # A's close left B's plane alone
            try:
                assert reader.read_account() == account_view(2)
                b.write_account(account_view(3))
                assert reader.read_account() == account_view(3)
            finally:
                reader.close()
        finally:
            b.close()
    finally:
        a.close()
