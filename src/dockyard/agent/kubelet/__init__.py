"""The kubelet's pod runtime: Pods bound to this node, run on the :class:`ContainerRuntime`.

pod_logic.py (pure: labels, names, pause and container specs) · env.py (pure: environment, ``$(VAR)``)
· volumes.py (pure: volume plan, binds) · pod_dirs.py (writes the plan) · probes.py · backoff.py (pure)
· pod_status.py (pure: the ``status`` dict) · pod_engine.py (``PodEngine.sync``: the applier).
"""
