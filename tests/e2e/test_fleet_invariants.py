"""A stateful property test over the local engine: pushes (good and bad images, the same event
twice, a digest pushed again) that wait for a production approval and get approved, rejected,
clicked twice, clicked by a stranger or left to time out; guard alarms, manual rollbacks from the
CLI and from Slack's button, instance faults and throttling, in generated orders, and races
replayed at a named point (an alarm or a newer push arriving while a deploy holds its SendCommand,
its deregistration or its registration). After each step, once the engine has quiesced, the fleet
and the ledger must satisfy the invariants of the fencing issue.

CI runs a few scenarios (reproducible: derandomized); more with

    HARBORMASTER_PROPERTY_EXAMPLES=200 .venv/bin/pytest tests/e2e/test_fleet_invariants.py -p no:randomly
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from harbormaster.cli.main import main
from tests.conftest import wait_for
from tests.e2e.deploy_world import ENV, REPO, World, put_guard_alarm, start_world
from tests.e2e.test_rollback import ALARM, GUARDED, alarm_event

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("HARBORMASTER_PROPERTY_EXAMPLES", "3"))
STEPS = int(os.environ.get("HARBORMASTER_PROPERTY_STEPS", "6"))
FLEET = 3
MIN_HEALTHY = math.ceil(FLEET * 0.5)  # the config's min_healthy: 50%
FINISHED = {"SUCCEEDED", "FAILED", "SKIPPED", "REJECTED", "ROLLED_BACK"}
APPROVER, STRANGER = "U01ABC", "U09NOPE"
# Every deploy waits for an approval; none within 5 s counts as rejected. (The gate's timeout is
# the task token's TimeoutSeconds, which the engine runs on the wall clock: kept short.)
APPROVED_BY_SLACK = GUARDED.replace(
    "    container: {name: app",
    f"    approval: {{required: true, approvers: [{APPROVER}], timeout: 5s}}\n    container: {{name: app",
).replace("  default_route: deployments", "  default_route: deployments\n  signing_secret: hm/slack/signing")
# Who clicks what on a deploy's approval request ("no decision": the gate times out).
DECISIONS = {
    "approve": [(APPROVER, "approve")],
    "reject": [(APPROVER, "reject")],
    "approve twice": [(APPROVER, "approve"), (APPROVER, "approve")],
    "a stranger, then the approver": [(STRANGER, "approve"), (APPROVER, "approve")],
    "no decision": [],
}
decisions = st.sampled_from(sorted(DECISIONS))
# Where a race is replayed: a Lambda's call held while something else happens.
HOLD_POINTS = {
    "before SendCommand": ("ssm", "SendCommand", False),
    "after DeregisterTargets": ("elbv2", "DeregisterTargets", True),
    "before RegisterTargets": ("elbv2", "RegisterTargets", False),
}


class FleetMachine(RuleBasedStateMachine):
    """One environment of three instances behind a target group, guarded by one alarm."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="harbormaster-property-"))
        self.world: World = start_world(self.directory, config=APPROVED_BY_SLACK, size=FLEET)
        put_guard_alarm(ALARM)
        self.pushes = 0
        self.pushed: dict[str, str] = {}  # digest → tag
        self.last_event: dict[str, Any] | None = None
        self.disturbed = False  # a fault outside Harbormaster (termination, a target never healthy)
        self._releases_seen: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ stimuli
    def _digest(self) -> tuple[str, str]:
        self.pushes += 1
        tag = f"v{self.pushes}"
        return tag, "sha256:" + hashlib.sha256(f"{self.directory}:{tag}".encode()).hexdigest()

    def _push(self, bad: bool = False, decision: str = "approve") -> None:
        digest = self._push_image(bad)
        self._decide(digest, decision)
        self.world.engine.settle()

    def _push_image(self, bad: bool = False, image: tuple[str, str] | None = None) -> str:
        """Push a new image (one whose containers never turn healthy when `bad`); return its digest."""
        tag, digest = image or self._digest()
        if bad:
            self.world.engine.fleet.bad_image(self.world.image(digest))
        self.pushed[digest] = tag
        self.world.engine.push_image(REPO, tag, digest=digest, wait=False)
        return digest

    def _decide(self, digest: str, decision: str) -> None:
        """Once the deploy of `digest` asks for approval (unless it finished without asking), the
        clicks of `decision`, each signed as Slack signs them."""
        if decision == "no decision":
            return
        asking: list[str] = []

        def asked_or_finished() -> bool:
            requests = self._table().query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": f"APPROVAL#{ENV}"},
                ConsistentRead=True,
            )["Items"]
            asking[:] = [str(r["sk"]) for r in requests if str(r["sk"]).endswith(digest[7:19])]
            return bool(asking) or self._finished(digest)

        wait_for(asked_or_finished, timeout=90, what=f"the deploy of {digest[:19]} asking for approval")
        for user, action in DECISIONS[decision] if asking else []:
            status, _, _ = self.world.engine.click(action, {"environment": ENV, "release_id": asking[0]}, user)
            assert status == 200, f"a signed {action} click by {user} was refused with HTTP {status}"

    @initialize()
    def first_release(self) -> None:
        self._push()

    @rule(bad=st.booleans(), decision=decisions)
    def push(self, bad: bool, decision: str) -> None:
        self._push(bad, decision)

    @rule()
    def the_same_push_event_twice(self) -> None:
        tag, digest = self._digest()
        self.pushed[digest] = tag
        event = {
            "id": f"event-{digest[7:19]}",
            "source": "aws.ecr",
            "detail-type": "ECR Image Action",
            "detail": {
                "result": "SUCCESS",
                "repository-name": REPO,
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": tag,
            },
        }
        self.world.engine.send_event(event, wait=False)
        self.world.engine.send_event(event, wait=False)
        self._decide(digest, "approve")
        self.world.engine.settle()

    @rule()
    def the_current_digest_pushed_again(self) -> None:
        current = self._ledger_item("CURRENT")
        if current:
            self.world.engine.push_image(REPO, f"again-{self.pushes}", digest=str(current["digest"]))

    @rule()
    def guard_alarm(self) -> None:
        self.world.engine.send_event(alarm_event())

    @rule()
    def manual_rollback(self) -> None:
        main(["rollback", ENV])  # refused (exit 1) when there is nothing to roll back: also fine
        self.world.engine.settle()

    @rule(user=st.sampled_from([APPROVER, STRANGER]))
    def rollback_button(self, user: str) -> None:
        """The Rollback button of the current release's "Deploy succeeded" message (refused for a
        stranger, or when that release is no longer current)."""
        current = self._ledger_item("CURRENT")
        if current:
            value = {"environment": ENV, "release_id": str(current["release_id"])}
            status, _, _ = self.world.engine.click("rollback", value, user, wait=True)
            assert status == 200

    @rule(
        point=st.sampled_from(sorted(HOLD_POINTS)),
        then=st.sampled_from(["alarm", "newer push"]),
        bad=st.booleans(),
        newer=decisions,
    )
    def race(self, point: str, then: str, bad: bool, newer: str) -> None:
        """A push whose deploy is held at `point` while an alarm or a newer push arrives."""
        service, operation, after = HOLD_POINTS[point]
        image = self._digest()
        digest = image[1]
        held = self.world.engine.pause(
            service,
            operation,
            when=_first_call_of_release(self.world.engine.stack.outputs["TableName"], digest),
            after=after,
        )
        self._push_image(bad, image)
        self._decide(digest, "approve")
        wait_for(lambda: held.reached or self._finished(digest), timeout=90, what="the deploy reaching the hold")
        if not held.reached:
            held.resume()  # the deploy ended before it got there (skipped, refused): nothing to race
            self.world.engine.settle()
            return
        if then == "alarm":
            self.world.engine.send_event(alarm_event(), wait=False)
            held.resume()
        else:
            newest = self._push_image()  # queued behind the held deploy
            held.resume()
            self._decide(newest, newer)  # it asks once the held deploy has finished
        self.world.engine.settle()

    @rule(instance=st.integers(0, FLEET - 1))
    def the_next_command_fails(self, instance: int) -> None:
        self.world.engine.fleet.fail_next_command(self.world.instances[instance])

    @rule(times=st.integers(1, 4))
    def target_health_throttled(self, times: int) -> None:
        self.world.engine.fleet.throttle("elbv2", "DescribeTargetHealth", times)

    @rule(instance=st.integers(0, FLEET - 1))
    def an_instance_is_terminated(self, instance: int) -> None:
        self.disturbed = True
        self.world.engine.fleet.terminate(self.world.instances[instance])

    # ------------------------------------------------------------------ invariants
    @invariant()
    def quiet(self) -> None:
        self.world.engine.settle()
        assert self._ledger_item("LOCK") is None, "the lock is held after everything settled"
        assert self._ledger_item("PENDING") is None, "an image is still waiting after everything settled"

    @invariant()
    def every_push_has_an_outcome(self) -> None:
        releases = self._releases()
        self._releases_seen = releases
        for release in releases:
            assert release["status"] in FINISHED, f"{release['release_id']} is {release['status']}"
        seen = {r["digest"] for r in releases}
        assert set(self.pushed) <= seen, f"pushes with no release: {sorted(set(self.pushed) - seen)}"

    @invariant()
    def the_fleet_runs_the_current_release_or_a_failure_names_what_does_not(self) -> None:
        current = self._ledger_item("CURRENT")
        if current is None:
            return
        running = self._running_instances()
        healthy = self._healthy_targets()
        named = " ".join(str(r.get("reason", "")) + str(r.get("divergent", "")) for r in self._releases()[:3])
        for instance_id in running:
            image = self.world.engine.fleet.images.get(instance_id)
            if image == current["image_uri"] and instance_id in healthy:
                continue
            assert instance_id in named, (
                f"{instance_id} runs {image} (registered healthy: {instance_id in healthy}) while the current "
                f"release is {current['image_uri']}, and no failure names it"
            )

    @invariant()
    def never_below_min_healthy(self) -> None:
        if not self.disturbed and self._releases():
            seen = self.world.engine.fleet.min_healthy_seen(self.world.target_group)
            bad_pushes = self.world.engine.fleet.faults.bad_images
            if not bad_pushes and not self.world.engine.fleet.faults.failing_commands:
                assert seen >= MIN_HEALTHY, (
                    f"only {seen} healthy targets at one moment (min_healthy allows {MIN_HEALTHY})"
                )

    @invariant()
    def one_rollback_per_release_and_quarantine_holds(self) -> None:
        releases = self._releases()
        rolled_back = [r["rolls_back"] for r in releases if r.get("trigger") == "rollback" and r.get("rolls_back")]
        assert len(rolled_back) == len(set(rolled_back)), f"a release was rolled back twice: {rolled_back}"
        quarantined = {
            item["sk"].removeprefix("QUARANTINE#"): item["quarantined_at"]
            for item in self._table().query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :q)",
                ExpressionAttributeValues={":pk": f"ENV#{ENV}", ":q": "QUARANTINE#"},
            )["Items"]
        }
        for release in releases:
            at = quarantined.get(release["digest"])
            deployed = release["status"] == "SUCCEEDED" and release.get("trigger") == "push"
            if at and deployed and str(release.get("started_at", "")) > at:
                raise AssertionError(f"quarantined {release['digest']} deployed again in {release['release_id']}")

    def teardown(self) -> None:
        self.world.engine.stop()
        if os.environ.get("HARBORMASTER_PROPERTY_EXAMPLES"):  # a long run: one line per scenario (with -s)
            print(f"scenario done: {self.pushes} pushes, {len(self._releases_seen)} releases", flush=True)

    # ------------------------------------------------------------------ reading the world
    def _finished(self, digest: str) -> bool:
        """The newest release of `digest` has an outcome."""
        release = [r for r in self._releases() if r["digest"] == digest]
        return bool(release) and release[0]["status"] in FINISHED

    def _table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.world.engine.stack.outputs["TableName"])

    def _ledger_item(self, sort_key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._table().get_item(Key={"pk": f"ENV#{ENV}", "sk": sort_key}).get("Item")
        return found

    def _releases(self) -> list[dict[str, Any]]:
        """Newest first."""
        items = self._table().query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
            ExpressionAttributeValues={":pk": f"ENV#{ENV}", ":r": "RELEASE#"},
            ScanIndexForward=False,
        )["Items"]
        return list(items)

    def _running_instances(self) -> list[str]:
        described = boto3.client("ec2").describe_instances(InstanceIds=self.world.instances)
        return [
            i["InstanceId"]
            for r in described["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] == "running"
        ]

    def _healthy_targets(self) -> set[str]:
        described = boto3.client("elbv2").describe_target_health(TargetGroupArn=self.world.target_group)
        return {
            d["Target"]["Id"] for d in described["TargetHealthDescriptions"] if d["TargetHealth"]["State"] == "healthy"
        }


def _first_call_of_release(table_name: str, digest: str) -> Any:
    """A deploy's call for `digest`: its SendCommand carries the image; an ELB call matches while
    the fence (the release that holds the environment) is this digest's."""

    def matches(params: dict[str, Any]) -> bool:
        if "Parameters" in params:
            return str(params["Parameters"].get("ImageUri", [""])[0]).endswith(digest)
        fence = (
            boto3.client("dynamodb")
            .get_item(TableName=table_name, Key={"pk": {"S": f"FENCE#{ENV}"}, "sk": {"S": "DESIRED"}})
            .get("Item")
        )
        return bool(fence) and str(fence["release_id"]["S"]).endswith(digest[7:19])

    return matches


FleetMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=os.environ.get("HARBORMASTER_PROPERTY_EXAMPLES") is None,  # CI: the same scenarios each run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestFleetInvariants = FleetMachine.TestCase
