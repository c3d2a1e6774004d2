"""Harbormaster: event-driven deploy and operations automation for container apps on AWS."""

__version__ = "0.1.0"
