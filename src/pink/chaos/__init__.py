"""Chaos testing: randomized policies, every simulator fault, SIGKILLed runtimes, invariants.

See docs/chaos.md. :mod:`pink.chaos.harness` runs trials (``pink chaos``);
:mod:`pink.chaos.runner` is the runtime process it kills;
:mod:`pink.chaos.simhost` keeps a :class:`~pink.venues.sim.venue.SimVenue`
alive in the harness while runtimes come and go; :mod:`pink.chaos.policy`
is the random decision engine; :mod:`pink.chaos.invariants` the end checks.
"""

__all__: list[str] = []
