"""Fan-out: a scheduled run that covers several accounts and regions runs as one part per account
and region, each an asynchronous invocation of the scheduler of its own (its own timeout, its own
retries), all at once. Each part records what it changed per schedule (state/run_parts.py); the
last one to finish publishes the merged summaries, so a schedule is still told once per run.

    coordinator   the scheduled invocation: `launch` one part per account and region, return
    part          `run` on its account and region only, then `finish`: the run's summaries when
                  this part is the one to publish them, else None
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from harbormaster.accounts import Scope
from harbormaster.clients import client
from harbormaster.schedule.models import Part, RunInput
from harbormaster.schedule.summary import ScheduleSummary, merge
from harbormaster.state.run_parts import RunParts


def launch(scheduled_time: datetime, scopes: list[Scope], function_name: str) -> Part | None:
    """Invoke `function_name` asynchronously once per scope; the last part sent (None: no scope)."""
    run_id = scheduled_time.isoformat()
    sent = None
    for scope in scopes:
        sent = Part(run_id=run_id, scope=scope, of=len(scopes))
        request = RunInput(scheduled_time=scheduled_time, part=sent)
        client("lambda").invoke(
            FunctionName=function_name, InvocationType="Event", Payload=request.model_dump_json(exclude_none=True)
        )
    return sent


def finish(
    part: Part, summaries: list[ScheduleSummary], now: datetime, publish: Callable[[list[ScheduleSummary]], None]
) -> bool:
    """Record this part; when it is the one to publish the run's summaries, `publish` the merge of
    every part's. Whether this part published. If `publish` fails, the claim is given back and the
    error raised: the invocation's retry (or another part's) publishes them."""
    parts = RunParts()
    parts.finish(part.run_id, str(part.scope), [summary.model_dump() for summary in summaries], part.of, now)
    if not parts.claim(part.run_id):
        return False
    try:
        publish(merge(ScheduleSummary.model_validate(found) for found in parts.summaries(part.run_id)))
    except Exception:
        parts.unclaim(part.run_id)
        raise
    return True
