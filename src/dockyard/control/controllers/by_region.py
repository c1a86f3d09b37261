"""What the controllers keyed by region share (the Fargate pool, host retirement, Spot interruptions):
a change anywhere in a region queues the region, and a batch of regions is synced one at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dockyard.control.changes import ClusterChange
from dockyard.control.controllers.queue import WorkQueue


def queue_region(queue: WorkQueue[str]) -> Callable[[ClusterChange], None]:
    """A change-feed subscriber that queues the region of every change."""

    def on_change(change: ClusterChange) -> None:
        queue.add(change.cluster.region)

    return on_change


def sync_each(
    regions: Sequence[str], sync: Callable[[str], float | None]
) -> dict[str, float | Exception | None]:
    """``sync_many`` of a region-keyed controller: each region's answer (when to look again, or None), or
    the exception its sync raised, which the runner retries with backoff."""
    results: dict[str, float | Exception | None] = {}
    for region in regions:
        try:
            results[region] = sync(region)
        except Exception as exc:
            results[region] = exc
    return results
