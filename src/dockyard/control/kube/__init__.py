"""Kubernetes object logic that needs no storage and no HTTP: selectors, patches, field management. Pure."""
