"""The data dir of a run: one run at a time.

A run holds an exclusive lock (``flock``) on ``<data_dir>/run.lock`` for its whole life, taken
before anything in the dir is opened: a second run on the same dir would write the same journal
(the first then dies on a duplicate message number) and the same ledger. The file names the pid
that holds it; the lock itself goes with the process, so a run killed outright leaves nothing to
clean up (the file stays, unlocked).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from pink.errors import StartupError

__all__ = ["LOCK_FILE", "DataDirLock", "make_data_dir"]

LOCK_FILE = "run.lock"


def make_data_dir(data_dir: Path) -> Path:
    """``data_dir``, created if need be; a path that cannot be one is a :class:`StartupError` saying why."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StartupError(f"data dir ({data_dir})", "it exists and is not a directory") from None
    except NotADirectoryError:
        raise StartupError(f"data dir ({data_dir})", "a part of its path is a file, not a directory") from None
    except OSError as exc:
        raise StartupError(f"data dir ({data_dir})", f"cannot create it: {exc.strerror or exc}") from None
    return data_dir


class DataDirLock:
    """The lock of one run on its data dir; :meth:`release` (idempotent) at close."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Lock ``data_dir`` (which exists) or raise :class:`StartupError` naming the pid holding it."""
        path = data_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(f"data dir ({data_dir})", f"cannot open its lock file {path}: "
                               f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise StartupError(f"data dir ({data_dir})", f"another `pink run` uses it ({holder}); stop that run "
                               "first, or give this one another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        """Let the next run have the dir (the file stays: unlinking it would race a run taking it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock


def _holder(fd: int) -> str:
    """``pid N`` from the lock file, or what is known."""
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "its pid is not recorded"
