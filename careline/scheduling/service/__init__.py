"""Scheduling use cases: ``catalog`` (sites, providers, visit types, templates), ``slots`` (generation and
first-available search), ``booking`` (appointments), ``orders`` and ``waitlist``."""
