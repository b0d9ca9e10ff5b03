"""The policy interface (decision engine + intent engine) and a SAMPLE policy."""

from pink.policy.base import (
    Decision,
    DecisionEngine,
    IntentEngine,
    MarginSizer,
    PolicySnapshot,
    intent_from_decision,
    quantity_for,
)

__all__ = [
    "Decision",
    "DecisionEngine",
    "IntentEngine",
    "MarginSizer",
    "PolicySnapshot",
    "intent_from_decision",
    "quantity_for",
]
