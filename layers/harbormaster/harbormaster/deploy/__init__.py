"""Deploy on push: routing ECR pushes to environments and the phases of a deploy."""

from harbormaster.deploy.events import deploy_event
from harbormaster.deploy.exceptions import DeployError, ImageNotFound, UnknownEnvironment
from harbormaster.deploy.models import BatchTask, DeployPlan, DeployRequest
from harbormaster.deploy.prepare import prepare
from harbormaster.deploy.router import RoutedDeploy, execution_name, route_push

__all__ = [
    "BatchTask",
    "DeployError",
    "DeployPlan",
    "DeployRequest",
    "ImageNotFound",
    "RoutedDeploy",
    "UnknownEnvironment",
    "deploy_event",
    "execution_name",
    "prepare",
    "route_push",
]
