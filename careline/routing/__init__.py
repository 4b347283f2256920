"""Routing: queues, skills, agent states, interactions, reservations, and the engine (ACD) that pairs them."""
