"""Routing use cases: ``setup`` (queues, agents, skills, dispositions), ``agents`` (states), ``interactions``
(a contact's life), ``engine`` (the ACD pass), ``board`` (wallboard figures) and ``desktop`` (screen pop)."""
