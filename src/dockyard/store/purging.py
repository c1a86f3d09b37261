"""Removing rows that have aged out, shared by the tables the maintenance pass tidies."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, delete, select


def delete_where(conn: Connection, table: Table, condition: ColumnElement[bool]) -> list[tuple[str, str]]:
    """Delete ``table``'s rows matching ``condition``; their (account, ARN) pairs, so callers can remove
    what hangs off them (tags)."""
    doomed = [
        (str(account), str(arn))
        for account, arn in conn.execute(select(table.c.account_id, table.c.arn).where(condition))
    ]
    if doomed:
        conn.execute(delete(table).where(condition, table.c.arn.in_([arn for _, arn in doomed])))
    return doomed
