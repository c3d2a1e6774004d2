"""The example configurations in `examples/` (one per seed system that needed a new host shape):
each validates with `harbormaster config validate`, and each deploys a push on the engine, in a
world seeded from the file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbormaster.cli.main import main
from harbormaster.config import load_config
from harbormaster.local import LocalEngine
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_every_example_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert [path.name for path in EXAMPLES] == ["000-deepple-spring.yaml", "003-teammoa-compose.yaml"]
    assert main(["config", "validate", *map(str, EXAMPLES)]) == 0
    assert capsys.readouterr().out.count("OK: ") == len(EXAMPLES)


def test_one_bad_file_among_several_fails_validation_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLES[0].read_text().replace("/home/ec2-user/certs:/etc/certs:ro", "certs:/etc/certs:ro"))
    assert main(["config", "validate", str(EXAMPLES[1]), str(bad)]) == 1
    out = capsys.readouterr()
    assert "OK: " in out.out and f"{bad}:" in out.err
    assert "environments.deepple-prod.container.volumes.1: 'certs:/etc/certs:ro' is not a volume" in out.err


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_deploys_a_push_on_the_engine(example: Path) -> None:
    config = load_config(str(example))
    [(name, environment)] = config.environments.items()
    engine = LocalEngine(config=example, slack_messages_per_second=1000, seed=True)
    engine.start()
    try:
        tag = environment.tags[0].replace("*", "42")
        digest, report = engine.push_image(environment.repository, tag)
        assert [e.status for e in report.executions] == ["SUCCEEDED"], engine.logs.text()[-2000:]
        deployed = {i: image for i, image in engine.fleet.images.items() if image.endswith(digest)}
        # The seeded instances: two behind a target group, one Compose host without a load balancer.
        assert len(deployed) == (1 if environment.container.compose else 2)
        if environment.container.compose is not None:
            assert all(engine.fleet.projects[i].recreated == {"web": 1} for i in deployed)
        assert name in engine.slack.delivered("deployments")[-1].body["text"]
    finally:
        engine.stop()


def test_moving_over_covers_every_seed_and_its_example() -> None:
    readme = (ROOT / "README.md").read_text()
    moving_over = readme[readme.index("## Moving over") : readme.index("## Layout")]
    for seed in ("000", "001", "002", "003", "004"):
        assert f"`{seed}_*`" in moving_over, seed
    for example in EXAMPLES:
        assert f"(examples/{example.name})" in moving_over
