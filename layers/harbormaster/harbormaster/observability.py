"""Powertools Logger, Metrics and Tracer, configured once from the POWERTOOLS_* environment."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Explicit default: a namespace-less Metrics refuses to flush (SchemaValidationError).
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Harbormaster"))
tracer = Tracer()

__all__ = ["logger", "metrics", "tracer"]
