"""Cost-saving schedules: Instance Scheduler-compatible periods, and the reconciler that stops and
starts tagged EC2 instances, Auto Scaling groups, RDS instances, Aurora clusters and ECS services."""

from harbormaster.schedule.evaluate import Decision, evaluate, next_change
from harbormaster.schedule.exceptions import ExpressionError, ScheduleError
from harbormaster.schedule.models import Outcome, Resource, RunInput, RunReport
from harbormaster.schedule.reconcile import run
from harbormaster.schedule.summary import summary_events

__all__ = [
    "Decision",
    "ExpressionError",
    "Outcome",
    "Resource",
    "RunInput",
    "RunReport",
    "ScheduleError",
    "evaluate",
    "next_change",
    "run",
    "summary_events",
]
