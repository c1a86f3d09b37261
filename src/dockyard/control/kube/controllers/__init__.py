"""kube-controller-manager's controllers as pure decisions: ``decide(owner, observed…, now) -> Actions``.

Each module matches one v1.33 controller (its docstring says what and what not); an applier in the
services layer reads the objects, calls the decision and performs the :class:`actions.Actions`::

    watch / resync ─▶ key ─▶ read owner + observed objects ─▶ decide(…, now) ─▶ Actions
                                                   ▲                          │ creates, patches,
                                                   └──── next sync ◀──────────┘ deletes, status

- ``endpoints``: Endpoints and EndpointSlices of selector Services; ``kubernetes_service``: the
  ``default/kubernetes`` Service and its endpoints;
- ``ipalloc``: ClusterIP and NodePort allocation (kube-apiserver's part);
- ``garbage``: the garbage collector (background, foreground, orphan);
- ``namespaces``: namespace deletion and its admission rules;
- ``scheduling``: taints, tolerations, node selectors and affinity (shared);
- ``nodes``: node lifecycle (NodeStatusUnknown, taints, taint-based eviction) and DefaultTolerationSeconds;
- ``jobs``: the Job controller; ``daemonsets``: the DaemonSet controller.
"""
