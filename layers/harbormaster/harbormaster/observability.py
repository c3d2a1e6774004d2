"""Powertools Logger, Metrics and Tracer, configured once from the POWERTOOLS_* environment."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["logger", "metrics", "tracer"]
