"""Accounts and their access keys.

Secrets are stored as given: SigV4 verification needs the secret itself to recompute the signature.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from dockyard.core.context import Principal
from dockyard.store.database import Database
from dockyard.store.schema import access_keys, accounts

ROOT_ACCOUNT_NAME = "root"
POOL_ACCOUNT_NAME = "fargate-pool"
"""The account that owns the Fargate pool's hosts (its cluster ``fargate``); no user works in it."""
POOL_USER = "fargate-pool"
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    principal: Principal
    is_root: bool


def new_access_key_id() -> str:
    """An id shaped like AWS's long-term keys: ``AKIA`` and 16 upper-case letters or digits."""
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


class CredentialStore:
    """Reads and writes accounts and access keys."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find_key(self, access_key_id: str) -> AccessKey | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(access_keys).where(access_keys.c.access_key_id == access_key_id)
            ).first()
        return None if row is None else _to_access_key(row._mapping)

    def list_keys(self) -> list[AccessKey]:
        with self._db.read() as conn:
            rows = conn.execute(select(access_keys).order_by(access_keys.c.created_at)).all()
        return [_to_access_key(row._mapping) for row in rows]

    def root_key(self) -> AccessKey | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(access_keys).where(access_keys.c.is_root == 1).order_by(access_keys.c.created_at)
            ).first()
        return None if row is None else _to_access_key(row._mapping)

    def ensure_root_key(self, now: datetime, access_key_id: str | None, secret: str | None) -> AccessKey:
        """Return the root key, creating the root account and a key on first use.

        When ``access_key_id`` and ``secret`` are given (from the environment), that key becomes the root
        key, replacing the secret of an existing key of that id; otherwise the stored root key is kept.
        """
        with self._db.write() as conn:
            account_id = _root_account_id(conn) or _insert_account(
                conn, new_account_id(), ROOT_ACCOUNT_NAME, now
            )
            if access_key_id and secret:
                existing = conn.execute(
                    select(access_keys.c.account_id).where(access_keys.c.access_key_id == access_key_id)
                ).first()
                if existing is None:
                    _insert_key(conn, account_id, access_key_id, secret, user_name=None, now=now)
                else:
                    conn.execute(
                        update(access_keys)
                        .where(access_keys.c.access_key_id == access_key_id)
                        .values(secret_access_key=secret)
                    )
            elif _stored_root_key_id(conn) is None:
                _insert_key(
                    conn, account_id, new_access_key_id(), new_secret_access_key(), user_name=None, now=now
                )
        key = self.find_key(access_key_id) if access_key_id and secret else self.root_key()
        assert key is not None
        return key

    def ensure_pool_key(self, now: datetime) -> AccessKey:
        """The Fargate pool's account and its first key (the built-in pool host's), made on first use."""
        with self._db.write() as conn:
            row = conn.execute(
                select(accounts.c.account_id).where(accounts.c.name == POOL_ACCOUNT_NAME)
            ).first()
            account_id = (
                str(row[0]) if row else _insert_account(conn, new_account_id(), POOL_ACCOUNT_NAME, now)
            )
            key_row = conn.execute(
                select(access_keys.c.access_key_id)
                .where(access_keys.c.account_id == account_id)
                .order_by(access_keys.c.created_at)
            ).first()
            key_id = str(key_row[0]) if key_row else new_access_key_id()
            if key_row is None:
                _insert_key(conn, account_id, key_id, new_secret_access_key(), user_name=POOL_USER, now=now)
        key = self.find_key(key_id)
        assert key is not None
        return key

    def create_key(self, now: datetime, *, account_id: str | None, user_name: str) -> AccessKey:
        """Create a key for ``user_name`` in ``account_id``; a new account when ``account_id`` is None."""
        with self._db.write() as conn:
            if account_id is None:
                account_id = _insert_account(conn, new_account_id(), user_name, now)
            elif (
                conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first()
                is None
            ):
                _insert_account(conn, account_id, user_name, now)
            key_id = new_access_key_id()
            _insert_key(conn, account_id, key_id, new_secret_access_key(), user_name=user_name, now=now)
        key = self.find_key(key_id)
        assert key is not None
        return key


def _root_account_id(conn: Connection) -> str | None:
    row = conn.execute(select(accounts.c.account_id).where(accounts.c.name == ROOT_ACCOUNT_NAME)).first()
    return None if row is None else str(row[0])


def _stored_root_key_id(conn: Connection) -> str | None:
    row = conn.execute(select(access_keys.c.access_key_id).where(access_keys.c.is_root == 1)).first()
    return None if row is None else str(row[0])


def _insert_account(conn: Connection, account_id: str, name: str, now: datetime) -> str:
    conn.execute(insert(accounts).values(account_id=account_id, name=name, created_at=now))
    return account_id


def _insert_key(
    conn: Connection, account_id: str, key_id: str, secret: str, *, user_name: str | None, now: datetime
) -> None:
    is_root = user_name is None
    arn = f"arn:aws:iam::{account_id}:root" if is_root else f"arn:aws:iam::{account_id}:user/{user_name}"
    user_id = account_id if is_root else "AIDA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(17))
    conn.execute(
        insert(access_keys).values(
            access_key_id=key_id,
            secret_access_key=secret,
            account_id=account_id,
            user_name=user_name,
            user_id=user_id,
            arn=arn,
            is_root=1 if is_root else 0,
            created_at=now,
        )
    )


def _to_access_key(row: object) -> AccessKey:
    m = dict(row)  # type: ignore[call-overload]
    principal = Principal(
        account_id=m["account_id"], arn=m["arn"], user_id=m["user_id"], access_key_id=m["access_key_id"]
    )
    return AccessKey(m["access_key_id"], m["secret_access_key"], principal, bool(m["is_root"]))
