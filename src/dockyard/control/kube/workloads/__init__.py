"""kube-controller-manager's workload controllers (v1.33) as pure decisions, and apps/v1 defaults.

::

    Deployment ─ decide ─▶ ReplicaSet creates / scale patches / deletes + Deployment status
    ReplicaSet ─ decide ─▶ Pod creates (slow-start batches) / adopt-release patches / deletes + status

Done so far (the shared building blocks):

- ``pods``: active, ready and available pods, kube's order for deleting surplus pods;
- ``ownership``: controller references, adopting orphans and releasing what no longer matches.

Not written yet: expectations, the ReplicaSet and Deployment decisions, pod-template-hash, the
Deployment's status and conditions, apps/v1 defaults.

Actions are the shared :class:`dockyard.control.kube.controllers.actions.Actions`.
"""
