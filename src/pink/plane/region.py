"""Versioned shared-memory regions: double-buffered records and a bounded ring.

A region is a file in ``/dev/shm`` created with mode 0600 (owner only) and
mapped with ``mmap``. Counters are 8-byte aligned words stored with
``memoryview.cast("Q")[0] = v`` (one machine store; ``struct.pack_into``
zeroes the field first and is *not* atomic, see INFRA.md).

Record region (one per slot, one for the account)::

    0   magic  u64            "PINKREC1"
    8   gen    u64            number of published writes; 0 = never written
    16  cap    u64            payload capacity of each buffer
    64  buffer 0: stamp u64 | len u32 | crc32 u32 | payload[cap]
    ..  buffer 1: same

Write ``g`` goes to buffer ``g & 1`` (the one readers are *not* directed to):
stamp := 0, len/crc/payload, stamp := g, then gen := g. A reader takes
``gen``, reads that buffer's stamp, copies len/crc/payload, re-reads the
stamp and accepts only when both stamps equal ``gen`` and the crc32 matches
(F10). A writer that fails or dies mid-write has only touched the other
buffer, so the previous snapshot stays readable (F11).

Ring region (bounded intent history, F12)::

    0   magic "PINKRNG1" | 8 head u64 (records pushed) | 16 entries u64 | 24 cap u64
    64  entry i: stamp u64 (sequence held, 0 while written) | len u32 | crc u32 | payload

Meta region: magic "PINKMETA" | change counter | closed flag | writer pid.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterator

from pink.errors import CodecError

__all__ = [
    "SHM_DIR",
    "MetaRegion",
    "RecordRegion",
    "RingRegion",
    "create_file",
    "open_file",
]

SHM_DIR = "/dev/shm"
_HDR = 64
_ENTRY_HDR = 16
_LEN_CRC = struct.Struct("<II")
_MAGIC_REC = int.from_bytes(b"PINKREC1", "little")
_MAGIC_RING = int.from_bytes(b"PINKRNG1", "little")
_MAGIC_META = int.from_bytes(b"PINKMETA", "little")


def _align(n: int) -> int:
    return (n + 63) & ~63


def create_file(path: str, size: int) -> mmap.mmap:
    """Create ``path`` (mode 0600, must not exist), size it and map it read-write."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask says
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)


def open_file(path: str, *, writable: bool = False) -> mmap.mmap:
    """Map an existing region, read-only unless ``writable`` (raises FileNotFoundError when gone)."""
    fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        return mmap.mmap(fd, size, mmap.MAP_SHARED, prot)
    finally:
        os.close(fd)


class _Mapped:
    """An mmap plus the u64 views over it; releases them before unmapping."""

    def __init__(self, mm: mmap.mmap, path: str) -> None:
        self.mm = mm
        self.path = path
        self._mv = memoryview(mm)
        self._views: list[memoryview] = []

    def u64(self, offset: int) -> memoryview:
        view = self._mv[offset : offset + 8].cast("Q")
        self._views.append(view)
        return view

    def close(self) -> None:
        for view in self._views:
            view.release()
        self._views.clear()
        self._mv.release()
        self.mm.close()


class RecordRegion(_Mapped):
    """One double-buffered record (a slot or the account)."""

    def __init__(self, mm: mmap.mmap, path: str, *, fresh: bool) -> None:
        super().__init__(mm, path)
        self._hdr_magic = self.u64(0)
        self._gen = self.u64(8)
        cap_view = self.u64(16)
        if fresh:
            cap_view[0] = len(mm) // 2 - _HDR // 2 - _ENTRY_HDR
            self._hdr_magic[0] = _MAGIC_REC
        elif self._hdr_magic[0] != _MAGIC_REC:
            raise CodecError(f"{path} is not a PINK record region")
        self.capacity = cap_view[0]
        step = _ENTRY_HDR + self.capacity
        self._off = (_HDR, _HDR + step)
        self._stamps = (self.u64(_HDR), self.u64(_HDR + step))
        self._written = int(self._gen[0])
        self.rejected = 0

    @staticmethod
    def size_for(capacity: int) -> int:
        return _HDR + 2 * (_ENTRY_HDR + capacity)

    @property
    def generation(self) -> int:
        return int(self._gen[0])

    def publish(self, payload: bytes) -> int:
        """Write ``payload`` as the next generation; returns it."""
        n = len(payload)
        if n > self.capacity:
            raise CodecError(f"record of {n} bytes exceeds the region's {self.capacity}")
        gen = self._written + 1
        k = gen & 1
        off = self._off[k]
        stamp = self._stamps[k]
        stamp[0] = 0
        _LEN_CRC.pack_into(self.mm, off + 8, n, zlib.crc32(payload))
        self.mm[off + _ENTRY_HDR : off + _ENTRY_HDR + n] = payload
        stamp[0] = gen
        self._gen[0] = gen
        self._written = gen
        return gen

    def begin_unpublished(self, payload: bytes) -> None:
        """Start a write and stop half way, as a writer dying mid-write would (tests)."""
        k = (self._written + 1) & 1
        off = self._off[k]
        self._stamps[k][0] = 0
        half = payload[: len(payload) // 2]
        _LEN_CRC.pack_into(self.mm, off + 8, len(payload), zlib.crc32(payload))
        self.mm[off + _ENTRY_HDR : off + _ENTRY_HDR + len(half)] = half

    def read(self, attempts: int = 10_000) -> tuple[int, bytes] | None:
        """The last published ``(generation, payload)``; None if never written.

        Returns only a payload whose stamps and crc32 agree; retries otherwise.
        ``rejected`` counts the copies thrown away (torn or being rewritten).
        """
        for _ in range(attempts):
            gen = self._gen[0]
            if gen == 0:
                return None
            k = gen & 1
            stamp = self._stamps[k]
            if stamp[0] != gen:
                self.rejected += 1
                continue
            off = self._off[k]
            n, crc = _LEN_CRC.unpack_from(self.mm, off + 8)
            if n > self.capacity:
                self.rejected += 1
                continue
            data = self.mm[off + _ENTRY_HDR : off + _ENTRY_HDR + n]
            if stamp[0] != gen or zlib.crc32(data) != crc:
                self.rejected += 1
                continue
            return gen, data
        raise TimeoutError(f"{self.path}: no stable snapshot after {attempts} attempts")


class RingRegion(_Mapped):
    """A bounded ring of records; the oldest is overwritten (F12)."""

    def __init__(self, mm: mmap.mmap, path: str, *, entries: int = 0, cap: int = 0) -> None:
        super().__init__(mm, path)
        magic = self.u64(0)
        self._head = self.u64(8)
        n_view, cap_view = self.u64(16), self.u64(24)
        if entries:
            n_view[0], cap_view[0] = entries, cap
            magic[0] = _MAGIC_RING
        elif magic[0] != _MAGIC_RING:
            raise CodecError(f"{path} is not a PINK ring region")
        self.entries = int(n_view[0])
        self.capacity = int(cap_view[0])
        self._step = _align(_ENTRY_HDR + self.capacity)
        self._stamps = [self.u64(_HDR + i * self._step) for i in range(self.entries)]
        self._pushed = int(self._head[0])
        self.rejected = 0

    @staticmethod
    def size_for(entries: int, capacity: int) -> int:
        return _HDR + entries * _align(_ENTRY_HDR + capacity)

    @property
    def head(self) -> int:
        return int(self._head[0])

    def push(self, payload: bytes) -> int:
        n = len(payload)
        if n > self.capacity:
            raise CodecError(f"record of {n} bytes exceeds the ring entry's {self.capacity}")
        seq = self._pushed + 1
        i = seq % self.entries
        off = _HDR + i * self._step
        stamp = self._stamps[i]
        stamp[0] = 0
        _LEN_CRC.pack_into(self.mm, off + 8, n, zlib.crc32(payload))
        self.mm[off + _ENTRY_HDR : off + _ENTRY_HDR + n] = payload
        stamp[0] = seq
        self._head[0] = seq
        self._pushed = seq
        return seq

    def read_all(self) -> Iterator[tuple[int, bytes]]:
        """Records still in the ring, oldest first; overwritten ones are skipped."""
        head = self._head[0]
        for seq in range(max(1, head - self.entries + 1), head + 1):
            i = seq % self.entries
            off = _HDR + i * self._step
            stamp = self._stamps[i]
            if stamp[0] != seq:
                self.rejected += 1
                continue
            n, crc = _LEN_CRC.unpack_from(self.mm, off + 8)
            if n > self.capacity:
                self.rejected += 1
                continue
            data = self.mm[off + _ENTRY_HDR : off + _ENTRY_HDR + n]
            if stamp[0] != seq or zlib.crc32(data) != crc:
                self.rejected += 1
                continue
            yield seq, data


class MetaRegion(_Mapped):
    """Change counter (for waiting readers), closed flag and writer pid."""

    SIZE = _HDR

    def __init__(self, mm: mmap.mmap, path: str, *, fresh: bool) -> None:
        super().__init__(mm, path)
        magic = self.u64(0)
        self._change = self.u64(8)
        self._closed = self.u64(16)
        self._pid = self.u64(24)
        if fresh:
            self._pid[0] = os.getpid()
            magic[0] = _MAGIC_META
        elif magic[0] != _MAGIC_META:
            raise CodecError(f"{path} is not a PINK meta region")
        self._count = int(self._change[0])

    @property
    def change(self) -> int:
        return int(self._change[0])

    @property
    def closed(self) -> bool:
        return bool(self._closed[0])

    @property
    def pid(self) -> int:
        return int(self._pid[0])

    def bump(self) -> int:
        self._count += 1
        self._change[0] = self._count
        return self._count

    def mark_closed(self) -> None:
        self._closed[0] = 1
        self.bump()
