"""Harbormaster's own events and their publication on the alert topic."""

from harbormaster.notify.events import HarbormasterEvent, ImageRef, Route, Severity
from harbormaster.notify.publisher import publish

__all__ = ["HarbormasterEvent", "ImageRef", "Route", "Severity", "publish"]
