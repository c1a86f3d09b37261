"""The Job controller (batch/v1, NonIndexed completion mode), as kube-controller-manager v1.33. Pure.

One sync::

    pods controlled by the Job ─▶ active (running, not being deleted) · succeeded · failed · terminating
    finished (Complete/Failed)   ─▶ only ttlSecondsAfterFinished: delete the Job (Foreground) when due
    failed > backoffLimit (6)    ─▶ FailureTarget BackoffLimitExceeded
                                    "Job has reached the specified backoff limit"
    now - startTime ≥ activeDeadlineSeconds ─▶ FailureTarget DeadlineExceeded
                                    "Job was active longer than specified deadline"
    succeeded ≥ completions      ─▶ SuccessCriteriaMet CompletionsReached
                                    "Reached expected number of succeeded pods"
    FailureTarget / SuccessCriteriaMet ─▶ delete the active pods; once none is left or terminating,
        Failed / Complete with the same reason and message (Complete also sets completionTime)
    otherwise                    ─▶ keep min(parallelism, completions - succeeded) pods active: create
        ``<job>-xxxxx`` pods (labels batch.kubernetes.io/controller-uid, batch.kubernetes.io/job-name,
        controller-uid, job-name; a controller ownerReference) or delete the surplus (not ready first)

With ``restartPolicy: OnFailure`` the containers' restarts count towards the backoff limit too. Without
``completions`` (a work queue) the Job completes once a pod succeeded and none is active.

A failed pod is replaced after kube's backoff: 10 s, doubling per failure, at most 6 minutes, from the
newest failure (its containers' ``finishedAt``, else its Ready condition's transition).

Not matched: the ``batch.kubernetes.io/job-tracking`` finalizer and ``uncountedTerminatedPods`` (counts
come from the pods present, never going down: a finished pod deleted by hand keeps its count, but one
deleted before this controller saw it finish is not counted), the backoff's reset after a quiet
period, Indexed completion mode, podFailurePolicy, successPolicy, backoffLimitPerIndex, suspend and
podReplacementPolicy (terminating pods are replaced at once, the ``TerminatingOrFailed`` default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import (
    FOREGROUND,
    Actions,
    Create,
    Delete,
    Obj,
    condition_true,
    controller_reference,
    delete_of,
    find_condition,
    fresh_names,
    is_controlled_by,
    meta,
    parse_time,
    set_condition,
    timestamp,
)

DEFAULT_BACKOFF_LIMIT = 6
BACKOFF_BASE_S, BACKOFF_MAX_S = 10.0, 360.0
COMPLETE, FAILED = "Complete", "Failed"
FAILURE_TARGET, SUCCESS_CRITERIA_MET = "FailureTarget", "SuccessCriteriaMet"
BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS = ("CompletionsReached", "Reached expected number of succeeded pods")
CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase", "Pending"))


def _restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def finished(job: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The Job's terminal condition (Complete or Failed) when it has one."""
    for kind in (COMPLETE, FAILED):
        found = find_condition((job.get("status") or {}).get("conditions"), kind)
        if found is not None and found.get("status") == "True":
            return kind, found
    return None


def new_pod(job: Mapping[str, Any], name: str) -> Obj:
    """A pod of ``job`` as the Job controller creates it from ``spec.template``."""
    template = (job.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    uid, job_name = meta(job)["uid"], meta(job)["name"]
    labels = dict(template_meta.get("labels") or {})
    labels.update({key: uid for key in CONTROLLER_UID_LABELS})
    labels.update({key: job_name for key in JOB_NAME_LABELS})
    metadata: Obj = {
        "name": name,
        "generateName": f"{job_name}-",
        "namespace": meta(job).get("namespace"),
        "labels": labels,
        "ownerReferences": [controller_reference(job)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": dict(template.get("spec") or {})}


def _ttl(job: Mapping[str, Any], end: Mapping[str, Any], now: datetime) -> Actions:
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None:
        return Actions()
    ended = parse_time((job.get("status") or {}).get("completionTime")) or parse_time(
        end.get("lastTransitionTime")
    )
    due = (ended or now) + timedelta(seconds=int(ttl))
    if now >= due:
        return Actions(deletes=(delete_of(job, reason="ttlSecondsAfterFinished", propagation=FOREGROUND),))
    return Actions(requeue_after=(due - now).total_seconds())


def _surplus_order(pod: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Which active pods go first when there are too many: not ready, then newest (kube's ranking)."""
    return (
        condition_true(pod, "Ready"),
        str(meta(pod).get("creationTimestamp") or ""),
        str(meta(pod)["name"]),
    )


def _verdict(
    spec: Mapping[str, Any], retries: int, succeeded: int, active: int, started: datetime, now: datetime
) -> tuple[str, tuple[str, str]] | None:
    """The interim condition the Job has just earned, if any (failure checks first, as kube)."""
    deadline = spec.get("activeDeadlineSeconds")
    completions = spec.get("completions")
    if retries > int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT)):
        return FAILURE_TARGET, BACKOFF
    if deadline is not None and now - started >= timedelta(seconds=int(deadline)):
        return FAILURE_TARGET, DEADLINE
    if completions is not None and succeeded >= int(completions):
        return SUCCESS_CRITERIA_MET, COMPLETIONS
    if completions is None and succeeded > 0 and not active:
        return SUCCESS_CRITERIA_MET, COMPLETIONS
    return None


def _finished_at(pod: Mapping[str, Any]) -> datetime | None:
    status = pod.get("status") or {}
    times = [
        parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for c in status.get("containerStatuses") or []
    ]
    ready = find_condition(status.get("conditions"), "Ready") or {}
    times.append(parse_time(ready.get("lastTransitionTime")))
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _backoff_wait(failed_pods: Sequence[Mapping[str, Any]], failures: int, now: datetime) -> float:
    """Seconds before a replacement may start: 10 s doubling per failure, at most 6 min, counted from
    the newest failure (kube's pod failure backoff; 0 when the failure time is unknown)."""
    finished = [t for t in (_finished_at(p) for p in failed_pods) if t is not None]
    if not failures or not finished:
        return 0.0
    delay = min(BACKOFF_BASE_S * 2 ** (failures - 1), BACKOFF_MAX_S)
    return max(0.0, (max(finished) + timedelta(seconds=delay) - now).total_seconds())


def _wanted_active(spec: Mapping[str, Any], succeeded: int, active: int) -> int:
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is None:  # a work queue: once one pod succeeded, no new ones
        return min(parallelism, active) if succeeded else parallelism
    return min(parallelism, max(0, int(completions) - succeeded))


def _scale(
    job: Mapping[str, Any],
    mine: Sequence[Mapping[str, Any]],
    active: Sequence[Mapping[str, Any]],
    succeeded: int,
    failed: int,
    now: datetime,
    seed: int | str,
) -> tuple[list[Create], list[Delete], float | None]:
    """Pods to create or delete to reach the wanted number active, and the backoff wait if any."""
    wanted = _wanted_active(job.get("spec") or {}, succeeded, len(active))
    if len(active) > wanted:
        surplus = sorted(active, key=_surplus_order)[: len(active) - wanted]
        return [], [delete_of(p, reason="too many active pods") for p in surplus], None
    if len(active) == wanted:
        return [], [], None
    wait = _backoff_wait([p for p in mine if _phase(p) == "Failed"], failed, now)
    if wait > 0:
        return [], [], wait
    names = fresh_names(f"{meta(job)['name']}-", seed, [str(meta(p)["name"]) for p in mine])
    return [Create(new_pod(job, next(names))) for _ in range(wanted - len(active))], [], None


def decide(
    job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], now: datetime, *, seed: int | str
) -> Actions:
    """One sync of ``job``; ``pods`` may include others (only those it controls count)."""
    end = finished(job)
    if end is not None:
        return _ttl(job, end[1], now)
    spec = job.get("spec") or {}
    observed: Obj = dict(job.get("status") or {})
    mine = [p for p in pods if is_controlled_by(p, job)]
    running = [p for p in mine if _phase(p) not in ("Succeeded", "Failed")]
    terminating = [p for p in running if meta(p).get("deletionTimestamp")]
    active = [p for p in running if not meta(p).get("deletionTimestamp")]
    succeeded = max(int(observed.get("succeeded") or 0), sum(_phase(p) == "Succeeded" for p in mine))
    failed = max(int(observed.get("failed") or 0), sum(_phase(p) == "Failed" for p in mine))
    started = parse_time(observed.get("startTime")) or now
    restart_policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    retries = failed + (sum(_restarts(p) for p in active) if restart_policy == "OnFailure" else 0)

    conditions: list[Obj] = list(observed.get("conditions") or [])
    target = find_condition(conditions, FAILURE_TARGET) or find_condition(conditions, SUCCESS_CRITERIA_MET)
    if target is None and (verdict := _verdict(spec, retries, succeeded, len(active), started, now)):
        kind, (reason, message) = verdict
        conditions = set_condition(conditions, kind, "True", reason, message, now, probe_time=True)
        target = find_condition(conditions, kind)

    creates: list[Create] = []
    deletes: list[Delete] = []
    backoff: float | None = None
    completion_time = observed.get("completionTime")
    if target is not None:
        deletes = [delete_of(p, reason=str(target.get("reason"))) for p in active]
        if not active and not terminating:
            final = FAILED if target.get("type") == FAILURE_TARGET else COMPLETE
            reason, message = str(target["reason"]), str(target["message"])
            conditions = set_condition(conditions, final, "True", reason, message, now, probe_time=True)
            if final == COMPLETE:
                completion_time = completion_time or timestamp(now)
    else:
        creates, deletes, backoff = _scale(job, mine, active, succeeded, failed, now, seed)

    status = _status(observed, active, terminating, creates, deletes, succeeded, failed, now)
    if conditions:
        status["conditions"] = conditions
    if completion_time:
        status["completionTime"] = completion_time
    deadline = spec.get("activeDeadlineSeconds")
    requeue = None
    if deadline is not None and target is None:
        requeue = max(0.0, (started + timedelta(seconds=int(deadline)) - now).total_seconds())
    if backoff is not None:
        requeue = backoff if requeue is None else min(requeue, backoff)
    return Actions(
        creates=tuple(creates),
        deletes=tuple(deletes),
        status=status if status != observed else None,
        requeue_after=requeue,
    )


def _status(
    observed: Obj,
    active: list[Mapping[str, Any]],
    terminating: list[Mapping[str, Any]],
    creates: list[Create],
    deletes: list[Delete],
    succeeded: int,
    failed: int,
    now: datetime,
) -> Obj:
    """The counts after this sync's creates and deletes (terminating: as observed)."""
    gone = {d.ref.uid for d in deletes}
    staying = [p for p in active if meta(p).get("uid") not in gone]
    status: Obj = {
        **observed,
        "startTime": observed.get("startTime") or timestamp(now),
        "ready": sum(condition_true(p, "Ready") for p in staying),
        "terminating": len(terminating),
        "uncountedTerminatedPods": observed.get("uncountedTerminatedPods") or {},
    }
    _set_count(status, "active", len(staying) + len(creates))
    _set_count(status, "succeeded", succeeded)
    _set_count(status, "failed", failed)
    return status


def _set_count(status: Obj, key: str, value: int) -> None:
    """Job counts are ``omitempty``: zero leaves the field out."""
    if value:
        status[key] = value
    else:
        status.pop(key, None)
