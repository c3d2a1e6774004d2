"""Alerts in Slack: formatting, routing and delivery."""

from harbormaster.slack.delivery import SlackDeliveryError, SlackRejected, post
from harbormaster.slack.formatting import render
from harbormaster.slack.forwarder import NoSlackRoute, forward
from harbormaster.slack.message import SlackMessage, escape

__all__ = ["NoSlackRoute", "SlackDeliveryError", "SlackMessage", "SlackRejected", "escape", "forward", "post", "render"]
