"""CloudWatch Logs' error codes, as its API model names them, with AWS's messages for the common ones.

CloudWatch Logs reports malformed parameters as ``InvalidParameterException`` (even the generic
"N validation errors detected" of the model's constraints, which the gateway renames for this service).
"""

from __future__ import annotations

from dockyard.core.errors import ApiError, ConflictError, InvalidParameterError, NotFoundError

InvalidParameterException = InvalidParameterError

GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"


class ResourceNotFoundException(NotFoundError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(ConflictError):
    code = "ResourceAlreadyExistsException"


class TooManyTagsException(ApiError):
    code = "TooManyTagsException"
