"""Scheduling: sites, providers, resources, visit types, templates → slots, appointments, orders, waitlist."""
