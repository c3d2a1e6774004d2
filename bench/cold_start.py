"""Cold-start cost of each handler: import time in a fresh process (`python -X importtime`),
side by side with `import boto3` (what the runtime pays anyway), and the built layer's size.

Run: make bench   (or: .venv/bin/python bench/cold_start.py after `sam build`)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
ENV = {
    **os.environ,
    "AWS_DEFAULT_REGION": "ap-northeast-2",
    "DEPLOY_STATE_MACHINE_ARN": "arn:aws:states:ap-northeast-2:123456789012:stateMachine:bench",
    "ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-2:123456789012:bench",
    "TABLE_NAME": "bench",
    "POWERTOOLS_SERVICE_NAME": "harbormaster",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def import_ms(statement: str, cwd: Path, module: str) -> float:
    """Median cumulative import time of `module` over RUNS fresh processes, in milliseconds."""
    samples = []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            cwd=cwd,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in done.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                samples.append(int(parts[1]) / 1000)
    return statistics.median(samples)


def layer_sizes() -> tuple[float, float]:
    layer = ROOT / ".aws-sam" / "build" / "HarbormasterLayer"
    if not layer.exists():
        raise SystemExit("build the layer first: sam build (or make bench)")
    files = [p for p in layer.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(layer))
    return unzipped / 2**20, len(buffer.getvalue()) / 2**20


def main() -> None:
    baseline = import_ms("import boto3", ROOT, "boto3")
    print(f"cold-start imports, median of {RUNS} fresh processes (python {sys.version.split()[0]})")
    print(f"{'handler':<22}{'import ms':>10}{'vs boto3':>10}")
    print(f"{'(import boto3)':<22}{baseline:>10.1f}{1.0:>9.1f}x")
    for function in sorted(p for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()):
        ms = import_ms("import app", function, "app")
        print(f"{function.name:<22}{ms:>10.1f}{ms / baseline:>9.1f}x")
    unzipped, zipped = layer_sizes()
    print(
        f"\nlayer .aws-sam/build/HarbormasterLayer: {unzipped:.1f} MiB unzipped, {zipped:.1f} MiB zipped "
        f"(Lambda limit: 250 MiB unzipped for function + layers)"
    )


if __name__ == "__main__":
    main()
