"""`harbormaster doctor`: what is missing before a first deploy, checked against the account.

findings = diagnose(load_config(), environment="api-dev")
print(report(findings)); exit(1 if blocking(findings) else 0)
"""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.doctor.checks import (
        diagnose as diagnose,
    )
    from harbormaster.doctor.findings import (
        Finding as Finding,
        Status as Status,
        blocking as blocking,
        report as report,
    )

_EXPORTS = {  # name → the submodule that defines it
    "Finding": "findings",
    "Status": "findings",
    "blocking": "findings",
    "diagnose": "checks",
    "report": "findings",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
