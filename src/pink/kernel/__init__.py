"""The pure trade-slot kernel: standard library only, no I/O, no clock."""

from pink.kernel.core import Kernel, KernelConfig
from pink.kernel.messages import *  # noqa: F403
from pink.kernel.messages import __all__ as _messages_all
from pink.kernel.states import SlotState, Trigger
from pink.kernel.views import AccountView, OrderView, SlotView

__all__ = [
    "AccountView",
    "Kernel",
    "KernelConfig",
    "OrderView",
    "SlotState",
    "SlotView",
    "Trigger",
    *_messages_all,
]
