"""The engine's DescribeInstances pages count instances, as EC2's do (moto counted reservations)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from harbormaster.local import ec2_rules
from harbormaster.local.patching import installed


def test_pages_hold_at_most_max_results_instances_even_from_one_reservation() -> None:
    with mock_aws(), installed(ec2_rules.patches()):
        ec2 = boto3.client("ec2")
        launched = ec2.run_instances(ImageId="ami-12c6146b", MinCount=12, MaxCount=12)["Instances"]
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
        sizes = [sum(len(r["Instances"]) for r in page["Reservations"]) for page in pages]
        assert sizes == [5, 5, 3]
        seen = [i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]]
        assert seen[:12] == [i["InstanceId"] for i in launched] and len(set(seen)) == 13
        # The first reservation is split across pages, each part under its own reservation id.
        assert {r["ReservationId"] for r in pages[0]["Reservations"]} == {
            r["ReservationId"] for r in pages[1]["Reservations"]
        }
        # Without MaxResults, moto's answer stands: everything at once.
        assert len(ec2.describe_instances()["Reservations"]) == 2


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"MaxResults": 4}, "InvalidParameterValue"),
        ({"MaxResults": 1001}, "InvalidParameterValue"),
        ({"MaxResults": 5, "InstanceIds": ["i-0123456789abcdef0"]}, "InvalidParameterCombination"),
    ],
)
def test_what_ec2_refuses(arguments: dict[str, object], code: str) -> None:
    with mock_aws(), installed(ec2_rules.patches()):
        with pytest.raises(ClientError) as refused:
            boto3.client("ec2").describe_instances(**arguments)
        assert refused.value.response["Error"]["Code"] == code
