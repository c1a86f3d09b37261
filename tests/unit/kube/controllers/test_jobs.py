"""The Job controller's decisions (control/kube/controllers/jobs.py), following a Job of the Kubernetes
documentation ("Jobs": pi with completions and parallelism) through its life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers import jobs
from dockyard.control.kube.controllers.actions import NAME_ALPHABET, Actions, Create

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def job(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": "job-uid"},
        "spec": {
            "completions": 3,
            "parallelism": 2,
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]},
            },
            **spec,
        },
    }


def pods_of(actions: Actions, phase: str = "Running") -> list[dict[str, Any]]:
    made = []
    for index, create in enumerate(actions.creates):
        pod = {**create.obj, "metadata": {**create.obj["metadata"], "uid": f"p{index}-{phase}"}}
        made.append({**pod, "status": {"phase": phase}})
    return made


def with_status(owner: dict[str, Any], actions: Actions) -> dict[str, Any]:
    assert actions.status is not None
    return {**owner, "status": actions.status}


def test_the_first_sync_creates_parallelism_pods_named_and_labelled_as_kube() -> None:
    actions = jobs.decide(job(), [], NOW, seed=1)
    assert len(actions.creates) == 2
    pod = actions.creates[0].obj
    name = pod["metadata"]["name"]
    assert name.startswith("pi-") and len(name) == 8 and all(c in NAME_ALPHABET for c in name[3:])
    assert pod["metadata"]["labels"] == {
        "app": "pi",
        "batch.kubernetes.io/controller-uid": "job-uid",
        "controller-uid": "job-uid",
        "batch.kubernetes.io/job-name": "pi",
        "job-name": "pi",
    }
    assert pod["metadata"]["ownerReferences"][0] == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "pi",
        "uid": "job-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert actions.status == {
        "startTime": "2026-12-07T12:00:00Z",
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "active": 2,
    }
    assert jobs.decide(job(), [], NOW, seed=1) == actions


def test_progress_to_complete_with_success_criteria_met_first() -> None:
    first = jobs.decide(job(), [], NOW, seed=1)
    owner = with_status(job(), first)
    done = pods_of(first, "Succeeded")
    second = jobs.decide(owner, done, NOW + timedelta(seconds=5), seed=2)
    assert len(second.creates) == 1  # 3 completions - 2 succeeded
    owner = with_status(owner, second)
    last = [
        *done,
        *(p | {"metadata": {**p["metadata"], "uid": "p-last"}} for p in pods_of(second, "Succeeded")),
    ]
    third = jobs.decide(owner, last, NOW + timedelta(seconds=9), seed=3)
    assert third.creates == () and third.deletes == ()
    status = third.status
    assert status is not None
    assert status["succeeded"] == 3 and "active" not in status
    kinds = [(c["type"], c["reason"], c["message"]) for c in status["conditions"]]
    assert kinds == [
        ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
    ]
    assert status["completionTime"] == "2026-12-07T12:00:09Z"
    assert jobs.decide(with_status(owner, third), last, NOW + timedelta(seconds=10), seed=4).empty


def test_backoff_limit_exceeded_fails_the_job_after_its_pods_are_gone() -> None:
    owner = job(backoffLimit=1, completions=1, parallelism=1)
    failed = [
        {**p, "metadata": {**p["metadata"], "uid": f"f{i}"}}
        for i, p in enumerate(pods_of(jobs.decide(owner, [], NOW, seed=1), "Failed") * 2)
    ]
    running = pods_of(jobs.decide(owner, [], NOW, seed=9))
    actions = jobs.decide(owner, [*failed, *running], NOW, seed=2)
    assert [d.ref.uid for d in actions.deletes] == [running[0]["metadata"]["uid"]]
    assert actions.status is not None
    assert [c["type"] for c in actions.status["conditions"]] == ["FailureTarget"]
    assert actions.status["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert actions.status["failed"] == 2
    later = jobs.decide(with_status(owner, actions), failed, NOW + timedelta(seconds=1), seed=3)
    assert later.status is not None
    assert [(c["type"], c["message"]) for c in later.status["conditions"]] == [
        ("FailureTarget", "Job has reached the specified backoff limit"),
        ("Failed", "Job has reached the specified backoff limit"),
    ]
    assert "completionTime" not in later.status


def test_active_deadline() -> None:
    owner = job(activeDeadlineSeconds=30)
    first = jobs.decide(owner, [], NOW, seed=1)
    assert first.requeue_after == 30
    actions = jobs.decide(with_status(owner, first), pods_of(first), NOW + timedelta(seconds=30), seed=2)
    assert len(actions.deletes) == 2
    assert actions.status is not None
    assert actions.status["conditions"][0]["reason"] == "DeadlineExceeded"
    assert actions.status["conditions"][0]["message"] == "Job was active longer than specified deadline"


def test_surplus_pods_are_deleted_not_ready_first() -> None:
    first = jobs.decide(job(parallelism=2), [], NOW, seed=1)
    pods = pods_of(first)
    pods[0]["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    actions = jobs.decide(with_status(job(parallelism=1), first), pods, NOW, seed=2)
    assert [d.ref.uid for d in actions.deletes] == [pods[1]["metadata"]["uid"]]
    assert actions.status is not None and actions.status["ready"] == 1 and actions.status["active"] == 1


def test_ttl_after_finished_deletes_the_job_in_the_foreground() -> None:
    owner = job(ttlSecondsAfterFinished=60)
    owner["status"] = {
        "completionTime": "2026-12-07T12:00:00Z",
        "conditions": [{"type": "Complete", "status": "True"}],
    }
    assert jobs.decide(owner, [], NOW + timedelta(seconds=10), seed=0).requeue_after == 50
    (delete,) = jobs.decide(owner, [], NOW + timedelta(seconds=60), seed=0).deletes
    assert (delete.ref.uid, delete.propagation) == ("job-uid", "Foreground")


def test_pods_of_other_owners_are_ignored() -> None:
    stranger: dict[str, Any] = {"metadata": {"name": "x", "uid": "x"}, "status": {"phase": "Running"}}
    actions = jobs.decide(job(), [stranger], NOW, seed=1)
    assert all(isinstance(c, Create) for c in actions.creates) and len(actions.creates) == 2


def test_a_failed_pod_is_replaced_after_the_backoff() -> None:
    owner = job(completions=1, parallelism=1)
    (failed,) = pods_of(jobs.decide(owner, [], NOW, seed=1), "Failed")
    failed["status"]["containerStatuses"] = [
        {
            "name": "pi",
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "finishedAt": "2026-12-07T12:00:00Z"}},
        }
    ]
    waiting = jobs.decide(owner, [failed], NOW + timedelta(seconds=4), seed=2)
    assert waiting.creates == () and waiting.requeue_after == 6
    assert len(jobs.decide(owner, [failed], NOW + timedelta(seconds=10), seed=2).creates) == 1
