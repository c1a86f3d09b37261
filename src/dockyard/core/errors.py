"""The error hierarchy every layer raises, mapped to the wire exactly once (in ``dockyard.api``).

An :class:`ApiError` carries the AWS error code, the HTTP status and whether the sender is at fault.
Providers raise the specific subclasses; the gateway writes them as AWS-shaped errors. Anything that is not
an :class:`ApiError` becomes a 500 ``InternalFailure`` with no detail on the wire.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an AWS error code, meant to reach the client as is."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


# --- request-level errors (protocol, validation) ---------------------------------------------------------


class SerializationError(ApiError):
    """The body cannot be read as the protocol's format, or a value has the wrong type."""

    code = "SerializationException"


class ValidationError(ApiError):
    """A value breaks a constraint of its shape (required, length, range, enum, pattern)."""

    code = "ValidationException"


class UnknownOperationError(ApiError):
    """The target names no operation of any served service."""

    code = "UnknownOperationException"


class NotImplementedOperationError(ApiError):
    """A modelled operation that dockyard does not implement yet."""

    code = "NotImplementedException"
    status = 501
    sender_fault = False


# --- authentication --------------------------------------------------------------------------------------


class AuthError(ApiError):
    """Authentication failed; always a 403 unless a subclass says otherwise."""

    status = 403


class MissingAuthenticationTokenError(AuthError):
    code = "MissingAuthenticationTokenException"


class InvalidSignatureError(AuthError):
    code = "InvalidSignatureException"


class UnrecognizedClientError(AuthError):
    code = "UnrecognizedClientException"


class IncompleteSignatureError(AuthError):
    code = "IncompleteSignatureException"
    status = 400


# --- domain errors, specialised per service by code --------------------------------------------------------


class NotFoundError(ApiError):
    """The named resource does not exist (in the caller's account and region)."""


class ConflictError(ApiError):
    """The request conflicts with the current state of a resource."""


class InvalidParameterError(ApiError):
    """A parameter is well-formed but not acceptable."""

    code = "InvalidParameterException"


class ClientError(ApiError):
    """The request cannot be served as asked (ECS's and EKS's catch-all ``ClientException``)."""

    code = "ClientException"


class LimitExceededError(ApiError):
    """A quota would be exceeded."""

    code = "LimitExceededException"


class ThrottledError(ApiError):
    code = "ThrottlingException"


class InternalError(ApiError):
    """A server fault that may be shown to the client with its message."""

    code = "InternalFailure"
    status = 500
    sender_fault = False
