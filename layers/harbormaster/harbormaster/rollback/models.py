"""`CloudWatch Alarm State Change` events: single metric, metric math, anomaly detection, composite."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ConfigDict, Field

from harbormaster.model import Model


class AlarmState(Model):
    model_config = ConfigDict(extra="allow")

    value: str
    reason: str = ""
    timestamp: str | None = None


class AlarmDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    alarm_name: str = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: dict[str, Any] = Field(default_factory=dict)


class AlarmStateChange(EventBridgeModel):
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str | None:
        return next((r for r in self.resources if ":alarm:" in r), None)
