"""The SSM agent on simulated instances: DescribeInstanceInformation (moto lacks the action).

An EC2 instance of the engine has a registered agent unless a test takes it away
(`fleet.without(instance_id, "ssm-agent")`). A running instance pings `Online`; a stopping or
stopped one `ConnectionLost`; a terminated one is no longer listed. As in AWS, `MaxResults` is
5 to 50, and the `InstanceIds` filter takes up to 50 ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest import mock

from harbormaster import clock

_PING = {"running": "Online", "pending": "Online", "stopping": "ConnectionLost", "stopped": "ConnectionLost"}


def patches(has_agent: Callable[[str], bool]) -> list[Any]:
    from moto.core.responses import ActionResult
    from moto.ec2.models import ec2_backends
    from moto.ssm.exceptions import ValidationException
    from moto.ssm.responses import SimpleSystemManagerResponse

    def describe_instance_information(response: Any) -> Any:
        maximum = int(response._get_param("MaxResults") or 10)
        if not 5 <= maximum <= 50:
            raise ValidationException(
                f"1 validation error detected: Value '{maximum}' at 'maxResults' failed to satisfy "
                "constraint: Member must have value between 5 and 50"
            )
        wanted_ids: set[str] | None = None
        wanted_ping: set[str] | None = None
        filters = [
            *(response._get_param("Filters") or []),
            *_legacy(response._get_param("InstanceInformationFilterList")),
        ]
        for item in filters:
            key, values = item.get("Key"), set(item.get("Values") or item.get("valueSet") or [])
            if key == "InstanceIds":
                if len(values) > 50:
                    raise ValidationException("InstanceIds filter accepts at most 50 values")
                wanted_ids = values
            elif key == "PingStatus":
                wanted_ping = values
            else:
                raise ValidationException(f"the engine filters on InstanceIds and PingStatus, not {key!r}")
        ec2 = ec2_backends[response.current_account][response.region]
        listed = []
        for reservation in ec2.reservations.values():
            for instance in reservation.instances:
                ping = _PING.get(str(instance.state))
                if ping is None or not has_agent(instance.id):
                    continue
                if wanted_ids is not None and instance.id not in wanted_ids:
                    continue
                if wanted_ping is not None and ping not in wanted_ping:
                    continue
                listed.append(_information(instance, ping))
        listed.sort(key=lambda item: item["InstanceId"])
        start = int(response._get_param("NextToken") or 0)
        page = listed[start : start + maximum]
        result: dict[str, Any] = {"InstanceInformationList": page}
        if start + maximum < len(listed):
            result["NextToken"] = str(start + maximum)
        return ActionResult(json.loads(json.dumps(result, default=str)))

    return [
        mock.patch.object(
            SimpleSystemManagerResponse, "describe_instance_information", describe_instance_information, create=True
        )
    ]


def _legacy(filters: Any) -> list[dict[str, Any]]:
    return [{"Key": f.get("key"), "Values": f.get("valueSet")} for f in filters or []]


def _information(instance: Any, ping: str) -> dict[str, Any]:
    return {
        "InstanceId": instance.id,
        "PingStatus": ping,
        "LastPingDateTime": clock.now().timestamp(),
        "AgentVersion": "3.3.1142.0",
        "IsLatestVersion": True,
        "PlatformType": "Linux",
        "PlatformName": "Amazon Linux",
        "PlatformVersion": "2023",
        "ResourceType": "EC2Instance",
        "IPAddress": instance.private_ip,
        "ComputerName": f"ip-{str(instance.private_ip).replace('.', '-')}.ec2.internal",
    }
