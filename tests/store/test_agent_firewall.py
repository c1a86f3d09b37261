"""The firewall an instance's agent is sent (AgentSessions.firewall), read from the store on every database:
the interfaces of its live tasks of every account, their groups' ingress resolved to CIDRs; and the EC2
provider waking the instances concerned after an ingress change."""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.control.vpc import permissions
from dockyard.control.vpc.defaults import allocate_interface, ensure_default_vpc
from dockyard.core.context import RequestContext
from dockyard.services.ec2.provider import Ec2Provider
from dockyard.services.ecs.agent_sessions import AgentSessions, SessionTarget
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.store import ec2 as ec2_store
from dockyard.store import tasks as task_store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.ec2 import InterfaceRecord, SecurityGroupRecord
from dockyard.store.tasks import TaskRecord

NOW = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
REGION = "us-east-1"


def instance_arn(account_id: str, name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{account_id}:container-instance/fargate/{name}"


def task(account_id: str, instance: str, eni_id: str | None, last_status: str = "RUNNING") -> TaskRecord:
    task_id = uuid.uuid4().hex
    return TaskRecord(
        account_id=account_id,
        region=REGION,
        cluster_name="web",
        task_id=task_id,
        arn=f"arn:aws:ecs:{REGION}:{account_id}:task/web/{task_id}",
        cluster_arn=f"arn:aws:ecs:{REGION}:{account_id}:cluster/web",
        task_definition_arn=f"arn:aws:ecs:{REGION}:{account_id}:task-definition/web:1",
        family="web",
        container_instance_arn=instance,
        last_status=last_status,
        desired_status="RUNNING",
        launch_type="FARGATE",
        group="family:web",
        started_by=None,
        cpu="256",
        memory="512",
        reserved_cpu=256,
        reserved_memory=512,
        reserved_ports_tcp=(),
        reserved_ports_udp=(),
        overrides={},
        containers=[],
        created_at=NOW,
        updated_at=NOW,
        eni_id=eni_id,
    )


class Network:
    """Two accounts' default networks: the pool's (``pool``) and a user's (``user``) with groups ``web``
    (tcp/8080 from 10.0.0.0/8 and from group ``lb``) and ``lb``."""

    def __init__(self, db: Database) -> None:
        credentials = CredentialStore(db)
        self.pool = credentials.ensure_root_key(NOW, None, None).principal.account_id
        self.user_principal = credentials.create_key(NOW, account_id=None, user_name="alice").principal
        self.user = self.user_principal.account_id
        self.db = db
        with db.write() as tx:
            ensure_default_vpc(tx, self.pool, REGION, NOW)
            vpc = ensure_default_vpc(tx, self.user, REGION, NOW)
            self.lb = self._group(tx, vpc.vpc_id, "lb", [])
            web_rules = permissions.expand(
                [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 8080,
                        "ToPort": 8080,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                        "UserIdGroupPairs": [{"GroupId": self.lb.group_id}],
                    }
                ],
                account_id=self.user,
                resolve_group=lambda gid, name: gid,
            )
            self.web = self._group(tx, vpc.vpc_id, "web", web_rules)
            self.default = {
                account: next(g for g in ec2_store.list_groups(tx, account, REGION) if g.name == "default")
                for account in (self.pool, self.user)
            }

    def _group(
        self, tx: Connection, vpc_id: str, name: str, ingress: list[dict[str, Any]]
    ) -> SecurityGroupRecord:
        group = SecurityGroupRecord(
            self.user, REGION, f"sg-{uuid.uuid4().hex[:17]}", vpc_id, name, name, ingress, [], [], NOW
        )
        ec2_store.insert_group(tx, group)
        return group

    def interface(self, account: str, groups: list[str]) -> InterfaceRecord:
        with self.db.write() as tx:
            subnet = ec2_store.list_subnets(tx, account, REGION)[0]
            return allocate_interface(tx, subnet, groups, description="task", attachment=None, now=NOW)

    def run(self, record: TaskRecord) -> TaskRecord:
        with self.db.write() as tx:
            task_store.insert_task(tx, record)
        return record


def test_the_firewall_holds_the_live_awsvpc_tasks_of_every_account_on_the_instance(db: Database) -> None:
    net = Network(db)
    host, other_host = instance_arn(net.pool, "a" * 32), instance_arn(net.pool, "b" * 32)
    web = net.interface(net.user, [net.web.group_id])
    balancer = net.interface(net.user, [net.lb.group_id])  # a member of lb, on another host
    pool_own = net.interface(net.pool, [net.default[net.pool].group_id])
    gone = net.interface(net.user, [net.web.group_id])
    net.run(task(net.user, host, web.eni_id))
    net.run(task(net.user, other_host, balancer.eni_id))
    net.run(task(net.pool, host, pool_own.eni_id))
    net.run(task(net.user, host, gone.eni_id, last_status="STOPPED"))
    net.run(task(net.user, host, None))  # a bridge task: no interface
    sessions = AgentSessions(db)
    target = SessionTarget(net.pool, REGION, f"arn:aws:ecs:{REGION}:{net.pool}:cluster/fargate", host)

    expected = [
        {
            "networkInterfaceId": web.eni_id,
            "privateIPv4Address": web.private_ip,
            "ingress": [
                {
                    "protocol": "tcp",
                    "fromPort": 8080,
                    "toPort": 8080,
                    "cidrs": ["10.0.0.0/8", f"{balancer.private_ip}/32"],
                }
            ],
        },
        {
            "networkInterfaceId": pool_own.eni_id,
            "privateIPv4Address": pool_own.private_ip,
            "ingress": [{"protocol": "-1", "cidrs": [f"{pool_own.private_ip}/32"]}],
        },
    ]
    assert sessions.firewall(target) == sorted(expected, key=lambda e: str(e["networkInterfaceId"]))
    bare = replace(target, instance_arn=instance_arn(net.pool, "c" * 32))
    assert sessions.firewall(bare) == []


def test_an_ingress_change_wakes_the_hosts_of_the_accounts_interfaces(db: Database) -> None:
    net = Network(db)
    host, other_host = instance_arn(net.pool, "d" * 32), instance_arn(net.pool, "e" * 32)
    bystander = instance_arn(net.pool, "f" * 32)
    web = net.interface(net.user, [net.web.group_id])
    net.run(task(net.user, host, web.eni_id))
    net.run(task(net.pool, other_host, net.interface(net.pool, []).eni_id))  # another account's interface
    net.run(task(net.user, bystander, None))
    with db.read() as tx:
        assert ec2_store.instances_hosting_interfaces(tx, net.user, REGION) == {host}
    notifier = InstanceNotifier()
    woken: list[str] = []
    for arn in (host, other_host, bystander):
        notifier.subscribe(arn, functools.partial(woken.append, arn))
    provider = Ec2Provider(db, notifier=notifier)
    ctx = RequestContext(principal=net.user_principal, region=REGION, request_id="r1", now=NOW)
    sessions = AgentSessions(db)
    target = SessionTarget(net.pool, REGION, f"arn:aws:ecs:{REGION}:{net.pool}:cluster/fargate", host)
    assert [i["ingress"][0]["cidrs"] for i in sessions.firewall(target)] == [["10.0.0.0/8"]]

    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "192.0.2.7/32"}]}
    provider.authorize_security_group_ingress(ctx, {"GroupId": net.web.group_id, "IpPermissions": [ssh]})
    assert woken == [host]
    (interface,) = sessions.firewall(target)
    assert interface["ingress"][1] == {
        "protocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "cidrs": ["192.0.2.7/32"],
    }

    provider.revoke_security_group_ingress(ctx, {"GroupId": net.web.group_id, "IpPermissions": [ssh]})
    provider.authorize_security_group_egress(ctx, {"GroupId": net.web.group_id, "IpPermissions": [ssh]})
    assert woken == [host, host]  # egress is not enforced: no wake-up
    assert len(sessions.firewall(target)[0]["ingress"]) == 1
