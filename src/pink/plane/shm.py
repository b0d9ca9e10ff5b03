"""The state plane: live slots, account and recent intents in shared memory.

One writer (the runtime task that owns the kernel) and any number of reader
processes (``pink status``, dashboards). Regions are files in ``/dev/shm``
(mode 0600), one per slot, one for the account, one bounded intent ring and
one meta region, named ``pink.<account>.<runtime>.<dir>.<kind>`` (``<dir>``: a hash of
the data dir; see :mod:`pink.plane.region` for the versioned layout). ``StatePlane.create``
writes ``<data_dir>/plane.json`` naming them; ``PlaneReader.open(data_dir)``
finds them there.

Per event the runtime writes only the touched slot (E19, F5, F7, F9). Readers
wait for changes by polling the meta region's change counter with backoff
(50 µs doubling to 5 ms): no spinning, no FIFO to leak.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from pink.errors import ClosedError, CodecError, PinkError, StartupError
from pink.kernel.messages import IntentRecorded
from pink.kernel.views import AccountView, SlotView
from pink.plane.codec import codec_for
from pink.plane.health import pid_alive
from pink.plane.region import (
    SHM_DIR,
    MetaRegion,
    RecordRegion,
    RingRegion,
    create_file,
    open_file,
)

__all__ = ["Listener", "PlaneGoneError", "PlaneManifest", "PlaneReader", "StatePlane"]

log = logging.getLogger(__name__)
MANIFEST = "plane.json"
Listener = Callable[[str, int], None]  # (kind: "slot" | "account" | "intent", index)


class PlaneGoneError(PinkError):
    """The plane a reader looks for is not there (never started, closed, crashed)."""


class PlaneManifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    account_id: str
    runtime_id: str
    pid: int
    created_ns: int
    slots: list[int]
    meta: str
    account: str
    intents: str
    slot_regions: dict[str, str]


_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def _region_name(data_dir: Path, account_id: str, runtime_id: str, kind: str) -> str:
    """``pink.<account>.<runtime>.<dir>.<kind>``: ``<dir>`` is a short hash of the resolved data dir,
    so two runs with the same ids in two data dirs never share (nor unlink) each other's regions."""
    where = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"pink.{_SAFE.sub('_', account_id)}.{_SAFE.sub('_', runtime_id)}.{where}.{kind}"


def _read_manifest(data_dir: Path) -> PlaneManifest | None:
    try:
        return msgspec.json.decode((data_dir / MANIFEST).read_bytes(), type=PlaneManifest)
    except FileNotFoundError:
        return None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CodecError(f"{data_dir / MANIFEST} is not a state plane manifest: {exc}") from None


class StatePlane:
    """The writer side. Not thread-safe for writes: one writer task owns it."""

    def __init__(
        self,
        data_dir: Path,
        manifest: PlaneManifest,
        meta: MetaRegion,
        account: RecordRegion,
        slots: dict[int, RecordRegion],
        intents: RingRegion,
        ring_size: int,
    ) -> None:
        self.data_dir = data_dir
        self.manifest = manifest
        self._meta = meta
        self._account = account
        self._slots = slots
        self._intents = intents
        self._recent: deque[IntentRecorded] = deque(maxlen=ring_size)
        self._lock = threading.Lock()  # guards _recent and _listeners; never held on callout
        self._listeners: list[Listener] = []
        self._closed = False
        self.slot_writes = 0
        self.listener_errors = 0
        self.oversize = 0

    @classmethod
    def create(
        cls,
        data_dir: str | os.PathLike[str],
        account_id: str,
        runtime_id: str,
        slots: int | Iterable[int],
        *,
        ring_size: int = 512,
        record_capacity: int = 4096,
        intent_capacity: int = 4096,
        shm_dir: str = SHM_DIR,
    ) -> StatePlane:
        """Create the regions and ``<data_dir>/plane.json``.

        A plane left by a writer that died is cleaned up; one whose writer is
        alive is a :class:`StartupError`.
        """
        ddir = Path(data_dir)
        ddir.mkdir(parents=True, exist_ok=True)
        numbers = list(range(slots)) if isinstance(slots, int) else sorted(set(slots))
        if ring_size < 1:
            raise ValueError("ring_size must be at least 1")
        try:
            old = _read_manifest(ddir)
        except CodecError as exc:  # garbled by hand: no pid to ask; the data dir's run lock guards runs
            log.warning("replacing %s", exc)
            old = None
        if old is not None:
            if old.pid != os.getpid() and pid_alive(old.pid):
                raise StartupError(
                    "state plane", f"{ddir} is in use by pid {old.pid} ({old.runtime_id})"
                )
            cleanup(ddir, old)

        def name(kind: str) -> str:
            return os.path.join(shm_dir, _region_name(ddir, account_id, runtime_id, kind))

        paths = [name("meta"), name("account"), name("intents")]
        paths += [name(f"slot{i}") for i in numbers]
        for stale in paths:  # a crashed writer of the same run on this dir, with no manifest left
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        opened: list[MetaRegion | RecordRegion | RingRegion] = []
        try:
            meta = MetaRegion(create_file(paths[0], MetaRegion.SIZE), paths[0], fresh=True)
            opened.append(meta)
            size = RecordRegion.size_for(record_capacity)
            account = RecordRegion(create_file(paths[1], size), paths[1], fresh=True)
            opened.append(account)
            ring_bytes = RingRegion.size_for(ring_size, intent_capacity)
            intents = RingRegion(
                create_file(paths[2], ring_bytes), paths[2], entries=ring_size, cap=intent_capacity
            )
            opened.append(intents)
            regions: dict[int, RecordRegion] = {}
            for i, path in zip(numbers, paths[3:], strict=True):
                regions[i] = RecordRegion(create_file(path, size), path, fresh=True)
                opened.append(regions[i])
        except OSError as exc:
            for region in opened:
                region.close()
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            raise StartupError("state plane", f"cannot create shared memory: {exc}") from exc
        manifest = PlaneManifest(
            version=1,
            account_id=account_id,
            runtime_id=runtime_id,
            pid=os.getpid(),
            created_ns=time.time_ns(),
            slots=numbers,
            meta=paths[0],
            account=paths[1],
            intents=paths[2],
            slot_regions={str(i): p for i, p in zip(numbers, paths[3:], strict=True)},
        )
        tmp = ddir / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_bytes(msgspec.json.encode(manifest))
        os.chmod(tmp, 0o600)
        os.replace(tmp, ddir / MANIFEST)
        return cls(ddir, manifest, meta, account, regions, intents, ring_size)

    # ---------------------------------------------------------------- writes

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("state plane")

    def write_slot(self, view: SlotView) -> int:
        """Publish one slot (only its region is touched); returns its generation."""
        self._check()
        region = self._slots.get(view.slot)
        if region is None:
            raise KeyError(f"slot {view.slot} is not in this plane ({self.manifest.slots})")
        gen = region.publish(codec_for(SlotView).encode(view))
        self._meta.bump()
        self.slot_writes += 1
        self._notify("slot", view.slot)
        return gen

    def write_account(self, view: AccountView) -> int:
        self._check()
        gen = self._account.publish(codec_for(AccountView).encode(view))
        self._meta.bump()
        self._notify("account", 0)
        return gen

    def push_intent(self, record: IntentRecorded) -> bool:
        """Append to the bounded ring (memory and shared memory).

        Returns False when the record is too large for a shared ring entry:
        it is then kept in memory only and counted in ``oversize``.
        """
        self._check()
        with self._lock:
            self._recent.append(record)
        try:
            seq = self._intents.push(codec_for(IntentRecorded).encode(record))
        except CodecError:
            self.oversize += 1
            return False
        self._meta.bump()
        self._notify("intent", seq)
        return True

    def recent_intents(self) -> list[IntentRecorded]:
        """The in-memory ring, oldest first (safe from other threads)."""
        with self._lock:
            return list(self._recent)

    # ------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(kind, index)`` after each write, with no lock held (F13)."""
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]

    def _notify(self, kind: str, index: int) -> None:
        with self._lock:
            listeners = self._listeners  # copy-on-write list: a snapshot
        for listener in listeners:  # outside the lock: listeners may re-enter
            try:
                listener(kind, index)
            except Exception:
                self.listener_errors += 1

    # ---------------------------------------------------------------- close

    def close(self) -> None:
        """Mark the plane closed for readers, unmap and unlink it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._meta.mark_closed()
        cleanup(self.data_dir, self.manifest)
        for region in (self._meta, self._account, self._intents, *self._slots.values()):
            region.close()


def cleanup(data_dir: Path, manifest: PlaneManifest) -> None:
    """Unlink a plane's regions, and its manifest if it still names this run. Its meta region is
    marked closed first: a reader that still maps it learns the plane is gone."""
    with contextlib.suppress(OSError, ValueError):
        meta = MetaRegion(open_file(manifest.meta, writable=True), manifest.meta, fresh=False)
        meta.mark_closed()
        meta.close()
    paths = [manifest.meta, manifest.account, manifest.intents, *manifest.slot_regions.values()]
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    try:
        current = _read_manifest(data_dir)
    except CodecError:  # garbled since: not ours to remove
        current = None
    if current is not None and current.created_ns == manifest.created_ns:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / MANIFEST).unlink()


class PlaneReader:
    """A reader in any process of the same user. Reads are validated copies."""

    def __init__(self, manifest: PlaneManifest, meta: MetaRegion, account: RecordRegion,
                 slots: dict[int, RecordRegion], intents: RingRegion) -> None:
        self.manifest = manifest
        self._meta = meta
        self._account = account
        self._slots = slots
        self._intents = intents
        self._seen = meta.change
        self._closed = False

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str]) -> PlaneReader:
        ddir = Path(data_dir)
        manifest = _read_manifest(ddir)
        if manifest is None:
            raise PlaneGoneError(
                f"no state plane in {ddir} ({MANIFEST} missing): is `pink run` running "
                "with this data dir?"
            )
        opened: list[MetaRegion | RecordRegion | RingRegion] = []
        try:
            meta = MetaRegion(open_file(manifest.meta), manifest.meta, fresh=False)
            opened.append(meta)
            account = RecordRegion(open_file(manifest.account), manifest.account, fresh=False)
            opened.append(account)
            intents = RingRegion(open_file(manifest.intents), manifest.intents)
            opened.append(intents)
            slots: dict[int, RecordRegion] = {}
            for key, path in manifest.slot_regions.items():
                slots[int(key)] = RecordRegion(open_file(path), path, fresh=False)
                opened.append(slots[int(key)])
        except FileNotFoundError as exc:
            for region in opened:
                region.close()
            alive = "alive" if pid_alive(manifest.pid) else "gone"
            raise PlaneGoneError(
                f"the state plane of runtime {manifest.runtime_id} (pid {manifest.pid}, {alive}) "
                f"has vanished: {exc.filename} is missing; its writer closed or crashed"
            ) from exc
        return cls(manifest, meta, account, slots, intents)

    @property
    def slots(self) -> list[int]:
        return list(self.manifest.slots)

    @property
    def writer_alive(self) -> bool:
        return pid_alive(self.manifest.pid)

    @property
    def rejected(self) -> int:
        """Copies thrown away because they were torn or being rewritten."""
        regions = (self._account, *self._slots.values())
        return sum(r.rejected for r in regions) + self._intents.rejected

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("plane reader")
        if self._meta.closed:
            raise PlaneGoneError(
                f"the state plane of runtime {self.manifest.runtime_id} was closed by its writer (or, "
                "after its writer died, by the next run)"
            )


    def read_slot(self, slot: int) -> SlotView | None:
        """The slot's last published view; None if it was never written."""
        self._check()
        region = self._slots.get(slot)
        if region is None:
            raise KeyError(f"slot {slot} is not in this plane ({self.manifest.slots})")
        got = region.read()
        return None if got is None else codec_for(SlotView).decode(got[1])

    def slot_generation(self, slot: int) -> int:
        """How many times the slot was written (cheap; no copy)."""
        return self._slots[slot].generation

    def read_account(self) -> AccountView | None:
        self._check()
        got = self._account.read()
        return None if got is None else codec_for(AccountView).decode(got[1])

    def read_intents(self) -> list[IntentRecorded]:
        """Intents still in the shared ring, oldest first."""
        self._check()
        codec = codec_for(IntentRecorded)
        return [codec.decode(data) for _, data in self._intents.read_all()]

    def wait_for_change(self, timeout: float, since: int | None = None) -> int | None:
        """Block until the change counter moves past ``since`` (default: last seen).

        Polls with backoff (50 µs doubling to 5 ms). Returns the new counter,
        or None on timeout. Raises PlaneGoneError when the writer closes.
        """
        self._check()
        base = self._seen if since is None else since
        deadline = time.monotonic() + timeout
        pause = 50e-6
        while True:
            now = self._meta.change
            if now != base:
                self._seen = now
                self._check()
                return now
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 5e-3)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for region in (self._meta, self._account, self._intents, *self._slots.values()):
            region.close()
