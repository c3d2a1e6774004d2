"""`harbormaster doctor`: what is missing before a first deploy, checked against the account.

findings = diagnose(load_config(), environment="api-dev")
print(report(findings)); exit(1 if blocking(findings) else 0)
"""

from harbormaster.doctor.checks import diagnose
from harbormaster.doctor.findings import Finding, Status, blocking, report

__all__ = ["Finding", "Status", "blocking", "diagnose", "report"]
