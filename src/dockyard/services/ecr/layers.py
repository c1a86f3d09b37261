"""ECR's layer API: availability checks, part-by-part uploads and download URLs, over the registry service.

These are the calls the ECR flavour of ``docker push`` and the AWS SDKs make instead of ``/v2/``; they
write into the same uploads and blobs, so a layer uploaded here is pullable through ``/v2/`` and back.
"""

from __future__ import annotations

from typing import Any

from dockyard.core.context import RequestContext
from dockyard.registry.digest import parse_digest
from dockyard.registry.errors import BlobUnknown, BlobUploadUnknown, DigestInvalid, RangeInvalid
from dockyard.services.base import Params, Result
from dockyard.services.ecr import errors as ecr_errors
from dockyard.services.ecr.images import ecr_exceptions, registry_scope
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import LAYER_URL_LIFETIME, RegistryGrant, RegistryTokens

PART_SIZE = 10 * 1024 * 1024
MAX_PART_BYTES = 20 * 1024 * 1024
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class LayerOperations:
    """Mixed into the ECR provider; needs ``_registry``, ``_tokens`` and ``_endpoint_url``."""

    _registry: RegistryService
    _tokens: RegistryTokens
    _endpoint_url: str

    def batch_check_layer_availability(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name = params["repositoryName"]
        layers: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        with ecr_exceptions():
            self._registry.tags(scope, name, limit=0, last=None)  # the repository must exist
        for digest in params["layerDigests"]:
            try:
                parse_digest(digest)
            except DigestInvalid:
                failures.append(
                    {
                        "layerDigest": digest,
                        "failureCode": "InvalidLayerDigest",
                        "failureReason": "Invalid digest",
                    }
                )
                continue
            try:
                size = self._registry.blob_size(scope, name, digest)
            except BlobUnknown:
                layers.append({"layerDigest": digest, "layerAvailability": "UNAVAILABLE"})
                continue
            layers.append(
                {
                    "layerDigest": digest,
                    "layerAvailability": "AVAILABLE",
                    "layerSize": size,
                    "mediaType": LAYER_MEDIA_TYPE,
                }
            )
        return {"layers": layers, "failures": failures}

    def initiate_layer_upload(self, ctx: RequestContext, params: Params) -> Result:
        with ecr_exceptions():
            upload_id = self._registry.start_upload(
                registry_scope(ctx, params), params["repositoryName"], ctx.now
            )
        return {"uploadId": upload_id, "partSize": PART_SIZE}

    def upload_layer_part(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name, upload_id = params["repositoryName"], params["uploadId"]
        first, last, blob = params["partFirstByte"], params["partLastByte"], params["layerPartBlob"]
        if len(blob) > MAX_PART_BYTES:
            raise ecr_errors.LayerPartTooLargeException(
                f"Layer part size must not exceed {MAX_PART_BYTES} bytes."
            )
        if last - first + 1 != len(blob):
            raise ecr_errors.InvalidLayerPartException(
                f"The layer part size is not valid: partFirstByte {first}, partLastByte {last}, "
                f"but {len(blob)} bytes were sent."
            )
        try:
            with self._registry.open_upload_writer(scope, name, upload_id, first) as writer:
                writer.write(blob)
                size = writer.size
        except BlobUploadUnknown as exc:
            raise _upload_not_found(upload_id, name, ctx.account_id) from exc
        except RangeInvalid as exc:
            current = self._registry.upload_size(scope, name, upload_id)
            raise ecr_errors.InvalidLayerPartException(
                f"The layer part must start at byte {current}; partFirstByte was {first}."
            ) from exc
        return {
            "registryId": ctx.account_id,
            "repositoryName": name,
            "uploadId": upload_id,
            "lastByteReceived": size - 1,
        }

    def complete_layer_upload(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name, upload_id = params["repositoryName"], params["uploadId"]
        digest = params["layerDigests"][0]
        try:
            if self._registry.upload_size(scope, name, upload_id) == 0:
                raise ecr_errors.EmptyUploadException(
                    f"The upload with id '{upload_id}' contains no layer parts."
                )
            parse_digest(digest)
        except BlobUploadUnknown as exc:
            raise _upload_not_found(upload_id, name, ctx.account_id) from exc
        except DigestInvalid as exc:
            raise ecr_errors.InvalidLayerException(f"Invalid layer digest: {digest}") from exc
        if self._registry.link_existing_blob(scope, name, digest, ctx.now) is not None:
            self._registry.cancel_upload(scope, name, upload_id)
            raise ecr_errors.LayerAlreadyExistsException(
                f"The layer with digest '{digest}' already exists in the repository with name '{name}' "
                f"in the registry with id '{ctx.account_id}'"
            )
        try:
            self._registry.complete_upload(scope, name, upload_id, digest=digest, now=ctx.now)
        except DigestInvalid as exc:
            raise ecr_errors.InvalidLayerException(
                f"The calculated digest of the uploaded layer does not match the digest {digest}."
            ) from exc
        return {
            "registryId": ctx.account_id,
            "repositoryName": name,
            "uploadId": upload_id,
            "layerDigest": digest,
        }

    def get_download_url_for_layer(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name, digest = params["repositoryName"], params["layerDigest"]
        try:
            self._registry.blob_size(scope, name, digest)
        except (BlobUnknown, DigestInvalid) as exc:
            raise ecr_errors.LayersNotFoundException(
                f"The layer with digest '{digest}' does not exist in the repository with name '{name}' "
                f"in the registry with id '{ctx.account_id}'"
            ) from exc
        grant = RegistryGrant(ctx.account_id, ctx.region, ctx.principal.arn, ctx.now + LAYER_URL_LIFETIME)
        token = self._tokens.issue_layer_token(grant, name, digest)
        return {
            "downloadUrl": f"{self._endpoint_url}/v2/{name}/blobs/{digest}?token={token}",
            "layerDigest": digest,
        }


def _upload_not_found(upload_id: str, name: str, account_id: str) -> ecr_errors.UploadNotFoundException:
    return ecr_errors.UploadNotFoundException(
        f"The upload with id '{upload_id}' does not exist in the repository with name '{name}' "
        f"in the registry with id '{account_id}'"
    )
