"""Tags of any resource, keyed by its ARN and scoped to its account."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, func, insert, select, update

from dockyard.store.schema import resource_tags

Tag = tuple[str, str]


def list_tags(conn: Connection, account_id: str, arn: str) -> list[Tag]:
    """The resource's tags in the order they were first added."""
    rows = conn.execute(
        select(resource_tags.c.tag_key, resource_tags.c.tag_value)
        .where(resource_tags.c.account_id == account_id, resource_tags.c.resource_arn == arn)
        .order_by(resource_tags.c.position)
    ).all()
    return [(str(key), str(value)) for key, value in rows]


def list_tags_of_many(conn: Connection, account_id: str, arns: Iterable[str]) -> dict[str, list[Tag]]:
    """The tags of each of ``arns`` (in the order first added), in one query; resources without tags are
    absent from the result."""
    wanted = list(set(arns))
    if not wanted:
        return {}
    rows = conn.execute(
        select(resource_tags.c.resource_arn, resource_tags.c.tag_key, resource_tags.c.tag_value)
        .where(resource_tags.c.account_id == account_id, resource_tags.c.resource_arn.in_(wanted))
        .order_by(resource_tags.c.resource_arn, resource_tags.c.position)
    )
    result: dict[str, list[Tag]] = {}
    for arn, key, value in rows:
        result.setdefault(str(arn), []).append((str(key), str(value)))
    return result


def put_tags(conn: Connection, account_id: str, arn: str, tags: Sequence[Tag]) -> None:
    """Add ``tags``, replacing the value of keys the resource already has."""
    existing = dict(list_tags(conn, account_id, arn))
    position = _next_position(conn, account_id, arn)
    for key, value in tags:
        if key in existing:
            conn.execute(
                update(resource_tags)
                .where(
                    resource_tags.c.account_id == account_id,
                    resource_tags.c.resource_arn == arn,
                    resource_tags.c.tag_key == key,
                )
                .values(tag_value=value)
            )
        else:
            conn.execute(
                insert(resource_tags).values(
                    resource_arn=arn, tag_key=key, tag_value=value, account_id=account_id, position=position
                )
            )
            position += 1
        existing[key] = value


def remove_tags(conn: Connection, account_id: str, arn: str, keys: Iterable[str]) -> None:
    conn.execute(
        delete(resource_tags).where(
            resource_tags.c.account_id == account_id,
            resource_tags.c.resource_arn == arn,
            resource_tags.c.tag_key.in_(list(keys)),
        )
    )


def remove_all_tags(conn: Connection, account_id: str, arn: str) -> None:
    conn.execute(
        delete(resource_tags).where(
            resource_tags.c.account_id == account_id, resource_tags.c.resource_arn == arn
        )
    )


def _next_position(conn: Connection, account_id: str, arn: str) -> int:
    current = conn.execute(
        select(func.max(resource_tags.c.position)).where(
            resource_tags.c.account_id == account_id, resource_tags.c.resource_arn == arn
        )
    ).scalar()
    return 0 if current is None else int(current) + 1
