"""Cold-start cost of each handler, loaded as Lambda loads a layer: a host-platform replica of the
layer built by the layer's own Makefile (with its bytecode), made read-only, no bytecode written
(`PYTHONDONTWRITEBYTECODE`), tracing as the stack ships it (`TraceAwsCalls=false`). boto3 comes
from outside the layer, as the runtime provides it (without the AWS Common Runtime, as there).
Side by side with `import boto3` in the same run: median of fresh processes (`python -X
importtime`), alternating so load hits both alike.

Also the real layer's size: built for arm64/cp313 by `sam build`, zipped as SAM uploads it.

Run: make bench-cold-start   (or: .venv/bin/python bench/cold_start.py after `sam build`)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("HARBORMASTER_COLD_START_RUNS", "7"))
# Lambda's Python runtime ships boto3 without the AWS Common Runtime (aws/aws-lambda-base-images#147);
# this venv has awscrt (for the SAM CLI), which botocore imports when it can: hide it, on both sides.
NO_CRT = "import sys; sys.modules['awscrt'] = None"
LAMBDA_ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_DEFAULT_REGION": "ap-northeast-2",
    "DEPLOY_STATE_MACHINE_ARN": "arn:aws:states:ap-northeast-2:123456789012:stateMachine:bench",
    "ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-2:123456789012:bench",
    "TABLE_NAME": "bench",
    "POWERTOOLS_SERVICE_NAME": "harbormaster",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def build_replica(into: Path) -> Path:
    """The layer, built for this machine's Python by the layer's Makefile; read-only."""
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT / "layers" / "harbormaster"),
            "build-HarbormasterLayer",
            f"ARTIFACTS_DIR={into}",
            f"PIP={sys.executable} -m pip",
            "PLATFORM_FLAGS=",
            f"BYTECODE_PYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
    for path in [into, *into.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)
    return into


def import_ms(module: str, cwd: Path, layer: Path | None) -> float:
    """Cumulative import time of `module` in one fresh process, in milliseconds."""
    env = {**LAMBDA_ENV}
    if layer is not None:
        env |= {"PYTHONPATH": str(layer / "python"), "HARBORMASTER_CONFIG": str(layer / "harbormaster.yaml")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{NO_CRT}; import {module}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import time for {module}: {done.stderr[-500:]}")


def layer_sizes(layer: Path = ROOT / ".aws-sam" / "build" / "HarbormasterLayer") -> tuple[float, float]:
    """(unzipped, zipped) in MB (10^6 bytes), zipped as SAM uploads a layer."""
    if not layer.exists():
        raise SystemExit("build the layer first: sam build (or make bench-cold-start)")
    files = [p for p in layer.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(layer))
    return unzipped / 10**6, len(buffer.getvalue()) / 10**6


def measure() -> dict[str, object]:
    functions = sorted(p for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    scratch = Path(tempfile.mkdtemp())
    try:
        layer = build_replica(scratch / "layer")
        _, replica_zipped = layer_sizes(layer)
        samples: dict[str, list[float]] = {"boto3": [], **{f.name: [] for f in functions}}
        for _ in range(RUNS):
            for function in functions:  # boto3 right before each handler: the same load on both
                samples["boto3"].append(import_ms("boto3", scratch, None))
                samples[function.name].append(import_ms("app", function, layer))
    finally:
        for path in [scratch, *scratch.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        shutil.rmtree(scratch)
    baseline = statistics.median(samples["boto3"])
    handlers = {name: statistics.median(values) for name, values in samples.items() if name != "boto3"}
    unzipped, zipped = layer_sizes()
    return {
        "runs": RUNS,
        "boto3_ms": round(baseline, 1),
        "handlers": {name: {"ms": round(ms, 1), "vs_boto3": round(ms / baseline, 2)} for name, ms in handlers.items()},
        "slowest_vs_boto3": round(max(handlers.values()) / baseline, 2),
        "layer_unzipped_mb": round(unzipped, 1),
        "layer_zipped_mb": round(zipped, 1),
        "replica_zipped_mb": round(replica_zipped, 1),
    }


def report(result: dict[str, object]) -> None:
    print(f"cold-start imports from a read-only layer replica, median of {result['runs']} fresh processes")
    print(f"(python {sys.version.split()[0]}, bytecode shipped, none written)")
    print(f"{'handler':<22}{'import ms':>10}{'vs boto3':>10}")
    print(f"{'(import boto3)':<22}{result['boto3_ms']:>10.1f}{1.0:>9.2f}x")
    for name, figures in result["handlers"].items():  # type: ignore[attr-defined]
        print(f"{name:<22}{figures['ms']:>10.1f}{figures['vs_boto3']:>9.2f}x")
    print(
        f"\nlayer .aws-sam/build/HarbormasterLayer (arm64, cp313): {result['layer_unzipped_mb']} MB unzipped, "
        f"{result['layer_zipped_mb']} MB zipped; with bytecode (the replica): {result['replica_zipped_mb']} MB zipped"
    )


if __name__ == "__main__":
    report(measure())
