"""Adapters to the outside world, each a small Protocol, the real adapter and a recording stand-in."""
