"""The simulated venue: a deterministic matching engine and SimVenue on it."""

from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.faults import FAULT_KINDS, FaultConfig, Faults
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.margin import LiquidationRules
from pink.venues.sim.orders import EngineEvent, EngineFill, EngineOrder, FeeSchedule, NewOrder
from pink.venues.sim.prices import Candle, MarketConfig, load_price_csv
from pink.venues.sim.venue import Latency, SimVenue

__all__ = [
    "FAULT_KINDS",
    "Candle",
    "EngineEvent",
    "EngineFill",
    "EngineOrder",
    "FaultConfig",
    "Faults",
    "FeeSchedule",
    "Latency",
    "LiquidationRules",
    "MarketConfig",
    "MatchingEngine",
    "NewOrder",
    "SimVenue",
    "default_instruments",
    "load_price_csv",
]
