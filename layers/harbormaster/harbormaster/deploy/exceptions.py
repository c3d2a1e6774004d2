"""Errors a deploy phase raises; their class names become Step Functions error names."""


class DeployError(Exception):
    """A deploy cannot go on (the reason is shown in Slack and kept in the ledger)."""


class ImageNotFound(DeployError):
    """The pushed digest is not (or no longer) in the ECR repository."""


class UnknownEnvironment(DeployError):
    """The request names an environment that the configuration does not define."""
