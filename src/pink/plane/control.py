"""The control plane: operator switches in one file under the data dir.

``<data_dir>/control.json`` holds a :class:`ControlState`: the kernel's
:class:`~pink.kernel.messages.ControlSnapshot` (version, pause_entries, kill,
max_leverage, max_position_notional, changed_by, note) plus ``flatten_seq``,
``flatten_ns`` and ``changed_ns``. The file is written atomically (temp file + fsync +
rename), mode 0600, and only by its owner.

Flatten is a command, not a state: ``pink control flatten`` increments
``flatten_seq``, stamps ``flatten_ns`` with the time it was asked (and pauses
entries, so the policy does not re-open at once). The runtime keeps, in its
journal, the last flatten it carried out; when the current one was asked
later (``flatten_ns``; a file reset counts ``flatten_seq`` from 0 again, so
the count alone cannot say) it is carried out (also at start: a flatten asked
for while nothing ran is carried out then, before the first policy cycle) it
exits every open slot (close_all) and cancels working entries, and once every
slot is idle it journals the sequence. A restart therefore never flattens
twice, and one killed mid-flatten finishes it.

:class:`ControlReader` caches by version: each ``current()`` is one
``os.stat``; the file is parsed only when (mtime_ns, size, inode) changed
(F27). A file that is malformed or owned by someone else is refused and the
previous snapshot stays in force (``last_error`` says why, and it is logged once per
change of the file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import getpass
import logging
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pink.errors import CodecError, ConfigError
from pink.kernel.messages import ControlSnapshot
from pink.plane.codec import codec_for

__all__ = [
    "COMMANDS",
    "CONTROL_FILE",
    "MAX_LEVERAGE_LIMIT",
    "ControlReader",
    "ControlState",
    "ControlWriter",
]

log = logging.getLogger("pink.plane")

CONTROL_FILE = "control.json"
MAX_LEVERAGE_LIMIT = 125
MAX_NOTIONAL_LIMIT = Decimal(10) ** 12
"""The largest notional cap: the kernel's prices and quantities are held to 1e12 (``none``: no cap)."""
_NOTIONAL_PLACES = 12  # the decimals the kernel keeps of an amount of money
COMMANDS = (
    "pause-entries",
    "resume",
    "kill",
    "unkill",
    "flatten",
    "set-max-leverage",
    "set-max-notional",
)


@dataclass(frozen=True, slots=True)
class ControlState:
    """What is in the control file: the kernel's snapshot plus the flatten command."""

    snapshot: ControlSnapshot = field(default_factory=ControlSnapshot)
    flatten_seq: int = 0
    changed_ns: int = 0
    flatten_ns: int = 0  # when flatten_seq was asked (0: none, or a file written before this field)

    @property
    def version(self) -> int:
        return self.snapshot.version


def validate(state: ControlState) -> None:
    """Raise ConfigError naming the first bad field."""
    snap = state.snapshot
    if snap.version < 0 or state.flatten_seq < 0 or state.flatten_ns < 0:
        raise ConfigError("control: version, flatten_seq and flatten_ns must be >= 0")
    if not isinstance(snap.max_leverage, int) or not 1 <= snap.max_leverage <= MAX_LEVERAGE_LIMIT:
        raise ConfigError(
            f"control: max_leverage must be an integer in 1..{MAX_LEVERAGE_LIMIT}, "
            f"got {snap.max_leverage!r}"
        )
    notional = snap.max_position_notional
    if notional is not None and (why := _notional_problem(notional)):
        raise ConfigError(f"control: max_position_notional {str(notional)!r} {why}")
    if not snap.changed_by.strip():
        raise ConfigError("control: changed_by must name who made the change")


def _notional_problem(amount: Decimal) -> str:
    """Why ``amount`` cannot be a notional cap ("" when it can)."""
    if amount.is_nan():
        return "is not a number"
    if not amount.is_finite():
        return "is not finite"
    if amount <= 0:
        return "must be > 0 (use 'none' for no cap)"
    if amount > MAX_NOTIONAL_LIMIT:
        return f"must be at most {MAX_NOTIONAL_LIMIT} (use 'none' for no cap)"
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_NOTIONAL_PLACES:
        return f"has more than {_NOTIONAL_PLACES} decimal places"
    return ""


def _whole(amount: Decimal) -> Decimal:
    """A finite ``amount`` without a positive exponent: ``1E+3`` is kept and shown as ``1000``."""
    return amount.quantize(Decimal(1)) if int(amount.as_tuple().exponent) > 0 else amount


def _plain(state: ControlState) -> ControlState:
    """A validated ``state`` with its cap in plain notation."""
    cap = state.snapshot.max_position_notional
    if cap is None or _whole(cap) is cap:
        return state
    snap = dataclasses.replace(state.snapshot, max_position_notional=_whole(cap))
    return dataclasses.replace(state, snapshot=snap)


def _check_owner(path: Path, st: os.stat_result) -> None:
    if st.st_uid != os.getuid():
        raise ConfigError(
            f"control: {path} is owned by uid {st.st_uid}, not by you (uid {os.getuid()}); "
            "refusing it"
        )


class ControlReader:
    """The runtime's view of the control file, re-parsed only when it changed."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / CONTROL_FILE
        self._key: tuple[int, int, int] | None = None
        self._state = ControlState()
        self.parses = 0
        self.last_error = ""

    def current(self) -> ControlState:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._state  # nothing written yet (or removed): keep what is in force
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self._key:
            return self._state
        self._key = key
        try:
            _check_owner(self.path, st)
            self._state = self._parse()
            self.last_error = ""
        except (ConfigError, CodecError, OSError) as exc:
            self.last_error = f"{exc}; version {self._state.version} stays in force"
            log.warning("%s refused: %s", self.path, self.last_error)  # once per change of the file
        return self._state

    def _parse(self) -> ControlState:
        self.parses += 1
        state = codec_for(ControlState).decode(self.path.read_bytes())
        validate(state)
        return _plain(state)


class ControlWriter:
    """Used by ``pink control``: validates, then replaces the file atomically."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(data_dir)
        self.path = self.dir / CONTROL_FILE

    def read(self) -> ControlState:
        """The state in force (a default one if nothing was written)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return ControlState()
        _check_owner(self.path, st)
        try:
            state = codec_for(ControlState).decode(self.path.read_bytes())
        except CodecError as exc:
            raise ConfigError(f"control: {self.path} is malformed: {exc}") from exc
        validate(state)
        return _plain(state)

    def apply(
        self, command: str, value: str | None = None, *, by: str = "", note: str = ""
    ) -> ControlState:
        """Apply one operator command; returns the new state in force."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.dir / ".control.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # two operators at once: one after the other
            return self._apply(command, value, by=by, note=note)
        finally:
            os.close(lock_fd)

    def _apply(self, command: str, value: str | None, *, by: str, note: str) -> ControlState:
        prev = self.read()
        snap = prev.snapshot
        flatten_seq, flatten_ns = prev.flatten_seq, prev.flatten_ns
        if command == "pause-entries":
            snap = dataclasses.replace(snap, pause_entries=True)
        elif command == "resume":
            snap = dataclasses.replace(snap, pause_entries=False)
        elif command == "kill":
            snap = dataclasses.replace(snap, kill=True)
        elif command == "unkill":
            snap = dataclasses.replace(snap, kill=False)
        elif command == "flatten":
            snap = dataclasses.replace(snap, pause_entries=True)
            flatten_seq += 1
            flatten_ns = max(time.time_ns(), flatten_ns + 1)
        elif command == "set-max-leverage":
            snap = dataclasses.replace(snap, max_leverage=_parse_leverage(value))
        elif command == "set-max-notional":
            snap = dataclasses.replace(snap, max_position_notional=_parse_notional(value))
        else:
            known = ", ".join(COMMANDS)
            raise ConfigError(f"control: unknown command {command!r} (one of {known})")
        who = by.strip() or getpass.getuser()
        snap = dataclasses.replace(snap, version=prev.version + 1, changed_by=who, note=note)
        state = ControlState(snapshot=snap, flatten_seq=flatten_seq, changed_ns=time.time_ns(),
                             flatten_ns=flatten_ns)
        self.write(state, expect_version=prev.version)
        return state

    def write(self, state: ControlState, *, expect_version: int | None = None) -> None:
        """Validate and atomically replace the file; a refused write changes nothing."""
        validate(state)
        current = self.read()
        if expect_version is not None and current.version != expect_version:
            raise ConfigError(
                f"control: version moved from {expect_version} to {current.version} "
                "meanwhile; retry"
            )
        if state.version <= current.version:
            raise ConfigError(
                f"control: version {state.version} is not newer than {current.version} in force"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        data = codec_for(ControlState).encode(state)
        tmp = self.dir / f".{CONTROL_FILE}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, self.path)
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _parse_leverage(value: str | None) -> int:
    try:
        lev = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"control: max leverage must be an integer, got {value!r}") from None
    if not 1 <= lev <= MAX_LEVERAGE_LIMIT:
        raise ConfigError(f"control: max leverage must be in 1..{MAX_LEVERAGE_LIMIT}, got {lev}")
    return lev


def _parse_notional(value: str | None) -> Decimal | None:
    text = str(value).strip().lower()
    if text in ("none", "off", ""):
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ConfigError(
            f"control: max notional must be a number or 'none', got {value!r}"
        ) from None
    if why := _notional_problem(amount):
        raise ConfigError(f"control: max notional {value!r} {why}")
    return _whole(amount)
