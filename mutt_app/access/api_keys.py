"""API keys for machines: created once (the secret is shown once), stored as a SHA-256 digest.

A key looks like ``mutt_<prefix>_<secret>``. The prefix finds the row; the digest of the whole
key proves it. Keys have scopes (ingest, read, operator, admin), can be revoked, and several can
be active at once so a sender's key can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.errors import InvalidChange, NotFound
from mutt_app.storage import redis_keys
from mutt_app.storage.db import on_commit, session_scope
from mutt_app.storage.models import SCOPES, ApiKey

if TYPE_CHECKING:
    from redis import Redis

# What each scope also grants: an admin key can do what an operator key can, and so on.
IMPLIED = {"admin": {"admin", "operator", "read"}, "operator": {"operator", "read"}, "read": {"read"}, "ingest": {"ingest"}}


class ApiKeyError(InvalidChange):
    pass


class NoSuchKey(NotFound, ApiKeyError):
    """No API key has that id."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    items = [s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes) if s.strip()]
    if not items:
        raise ApiKeyError("a key needs at least one scope: " + ", ".join(SCOPES))
    unknown = sorted(set(items) - set(SCOPES))
    if unknown:
        raise ApiKeyError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return sorted(set(items))


def create(session: Session, name: str, scopes: str | Iterable[str], *, actor: str, reason: str = "",
           correlation_id: str = "") -> tuple[ApiKey, str]:
    """Make a key; returns the row and the secret key, which is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("a key needs a name (who or what uses it)")
    scope_list = parse_scopes(scopes)
    prefix = secrets.token_hex(4)
    secret = f"mutt_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name[:120], prefix=prefix, digest=digest(secret), scopes=",".join(scope_list), created_by=actor)
    session.add(row)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table="api_keys", record_id=row.id,
                 new={"name": row.name, "prefix": prefix, "scopes": scope_list}, reason=reason,
                 correlation_id=correlation_id)
    on_commit(session, bump_version)
    return row, secret


def revoke(session: Session, key_id: int, *, actor: str, reason: str = "", correlation_id: str = "") -> ApiKey:
    """Revoke a key; every process is told again even when it was revoked already (so revoking
    again mends a revocation that Redis, down at the time, never announced)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NoSuchKey(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        config_audit.record(session, actor=actor, operation="DELETE", table="api_keys", record_id=row.id,
                     old={"name": row.name, "prefix": row.prefix, "scopes": row.scopes.split(",")},
                     reason=reason, correlation_id=correlation_id)
    on_commit(session, bump_version)
    return row


def bump_version() -> None:
    from mutt_app.storage import redis_client
    redis_client.get().incr(redis_keys.APIKEYS_VERSION)


class KeyCache:
    """Verifies keys without a database query per request.

    Holds every active key's digest; reloads when another process bumps the keys version
    (checked at most once a second), so a revoked key stops working within about a second.
    """

    def __init__(self, redis_client: Redis, database_url: str | None = None) -> None:
        self._redis = redis_client
        self._url = database_url
        self._lock = threading.Lock()
        self._by_prefix: dict[str, tuple[str, KeyInfo, datetime | None]] = {}
        self._version: str | bytes | None = "unloaded"  # as the client returns it; compared, never read
        self._checked_at = 0.0
        self._failure: tuple[float, Exception] | None = None  # when the last check failed, and how

    def verify(self, presented: str | None) -> KeyInfo | None:
        if not presented or not presented.startswith("mutt_"):
            return None
        prefix = presented[5:13]
        self._refresh()
        entry = self._by_prefix.get(prefix)
        if entry is None:
            # Perhaps a key made a moment ago: check the version now rather than within a second.
            self._refresh(force=True)
            entry = self._by_prefix.get(prefix)
            if entry is None:
                return None
        expected, info, expires_at = entry
        if not hmac.compare_digest(expected, digest(presented)):
            return None
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        return info

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < 1.0:
            return
        # Once loaded, a thread that finds another checking uses the keys known so far: while Redis
        # or the database hangs, a check takes its timeout, and requests must not queue behind it.
        if not self._lock.acquire(blocking=force or self._version == "unloaded"):
            return
        try:
            if not force and now - self._checked_at < 1.0:
                return
            if self._failure is not None and time.monotonic() - self._failure[0] < 1.0:
                raise self._failure[1]  # the check that failed a moment ago, not one more wait per thread
            version = self._redis.get(redis_keys.APIKEYS_VERSION)
            if version != self._version:
                with session_scope(self._url) as session:
                    rows = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))).all()
                self._by_prefix = {
                    row.prefix: (row.digest, KeyInfo(row.id, row.name, row.prefix, frozenset(row.scopes.split(","))), row.expires_at)
                    for row in rows
                }
                self._version = version
            self._failure = None
        except Exception as error:
            if self._failure is None or self._failure[1] is not error:
                self._failure = (time.monotonic(), error)
            raise
        finally:
            self._checked_at = time.monotonic()  # a failed check counts too: the next is in a second
            self._lock.release()


def sync_last_used(session: Session, redis_client: Redis) -> int:
    """Copy when each key was last used (kept in Redis by ingest) into ApiKey.last_used_at.

    Returns how many keys moved forward. Entries for keys that no longer exist are dropped.
    """
    seen = cast(dict[str, str], redis_client.hgetall(redis_keys.APIKEY_LAST_USED))  # MUTT's clients decode responses
    if not seen:
        return 0
    rows = {str(row.id): row for row in session.scalars(select(ApiKey).where(ApiKey.id.in_(
        [int(key_id) for key_id in seen if key_id.isdigit()])))}
    moved = 0
    for key_id, epoch in seen.items():
        row = rows.get(key_id)
        if row is None:
            redis_client.hdel(redis_keys.APIKEY_LAST_USED, key_id)
            continue
        used_at = datetime.fromtimestamp(int(epoch), UTC)
        if row.last_used_at is None or row.last_used_at < used_at:
            row.last_used_at = used_at
            moved += 1
    return moved
