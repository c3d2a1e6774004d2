"""Alerts in Slack: formatting, routing and delivery."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.slack.delivery import (
        SlackDeliveryError as SlackDeliveryError,
        SlackRejected as SlackRejected,
        post as post,
    )
    from harbormaster.slack.formatting import (
        render as render,
    )
    from harbormaster.slack.forwarder import (
        NoSlackRoute as NoSlackRoute,
        forward as forward,
    )
    from harbormaster.slack.message import (
        SlackMessage as SlackMessage,
        escape as escape,
    )

_EXPORTS = {  # name → the submodule that defines it
    "NoSlackRoute": "forwarder",
    "SlackDeliveryError": "delivery",
    "SlackMessage": "message",
    "SlackRejected": "delivery",
    "escape": "message",
    "forward": "forwarder",
    "post": "delivery",
    "render": "formatting",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
