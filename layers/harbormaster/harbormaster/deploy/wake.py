"""Resume executions parked on an AWS event (`state.waiting`): the event's handler and the parking
step both go through `wake`, and only the one that claims a token sends it."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from harbormaster.state.waiting import Parked, Waiting

# SendTaskSuccess on a token whose task is over: the execution moved on (its timeout fired, it was stopped).
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


def wake(subject: str, why: str, waiting: Waiting | None = None) -> list[str]:
    """Resume every execution parked on `subject` whose token this call claims; returns their releases."""
    store = waiting or Waiting()
    return [p.release_id for p in store.parked(subject) if wake_one(p, why, store)]


def wake_one(parked: Parked, why: str, waiting: Waiting) -> bool:
    """Claim `parked` and send its token: False if another caller claimed it or its task is over."""
    if not waiting.claim(parked):
        return False
    try:
        waiting.client("stepfunctions").send_task_success(taskToken=parked.token, output=json.dumps({"woken_by": why}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in TOKEN_GONE:
            return False
        waiting.put_back(parked)  # not lost: the event's retry (or the park's fallback look) claims it again
        raise
    return True
