"""ECR's scan-on-push as AWS runs it: the push event arrives first, and the scan reports
`IN_PROGRESS` (no findings) for a while after it; moto has no scan until one is started, then a
fixed finding. On the engine's clock, an image pushed to a scan-on-push repository is scanning
for `duration` seconds, then COMPLETE with the findings the test or demo gave it (none by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from harbormaster import clock


class EcrScans:
    def __init__(self, duration_seconds: int = 20) -> None:
        self.duration = timedelta(seconds=duration_seconds)
        self.pushed_at: dict[str, datetime] = {}  # digest → when the push event was sent
        self.findings: dict[str, dict[str, int]] = {}  # digest → severity counts once COMPLETE

    def pushed(self, digest: str) -> None:
        self.pushed_at.setdefault(digest, clock.now())

    def patches(self) -> list[Any]:
        from moto.ecr.models import ECRBackend

        scans = self
        original = ECRBackend.describe_image_scan_findings

        def describe_image_scan_findings(
            backend: Any, registry_id: str, repository_name: str, image_id: dict[str, Any]
        ) -> dict[str, Any]:
            repo = backend._get_repository(repository_name, registry_id)
            image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
            pushed = scans.pushed_at.get(image.image_digest)
            if repo.image_scanning_configuration.get("scanOnPush") and pushed is not None and not image.last_scan:
                if clock.now() < pushed + scans.duration:
                    return {
                        "registryId": repo.registry_id,
                        "repositoryName": repository_name,
                        "imageId": {"imageDigest": image.image_digest, "imageTag": image.image_tag},
                        "imageScanStatus": {"status": "IN_PROGRESS", "description": "The scan is in progress."},
                    }
                image.last_scan = clock.now()
            response: dict[str, Any] = original(backend, registry_id, repository_name, image_id)
            findings = response.get("imageScanFindings", {})
            counts = scans.findings.get(image.image_digest, {})
            findings["findingSeverityCounts"] = dict(counts)
            findings["findings"] = [f for f in findings.get("findings", []) if f.get("severity") in counts]
            return response

        return [mock.patch.object(ECRBackend, "describe_image_scan_findings", describe_image_scan_findings)]
