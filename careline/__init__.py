"""Careline: an open-source healthcare contact center with a built-in patient CRM."""

__version__ = "0.1.0"
