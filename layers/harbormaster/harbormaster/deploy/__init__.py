"""Deploy on push: routing ECR pushes to environments and the phases of a deploy."""

from typing import TYPE_CHECKING

from harbormaster.lazy import exports

if TYPE_CHECKING:
    from harbormaster.deploy.events import (
        deploy_event as deploy_event,
    )
    from harbormaster.deploy.exceptions import (
        DeployError as DeployError,
        ImageNotFound as ImageNotFound,
        UnknownEnvironment as UnknownEnvironment,
    )
    from harbormaster.deploy.models import (
        BatchTask as BatchTask,
        DeployPlan as DeployPlan,
        DeployRequest as DeployRequest,
    )
    from harbormaster.deploy.router import (
        RoutedDeploy as RoutedDeploy,
        execution_name as execution_name,
        route_push as route_push,
    )

# Not `prepare`: the submodule of that name would shadow it once imported.
_EXPORTS = {  # name → the submodule that defines it
    "BatchTask": "models",
    "DeployError": "exceptions",
    "DeployPlan": "models",
    "DeployRequest": "models",
    "ImageNotFound": "exceptions",
    "RoutedDeploy": "router",
    "UnknownEnvironment": "exceptions",
    "deploy_event": "events",
    "execution_name": "router",
    "route_push": "router",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
