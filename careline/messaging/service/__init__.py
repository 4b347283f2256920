"""Messaging's use cases: threads in and out, the sending path and its rules, templates, web chat."""
