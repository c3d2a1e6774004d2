"""Cost-saving schedules: Instance Scheduler-compatible periods, and the reconciler that stops and
starts tagged EC2 instances, Auto Scaling groups, RDS instances, Aurora clusters and ECS services."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.schedule.evaluate import (
        Decision as Decision,
        next_change as next_change,
    )
    from harbormaster.schedule.exceptions import (
        ExpressionError as ExpressionError,
        ScheduleError as ScheduleError,
    )
    from harbormaster.schedule.models import (
        Outcome as Outcome,
        Resource as Resource,
        RunInput as RunInput,
        RunReport as RunReport,
    )
    from harbormaster.schedule.reconcile import (
        run as run,
    )
    from harbormaster.schedule.summary import (
        summary_events as summary_events,
    )

# Not `evaluate`: the submodule of that name would shadow it once imported.
_EXPORTS = {  # name → the submodule that defines it
    "Decision": "evaluate",
    "ExpressionError": "exceptions",
    "Outcome": "models",
    "Resource": "models",
    "RunInput": "models",
    "RunReport": "models",
    "ScheduleError": "exceptions",
    "next_change": "evaluate",
    "run": "reconcile",
    "summary_events": "summary",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
