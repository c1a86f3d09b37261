"""The OCI Distribution v1.1 HTTP API (``/v2/``) over the registry service; see :mod:`.routes`."""
