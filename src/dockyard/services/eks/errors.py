"""EKS's error codes with the HTTP statuses its model gives them (``error.httpStatusCode``)."""

from __future__ import annotations

from dockyard.core.errors import ApiError, ClientError, ConflictError, InvalidParameterError, NotFoundError


class ResourceNotFoundException(NotFoundError):
    code = "ResourceNotFoundException"
    status = 404


class ResourceInUseException(ConflictError):
    code = "ResourceInUseException"
    status = 409


class InvalidParameterException(InvalidParameterError):
    code = "InvalidParameterException"


class InvalidRequestException(ApiError):
    """The request is valid but not in the resource's current state (e.g. the cluster is not ACTIVE)."""

    code = "InvalidRequestException"


class ResourceLimitExceededException(ApiError):
    code = "ResourceLimitExceededException"


class ClientException(ClientError):
    code = "ClientException"


class NotFoundException(NotFoundError):
    """The tagging operations' "no such resource" (they do not use ResourceNotFoundException)."""

    code = "NotFoundException"
    status = 404


class BadRequestException(ApiError):
    """The tagging operations' "this is not a taggable ARN"."""

    code = "BadRequestException"
