from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from harbormaster.cli.main import main
from harbormaster.config import ConfigError, load_config, parse_config, parse_duration

VALID_ENV = """
environments:
  api:
    repository: tpt-api
    tags: ["v*"]
    target: {type: ec2, target_group_name: api-tg}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conf.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_the_example_configuration_is_valid(root: Path) -> None:
    config = load_config(str(root / "harbormaster.yaml"))
    prod = config.environments["api-prod"]
    assert prod.rollout.min_healthy == 50.0
    assert prod.bake == timedelta(minutes=5)
    assert prod.rollback.window == timedelta(minutes=30)
    assert config.environments["web"].target.type == "ecs"
    assert config.environments_for_push("tpt-api-prod", "v1.2.3") == ["api-prod"]
    assert config.environments_for_push("tpt-api-prod", "main-1") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: [1, 2", "conf.yaml:1: (top level): not valid YAML"),
        ("- a\n- b\n", "conf.yaml:1: (top level): the file must hold a mapping"),
        (
            "environments:\n  api:\n    tags: [v*]\n    target: {type: ec2, target_group_name: t}\n",
            "conf.yaml:2: environments.api.repository: required key is missing",
        ),
        (
            VALID_ENV.replace('tags: ["v*"]', "tags: 5"),
            "conf.yaml:5: environments.api.tags: Input should be a valid list",
        ),
        (
            VALID_ENV.replace('"v*"', '"v[1"'),
            "conf.yaml:5: environments.api.tags.0: 'v[1' is not a tag glob: '[' is never closed",
        ),
        (
            VALID_ENV.replace("type: ec2, target_group_name: api-tg", "type: lambda"),
            "conf.yaml:6: environments.api.target: unknown target type 'lambda'; expected 'ec2' or 'ecs'",
        ),
        (
            VALID_ENV + "    bake: 5 minutes\n",
            "conf.yaml:7: environments.api.bake: '5 minutes' is not a duration; use e.g. 30s, 5m, 24h or 1h30m",
        ),
        (VALID_ENV + "    rolout: {batch: 1}\n", "conf.yaml:7: environments.api.rolout: unknown key"),
        (
            VALID_ENV + "    rollout: {min_healthy: 150%}\n",
            "conf.yaml:7: environments.api.rollout.min_healthy: '150%' is not a percentage",
        ),
        (
            VALID_ENV + "    rollout: {batch: 0}\n",
            "conf.yaml:7: environments.api.rollout.batch: a batch must hold at least 1 instance",
        ),
        (
            VALID_ENV.replace("tpt-api", "Tpt Api"),
            "conf.yaml:4: environments.api.repository: 'Tpt Api' is not an ECR repository name",
        ),
        (
            "schedules:\n  office:\n    timezone: Mars/Olympus\n",
            "conf.yaml:3: schedules.office.timezone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            "schedules:\n  office:\n    periods: [{begintime: '25:00'}]\n",
            "conf.yaml:3: schedules.office.periods.0.begintime: '25:00' is not a time of day",
        ),
        (
            "schedules:\n  office:\n    accounts: [111111111111]\n",
            "conf.yaml:3: schedules.office.accounts.0: write the account id in quotes ('111111111111')",
        ),
        (
            "schedules:\n  office:\n    accounts: ['1111']\n",
            "conf.yaml:3: schedules.office.accounts.0: String should match pattern",
        ),
        (
            "schedules:\n  office:\n    regions: [Seoul]\n",
            "conf.yaml:3: schedules.office.regions.0: String should match pattern",
        ),
        (
            VALID_ENV + "    account: '111111111111'\n",
            "conf.yaml:3: environments.api: account/region: only an ECS environment may live in "
            "another account or region",
        ),
        (
            VALID_ENV + "    registry: {account: 222222222222}\n",
            "conf.yaml:7: environments.api.registry.account: write the account id in quotes ('222222222222')",
        ),
        (
            VALID_ENV + "    registry: {region: Seoul}\n",
            "conf.yaml:7: environments.api.registry.region: String should match pattern",
        ),
        (
            "spokes: {external_id: 'has space'}\n",
            "conf.yaml:1: spokes.external_id: String should match pattern",
        ),
        (
            "slack:\n  routes: {a: {webhook_secret: s}}\n  default_route: b\n",
            "conf.yaml:1: slack: default_route 'b' is not one of the routes",
        ),
        (
            "slack:\n  routes:\n    a: {webhook_secret: s, mention: ['@here']}\n",
            "conf.yaml:3: slack.routes.a.mention.0: String should match pattern",
        ),
        (
            "slack:\n  routes:\n    a: {webhook_secret: s, mention: [here], mention_on: [urgent]}\n",
            "conf.yaml:3: slack.routes.a.mention_on.0: Input should be",
        ),
    ],
)
def test_each_invalid_configuration_names_file_line_key_and_problem(text: str, expected: str) -> None:
    found = errors(text)
    assert any(line.startswith(expected) for line in found), found


def test_every_error_is_reported_at_once() -> None:
    text = VALID_ENV.replace("tpt-api", "Bad Name") + "    bake: soon\n    extra: 1\n"
    assert len(errors(text)) == 3


def test_at_most_one_target_group_reference() -> None:
    text = VALID_ENV.replace(
        "target_group_name: api-tg",
        "target_group_name: a, target_group_arn: "
        "'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/a/0123abcd'",
    )
    assert any("one of target_group_arn or target_group_name, not both" in e for e in errors(text))


def test_without_a_target_group_the_instances_must_be_named() -> None:
    text = VALID_ENV.replace("type: ec2, target_group_name: api-tg", "type: ec2")
    assert errors(text) == [
        "conf.yaml:6: environments.api.target: without a target group, name the instances: "
        "auto_scaling_group and/or instances.tag"
    ]
    selected = parse_config(VALID_ENV.replace("target_group_name: api-tg", "instances: {tag: {App: api}}"))
    assert not selected.environments["api"].target.has_load_balancer  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("24h", 86400), ("1h30m", 5400), ("2d", 172800), ("45", 45), (90, 90)],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "1h 30x", "-5", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_cli_validate_prints_ok(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(root / "harbormaster.yaml")]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_cli_validate_prints_errors_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID_ENV + "    bake: later\n")
    assert main(["config", "validate", str(bad)]) == 1
    assert f"{bad}:7: environments.api.bake:" in capsys.readouterr().err


def test_cli_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read the file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("container", "key", "value"),
    [
        ("{health_path: '/health?full=1'}", "health_path", "'/health?full=1'"),
        ("{env_parameters_path: /}", "env_parameters_path", "'/'"),
        ("{log_group: '/app#prod'}", "log_group", "'/app#prod'"),
        ("{name: '-app'}", "name", "'-app'"),
    ],
)
def test_container_values_the_ssm_document_would_refuse_are_refused_here(container: str, key: str, value: str) -> None:
    [found] = errors(VALID_ENV + f"    container: {container}\n")
    assert found.startswith(f"conf.yaml:7: environments.api.container.{key}: {value} is not")
    assert "the deploy document's allowedPattern is" in found


def test_a_slack_route_is_a_webhook_or_a_channel_and_a_channel_needs_the_bot_token() -> None:
    base = "slack:\n  routes:\n    ops: ROUTE\n"
    both = errors(base.replace("ROUTE", "{webhook_secret: hm/ops, channel: C0123ABCD}"))
    assert both == [
        "conf.yaml:3: slack.routes.ops: give a route exactly one of webhook_secret or channel "
        "(a channel id like C0123ABCD)"
    ]
    [no_token] = errors(base.replace("ROUTE", "{channel: C0123ABCD}"))
    assert "routes ['ops'] post to a channel: set slack.bot_token_secret" in no_token
    [bad_id] = errors(base.replace("ROUTE", "{channel: '#deploys'}") + "  bot_token_secret: hm/bot\n")
    assert "slack.routes.ops.channel" in bad_id
    bot = parse_config(base.replace("ROUTE", "{channel: C0123ABCD}") + "  bot_token_secret: hm/bot\n")
    assert bot.slack.routes["ops"].channel == "C0123ABCD"


def test_an_ecs_environment_may_live_in_another_account_with_its_images_in_a_third() -> None:
    text = (
        "environments:\n  web:\n    repository: web\n    tags: [main-*]\n"
        "    target: {type: ecs, cluster: c, service: s, container: web}\n"
        "    account: '111111111111'\n    region: us-east-1\n    registry: {account: '222222222222'}\n"
    )
    web = parse_config(text, "conf.yaml").environments["web"]
    assert (web.account, web.region, web.registry.account, web.registry.region) == (
        "111111111111",
        "us-east-1",
        "222222222222",
        None,
    )
