"""Cost Explorer's error codes, as its API model names them (ValidationException is the generic one)."""

from __future__ import annotations

from dockyard.core.errors import ApiError, NotFoundError


class ResourceNotFoundException(NotFoundError):
    """An ARN in the request (a billing view) names nothing the caller has."""

    code = "ResourceNotFoundException"


class InvalidNextTokenException(ApiError):
    code = "InvalidNextTokenException"
