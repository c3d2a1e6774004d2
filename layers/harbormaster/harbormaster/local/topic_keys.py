"""Who may publish to an encrypted SNS topic: a rule the engine applies where moto does not.

An AWS service that publishes for you (CloudWatch alarm actions, EventBridge targets) must be
allowed to use the topic's KMS key. The AWS-managed key (`alias/aws/sns`) has a policy nobody can
extend, so those deliveries fail on AWS, silently. A customer-managed key works when its policy
lets the service principal `kms:GenerateDataKey*` and `kms:Decrypt`.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from harbormaster.local.policies import listed, principals


def publish_problem(topic_arn: str, service_principal: str, region: str) -> str | None:
    """Why `service_principal` (e.g. cloudwatch.amazonaws.com) cannot publish to the topic, or None."""
    attributes = boto3.client("sns", region_name=region).get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    key = attributes.get("KmsMasterKeyId")
    if not key:
        return None
    if key.startswith("alias/aws/") or key.endswith(":alias/aws/sns"):
        return f"{topic_arn} is encrypted with the AWS-managed key {key}, which {service_principal} cannot use"
    kms = boto3.client("kms", region_name=region)
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    if not any(_allows(statement, service_principal) for statement in policy.get("Statement", [])):
        return f"the key policy of {key} does not let {service_principal} use it (kms:GenerateDataKey*, kms:Decrypt)"
    return None


def _allows(statement: dict[str, Any], principal: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    services, actions = principals(statement, "Service"), listed(statement, "Action")
    return (
        principal in services
        and any(a in {"kms:*", "kms:GenerateDataKey*", "kms:GenerateDataKey"} for a in actions)
        and any(a in {"kms:*", "kms:Decrypt"} for a in actions)
    )
