"""ECR's error codes, as its API model names them."""

from __future__ import annotations

from dockyard.core.errors import ApiError, ConflictError, InvalidParameterError, NotFoundError


class InvalidParameterException(InvalidParameterError):
    code = "InvalidParameterException"


class InvalidTagParameterException(InvalidParameterError):
    code = "InvalidTagParameterException"


class TooManyTagsException(ApiError):
    code = "TooManyTagsException"


class RepositoryNotFoundException(NotFoundError):
    code = "RepositoryNotFoundException"

    @classmethod
    def named(cls, name: str, account_id: str) -> RepositoryNotFoundException:
        return cls(f"The repository with name '{name}' does not exist in the registry with id '{account_id}'")


class RepositoryAlreadyExistsException(ConflictError):
    code = "RepositoryAlreadyExistsException"


class RepositoryNotEmptyException(ConflictError):
    code = "RepositoryNotEmptyException"


class RepositoryPolicyNotFoundException(NotFoundError):
    code = "RepositoryPolicyNotFoundException"


class LifecyclePolicyNotFoundException(NotFoundError):
    code = "LifecyclePolicyNotFoundException"


class LifecyclePolicyPreviewNotFoundException(NotFoundError):
    code = "LifecyclePolicyPreviewNotFoundException"


class ImageNotFoundException(NotFoundError):
    code = "ImageNotFoundException"


class ImageAlreadyExistsException(ConflictError):
    code = "ImageAlreadyExistsException"


class ImageTagAlreadyExistsException(ConflictError):
    code = "ImageTagAlreadyExistsException"


class ImageDigestDoesNotMatchException(InvalidParameterError):
    code = "ImageDigestDoesNotMatchException"


class LayersNotFoundException(NotFoundError):
    code = "LayersNotFoundException"


class ReferencedImagesNotFoundException(NotFoundError):
    code = "ReferencedImagesNotFoundException"


class UploadNotFoundException(NotFoundError):
    code = "UploadNotFoundException"


class InvalidLayerException(InvalidParameterError):
    code = "InvalidLayerException"


class InvalidLayerPartException(InvalidParameterError):
    code = "InvalidLayerPartException"


class LayerAlreadyExistsException(ConflictError):
    code = "LayerAlreadyExistsException"


class LayerPartTooLargeException(InvalidParameterError):
    code = "LayerPartTooLargeException"


class EmptyUploadException(InvalidParameterError):
    code = "EmptyUploadException"


class LayerInaccessibleException(ApiError):
    code = "LayerInaccessibleException"


class LimitExceededException(ApiError):
    code = "LimitExceededException"
