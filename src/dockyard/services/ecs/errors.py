"""ECS's error codes, as its API model names them."""

from __future__ import annotations

from dockyard.core.errors import ApiError, ClientError, ConflictError, InvalidParameterError, NotFoundError

# The two codes the launch path (control/launch) raises too, so one class each.
ClientException = ClientError
InvalidParameterException = InvalidParameterError


class ClusterNotFoundException(NotFoundError):
    code = "ClusterNotFoundException"

    def __init__(self, message: str = "Cluster not found.") -> None:
        super().__init__(message)


class ResourceNotFoundException(NotFoundError):
    code = "ResourceNotFoundException"


class ClusterContainsServicesException(ConflictError):
    code = "ClusterContainsServicesException"


class ClusterContainsContainerInstancesException(ConflictError):
    code = "ClusterContainsContainerInstancesException"


class ClusterContainsTasksException(ConflictError):
    code = "ClusterContainsTasksException"


class AttributeLimitExceededException(ApiError):
    code = "AttributeLimitExceededException"


class TargetNotFoundException(NotFoundError):
    code = "TargetNotFoundException"


class ServiceNotFoundException(NotFoundError):
    code = "ServiceNotFoundException"


class ServiceNotActiveException(ApiError):
    code = "ServiceNotActiveException"
