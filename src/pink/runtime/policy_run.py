"""The policy's part of a cycle: decide and plan on one snapshot, and take only what can be kept.

The decision engine and the intent engine are the trader's code. What they return is screened
(:mod:`pink.policy.check`): a decision or intent of the wrong shape is dropped and named, and
the rest of the cycle goes on. A policy that raises skips its cycle. Either is an alert in the
live view, once per kind of problem until the policy has a clean cycle; a policy slower than
its cycle (in real time) is logged and counted. Nothing here touches the kernel: the runtime
submits what :meth:`PolicyRunner.plan` returns.
"""

from __future__ import annotations

import logging
import time

from pink.kernel.messages import Intent, Outcome, Reason
from pink.policy.base import DecisionEngine, IntentEngine, MarginSizer, PolicySnapshot
from pink.policy.check import label as _label
from pink.policy.check import screen_decisions, screen_intents
from pink.runtime.decimals import PolicyDecimals
from pink.runtime.stats import RunStats

__all__ = ["PolicyRunner"]

log = logging.getLogger("pink.runtime.loop")  # (where a trader's log filters already look)

# refusals that say the intent itself is wrong, whatever the state: a warning and an alert
_MISTAKES = frozenset({Reason.INVALID_FIELD, Reason.UNKNOWN_ASSET, Reason.UNKNOWN_SLOT,
                       Reason.LEVERAGE_ABOVE_MAX, Reason.BELOW_MIN_QTY})


class PolicyRunner:
    """One trader's policy, run once per cycle."""

    def __init__(self, decision: DecisionEngine, intents: IntentEngine, stats: RunStats, cycle_s: float, *,
                 real_time: bool, decimals: PolicyDecimals | None = None) -> None:
        self.decision = decision
        # the policy's decimal context: what it sets there stays its own (:mod:`pink.runtime.decimals`)
        self.decimals = decimals or PolicyDecimals()
        self.intents = intents
        # the ready-made sizer builds its intents from screened decisions only: they need no second look
        self._trusted = type(intents) is MarginSizer
        self._sizer = intents if isinstance(intents, MarginSizer) and self._trusted else None
        self._stats = stats
        self._cycle_s = cycle_s
        self._real_time = real_time
        self.errors = 0  # cycles skipped: the policy raised
        self.dropped = 0  # decisions and intents not submitted: not of their types
        self.slow = 0  # cycles whose policy took longer than cycle_s (real time)
        self.failing = 0  # cycles in a row the policy raised in, up to now (0: its last cycle was clean)
        self.failing_since_ns = 0  # wall time (ns since the epoch) of the first of them
        self.failing_held = 0  # open slots in the last of them: no exit or stop goes out for them
        self.last_error = ""  # the policy's last exception, as "Type: message"
        self._problems: set[str] = set()  # the policy's problems since its last clean cycle, alerted once
        self._traced: dict[str, int] = {}  # exception type -> the cycle its traceback was logged in
        self._refusals: set[str] = set()  # kinds of the kernel's refusals of its intents, named once a run

    def plan(self, n: int, snap: PolicySnapshot) -> list[Intent]:
        """The intents of cycle ``n`` that can be submitted (none if the policy raised)."""
        started = time.monotonic()
        try:
            decisions, dropped = screen_decisions(self.decimals.call(self.decision.decide, snap))
            planned: list[Intent] = []
            if decisions:  # (the ready-made sizer is the runtime's: it sizes in the runtime's context)
                sized = (self.intents.plan(decisions, snap) if self._trusted
                         else self.decimals.call(self.intents.plan, decisions, snap))
                planned, more = screen_intents(sized, trusted=self._trusted)
                dropped += more
                if self._sizer is not None:  # the ENTERs it sized to nothing (below the minimums, no quote yet)
                    dropped += [(_label("decision", i, decisions[i]), why) for i, why in self._sizer.skipped]
        except Exception as exc:
            self._failed(n, exc, snap)
            return []
        finally:
            self._timed(n, time.monotonic() - started)
        self.failing = 0
        if self._traced:
            self._traced.clear()
        for which, problem in dropped:
            self.dropped += 1
            log.error("policy cycle %d: %s: %s; not submitted", n, which, problem)
            self._alert(problem.partition(", got ")[0], f"policy cycle {n}: {which}: {problem}; not submitted")
        if not dropped:
            self._problems.clear()
        return planned

    def refused(self, n: int, i: int, intent: Intent, outcome: Outcome) -> None:
        """Name, once a run per kind, the kernel's refusal of intent ``i`` of cycle ``n``, in the
        kernel's words (the field and its value): the summary counts refusals by reason only. A
        wrong intent is a warning and an alert; one the state refused (a slot busy, entries
        paused) only a line in the log."""
        reason = outcome.reason
        kind = f"{reason.value} {outcome.detail.partition(':')[0]}" if reason is Reason.INVALID_FIELD else reason.value
        if kind in self._refusals or len(self._refusals) >= 100:
            return
        self._refusals.add(kind)
        text = (f"policy cycle {n}: {_label('intent', i, intent)} refused {reason.value}: {outcome.detail}; "
                f"later ones of this kind are only counted in the summary")
        if reason in _MISTAKES:
            log.warning("%s", text)
            self._stats.alert(text)
        else:
            log.info("%s", text)

    def _failed(self, n: int, exc: Exception, snap: PolicySnapshot) -> None:
        self.errors += 1
        if not self.failing:
            self.failing_since_ns = time.time_ns()
        self.failing += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        traced = self._traced.setdefault(type(exc).__name__, n)
        if traced == n:  # its traceback once per kind of exception while it fails: then one line a cycle
            log.exception("policy failed in cycle %d; cycle skipped", n)
        else:
            log.error("policy failed in cycle %d (%s; %d cycles in a row, its traceback at cycle %d); cycle skipped",
                      n, self.last_error, self.failing, traced)
        held = self.failing_held = sum(1 for s in snap.slots if s.remaining_qty > 0)
        self._alert(type(exc).__name__, f"policy failed in cycle {n} ({type(exc).__name__}: {exc}): its "
                    f"cycles are skipped while it fails, and no exit or stop goes out for {held} open "
                    f"slot{'s' if held != 1 else ''}")

    def _alert(self, kind: str, text: str) -> None:
        """Alert ``text`` (the live view shows alerts) for the first problem of its ``kind`` (an
        exception's type, a field and its rule) since the policy's last clean cycle."""
        if kind not in self._problems and len(self._problems) < 100:
            self._problems.add(kind)
            self._stats.alert(text)

    def _timed(self, n: int, took: float) -> None:
        """Say when the policy held the one task longer than a cycle (in real time)."""
        if took > self._cycle_s and self._real_time:
            self.slow += 1
            log.warning("policy cycle %d took %.1f s, longer than cycle_s (%.1f s): venue events and timers "
                        "waited for it", n, took, self._cycle_s)
