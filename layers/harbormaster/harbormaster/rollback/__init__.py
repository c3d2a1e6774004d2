"""Rollback on alarm: guard alarms bring back the last known-good image, once."""

from harbormaster.rollback.models import AlarmStateChange
from harbormaster.rollback.service import Decision, guarded_environments, handle_alarm, start_rollback

__all__ = ["AlarmStateChange", "Decision", "guarded_environments", "handle_alarm", "start_rollback"]
