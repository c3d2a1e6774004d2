"""The local engine: run the real template offline on moto (never imported by Lambda handlers)."""

from harbormaster.local.engine import DEFAULT_CONFIG, DEFAULT_TEMPLATE, LocalEngine, Report
from harbormaster.local.eventbus import EventError
from harbormaster.local.runtime import Invocation
from harbormaster.local.slack_sink import SlackSink
from harbormaster.local.stack import TemplateError

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_TEMPLATE",
    "EventError",
    "Invocation",
    "LocalEngine",
    "Report",
    "SlackSink",
    "TemplateError",
]
