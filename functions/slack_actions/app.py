"""Slack interactivity and slash-command endpoint (HTTP API): verify, queue, and answer 200 within
Slack's 3 seconds."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from harbormaster.approval.slack_request import acknowledge
from harbormaster.config import load_config
from harbormaster.observability import logger, tracer

app = APIGatewayHttpResolver()


@app.post("/slack/actions")
@app.post("/slack/commands")
def slack_actions() -> Response[str]:
    config = load_config()
    if not config.slack.signing_secret:
        return Response(503, "application/json", json.dumps({"text": "slack.signing_secret is not configured"}))
    secret = str(parameters.get_secret(config.slack.signing_secret, max_age=300))
    event = app.current_event
    ack = acknowledge(event.headers, event.decoded_body or "", secret, os.environ["SLACK_CLICK_QUEUE_URL"])
    if ack.status == 200 and not ack.text:
        return Response(200, "text/plain", "")  # what Slack expects; the answer follows through response_url
    return Response(ack.status, "application/json", json.dumps({"text": ack.text}))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
