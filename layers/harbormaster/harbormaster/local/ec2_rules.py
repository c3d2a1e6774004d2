"""What EC2 does and moto does not: DescribeInstances pages count instances.

With `MaxResults` (5-1000), a DescribeInstances page holds at most that many instances, and the
instances of one reservation may be split across pages; moto counts reservations instead, so a
fleet launched in one RunInstances call came back in one page whatever its size, and a caller's
page count (what the scheduler's bench measures) was wrong. Without `MaxResults`, moto's own
answer stands.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any
from unittest import mock

MAX_RESULTS = range(5, 1001)
# The instances a first page matched, by listing id (its NextToken names the listing and the offset):
# the filters run once per listing, not once per page (they are slow in moto at thousands of instances).
_listings: dict[str, list[Any]] = {}


def patches() -> list[Any]:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidParameterCombination, InvalidParameterValueError
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.describe_instances

    def describe_instances(response: Any) -> Any:
        wanted = response._get_param("MaxResults")
        if wanted is None:
            return original(response)
        response.error_on_dryrun()
        if "InstanceId.1" in response.data:
            raise InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
        if int(wanted) not in MAX_RESULTS:
            raise InvalidParameterValueError(f"{wanted} (MaxResults: 5 to 1000)")
        token = str(response._get_param("NextToken") or "")
        listing, _, offset = token.partition(":")
        instances = _listings.get(listing) if token else None
        if instances is None:  # a first page (or an unknown token): filter once, page through it after
            reservations = response.ec2_backend.describe_instances(filters=response._filters_from_querystring())
            instances = [(reservation, instance) for reservation in reservations for instance in reservation.instances]
            listing = uuid.uuid4().hex
            _listings[listing] = instances
            offset = "0"
        start = int(offset) if offset.isdigit() else 0
        end = start + int(wanted)
        page: dict[str, Any] = {}
        for reservation, instance in instances[start:end]:
            if reservation.id not in page:
                page[reservation.id] = copy.copy(reservation)
                page[reservation.id].instances = []
            page[reservation.id].instances.append(instance)
        more = f"{listing}:{end}" if end < len(instances) else None
        if more is None:
            _listings.pop(listing, None)
        return ActionResult({"Reservations": list(page.values()), "NextToken": more})

    return [mock.patch.object(InstanceResponse, "describe_instances", describe_instances)]
