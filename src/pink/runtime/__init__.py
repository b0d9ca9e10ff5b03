"""The runtime: one task owns the kernel; config, launcher, loop, recovery."""

from pink.runtime.clock import SimClock, WallClock
from pink.runtime.config import RuntimeConfig, load_config
from pink.runtime.launcher import CloseReport, Launcher
from pink.runtime.loop import LoopConfig, Runtime

__all__ = [
    "CloseReport",
    "Launcher",
    "LoopConfig",
    "Runtime",
    "RuntimeConfig",
    "SimClock",
    "WallClock",
    "load_config",
]
