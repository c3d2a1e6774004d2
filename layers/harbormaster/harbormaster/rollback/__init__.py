"""Rollback on alarm: guard alarms bring back the last known-good image, once."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.rollback.models import (
        AlarmStateChange as AlarmStateChange,
    )
    from harbormaster.rollback.service import (
        Decision as Decision,
        guarded_environments as guarded_environments,
        handle_alarm as handle_alarm,
        start_rollback as start_rollback,
    )

_EXPORTS = {  # name → the submodule that defines it
    "AlarmStateChange": "models",
    "Decision": "service",
    "guarded_environments": "service",
    "handle_alarm": "service",
    "start_rollback": "service",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
