"""Powertools Logger, Metrics and Tracer, configured once from the POWERTOOLS_* environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

logger = Logger()
# Explicit default: a namespace-less Metrics refuses to flush (SchemaValidationError).
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Harbormaster"))


class _Tracing:
    """Powertools' Tracer, made only when tracing is on (POWERTOOLS_TRACE_DISABLED not "true").

    The Tracer imports the X-Ray SDK even when disabled, and building its recorder is the largest
    part of a handler's cold start (bench/cold_start.py). Lambda's active tracing still records
    every invocation without it; the stack turns SDK subsegments on with `TraceAwsCalls=true`."""

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in {"1", "true"}:
            return handler
        from aws_lambda_powertools.tracing import Tracer

        return Tracer().capture_lambda_handler(handler)


tracer = _Tracing()


def for_release(environment: str, release_id: str, **keys: str) -> None:
    """Every log line of this invocation names the release, and carries it as correlation id, so one
    query follows a release across all its phases."""
    logger.append_keys(environment=environment, release_id=release_id, **keys)
    logger.set_correlation_id(release_id)


def rejected(error: Exception, what: str) -> dict[str, Any]:
    """A malformed event the handler cannot use: say why (logs, metric), change nothing, and return
    normally so the event is not retried in vain. Only for events AWS services deliver (rules,
    schedules); inputs from our own state machine raise, and its Catch handles them."""
    problems = [
        {"loc": ".".join(map(str, e.get("loc", ()))), "msg": e.get("msg")} for e in getattr(error, "errors", list)()
    ]
    logger.error(f"rejected: not a valid {what}", extra={"problems": problems[:20] or str(error)[:500]})
    metrics.add_metric(name="RejectedInputs", unit=MetricUnit.Count, value=1)
    return {"rejected": f"not a valid {what}", "problems": problems[:20]}


__all__ = ["logger", "metrics", "rejected", "tracer"]
