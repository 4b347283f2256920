"""Synthetic load on the real routing: Poisson callers and simulated agents driven through the routing
services and the engine (``careline simulate``, and the background traffic of ``careline demo``).

``draws`` is the seeded randomness, ``world`` the simulation a caller steps with any clock, ``runner`` the
real-clock driver that commits each step and publishes its live notices, ``cli`` the command and its live table.
"""

from careline.routing.simulation.draws import Plan
from careline.routing.simulation.runner import Runner, Traffic, background_traffic
from careline.routing.simulation.world import Simulation, Tally

__all__ = ["Plan", "Runner", "Simulation", "Tally", "Traffic", "background_traffic"]
