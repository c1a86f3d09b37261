"""The errors of the pure Kubernetes logic, each carrying what its ``Status`` reply needs.

The Kubernetes HTTP layer writes a :class:`KubeError` as ``{"kind": "Status", "status": "Failure",
"message": …, "reason": …, "code": …, "details": …}``; nothing here knows about HTTP. The reason and code
are the ones kube-apiserver answers for the same mistake (a bad selector is a 400 ``BadRequest``, a
JSON patch whose ``test`` fails a 422 ``Invalid``, an apply conflict a 409 ``Conflict``).
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """An error meant to reach a Kubernetes client as a ``Status`` object."""

    reason: str = "InternalError"
    code: int = 500

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        code: int | None = None,
        causes: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})
        """The Status's ``details`` (name, group, kind, uid, retryAfterSeconds); ``causes`` go in it too."""
        self.message = message
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code
        self.causes: list[dict[str, Any]] = causes or []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class BadRequestError(KubeError):
    """The request cannot be understood (a malformed selector or patch document): 400 ``BadRequest``."""

    reason = "BadRequest"
    code = 400


class SelectorError(BadRequestError):
    """A label or field selector that does not parse or names a field the kind cannot select on."""


class PatchError(KubeError):
    """A patch that cannot be applied; ``reason`` and ``code`` say how kube-apiserver words it.

    ``detail`` is the precise cause (for logs and tests); kube-apiserver does not always put it on the
    wire: a failed JSON patch operation answers only its generic 422 message.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = "BadRequest",
        code: int = 400,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, code=code)
        self.detail = detail if detail is not None else message


class ConflictError(KubeError):
    """Server-side apply found fields owned by other managers: 409 ``Conflict`` with one cause each."""

    reason = "Conflict"
    code = 409
