"""Harbormaster's own events and their publication on the alert topic."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.notify.events import (
        HarbormasterEvent as HarbormasterEvent,
        ImageRef as ImageRef,
        Route as Route,
        Severity as Severity,
    )
    from harbormaster.notify.publisher import (
        publish as publish,
    )

_EXPORTS = {  # name → the submodule that defines it
    "HarbormasterEvent": "events",
    "ImageRef": "events",
    "Route": "events",
    "Severity": "events",
    "publish": "publisher",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
