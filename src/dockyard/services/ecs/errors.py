"""ECS's error codes, as its API model names them."""

from __future__ import annotations

from dockyard.core.errors import ApiError, ConflictError, InvalidParameterError, NotFoundError


class ClientException(ApiError):
    code = "ClientException"


class InvalidParameterException(InvalidParameterError):
    code = "InvalidParameterException"


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
