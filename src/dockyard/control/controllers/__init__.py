"""Reconcile loops: a keyed work queue, a runner, and per-controller pure decide functions."""
