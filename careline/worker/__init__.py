"""Durable side effects: the outbox, and the dispatcher that works it off (``careline worker``, or in-process)."""
