"""The guard alarms' states, metric and composite alike.

DescribeAlarms returns metric alarms only unless `AlarmTypes` asks for composites too, and it
takes names, not ARNs: guard alarms configured by ARN are reduced to their names first. They are
read where the environment lives (`scope`: another account through its spoke role).
"""

from __future__ import annotations

from typing import Any

from harbormaster.accounts import HOME, Scope, scoped_client


def alarm_name(name_or_arn: str) -> str:
    """`arn:aws:cloudwatch:region:account:alarm:NAME` → `NAME`; a name stays as it is.

    >>> alarm_name("arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:api-5xx")
    'api-5xx'
    """
    if name_or_arn.startswith("arn:") and ":alarm:" in name_or_arn:
        return name_or_arn.split(":alarm:", 1)[1]
    return name_or_arn


def in_alarm(guard_alarms: list[str], scope: Scope = HOME) -> dict[str, str]:
    """The guard alarms now in ALARM: name → state reason."""
    return {
        name: alarm.get("StateReason", "")
        for name, alarm in states(guard_alarms, scope).items()
        if alarm["StateValue"] == "ALARM"
    }


def missing(guard_alarms: list[str], scope: Scope = HOME) -> list[str]:
    """The guard alarms CloudWatch does not know (by name)."""
    found = states(guard_alarms, scope)
    return sorted({alarm_name(alarm) for alarm in guard_alarms} - set(found))


def states(guard_alarms: list[str], scope: Scope = HOME) -> dict[str, dict[str, Any]]:
    """Each existing guard alarm, metric or composite, by name."""
    if not guard_alarms:
        return {}
    names = sorted({alarm_name(alarm) for alarm in guard_alarms})
    found: dict[str, dict[str, Any]] = {}
    paginator = scoped_client("cloudwatch", scope).get_paginator("describe_alarms")
    for start in range(0, len(names), 100):  # AlarmNames takes up to 100 names
        pages = paginator.paginate(AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        for page in pages:
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                found[alarm["AlarmName"]] = alarm
    return found
