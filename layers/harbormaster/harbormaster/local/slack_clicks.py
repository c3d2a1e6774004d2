"""Button clicks as Slack sends them: a signed, form-encoded block_actions request, wrapped in the
HTTP API (payload v2) event the SlackActionsFunction receives."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any

from slack_sdk.signature import SignatureVerifier


def block_actions(
    action_id: str,
    value: dict[str, Any] | str,
    user: str,
    response_url: str,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0HARBOR"},
        "api_app_id": "A0HARBOR",
        "token": "legacy-verification-token-unused",
        "trigger_id": "1.2.3",
        "team": {"id": "T0HARBOR", "domain": "harbormaster"},
        "response_url": response_url,
        "message": message or {},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "actions",
                "value": value if isinstance(value, str) else json.dumps(value),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def slash_command_body(text: str, user: str, response_url: str) -> str:
    """A `/harbormaster` slash command, form-encoded as Slack posts it."""
    return urllib.parse.urlencode(
        {
            "token": "legacy-verification-token-unused",
            "team_id": "T0HARBOR",
            "team_domain": "harbormaster",
            "channel_id": "C0DEPLOYS1",
            "channel_name": "deploys",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/harbormaster",
            "text": text,
            "api_app_id": "A0HARBOR",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def form_body(payload: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": str(signature),
    }


def http_api_event(headers: dict[str, str], body: str, path: str = "/slack/actions") -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) POST, body base64-encoded as API Gateway does for forms."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.ap-northeast-2.amazonaws.com",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Slackbot",
            },
            "requestId": "local",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "22/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": base64.b64encode(body.encode()).decode(),
        "isBase64Encoded": True,
    }
