"""People who log in to the UI: argon2id password hashes, roles viewer < operator < admin."""

from __future__ import annotations

import functools
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.errors import Conflict, InvalidChange, NotFound
from mutt_app.storage.models import ROLES, User

_hasher = PasswordHasher()  # argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)
MIN_PASSWORD_LENGTH = 12
RANK = {role: rank for rank, role in enumerate(ROLES)}


class UserError(InvalidChange):
    pass


class LastAdmin(Conflict, UserError):
    """The change would leave no active admin (nobody could manage users and keys any more)."""


class UserExists(Conflict, UserError):
    """A user of that name is already there."""


class NoSuchUser(NotFound, UserError):
    """No user has that id."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return True


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def has_role(user: User, role: str) -> bool:
    return RANK[user.role] >= RANK[role]


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def create(session: Session, username: str, password: str, role: str, *, actor: str, reason: str = "", correlation_id: str = "") -> User:
    username = (username or "").strip()
    if not username or len(username) > 80:
        raise UserError("a username needs 1 to 80 characters")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    validate_password(password)
    if session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise UserExists(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role, session_token=secrets.token_hex(32))
    session.add(user)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table="users", record_id=user.id,
                 new={"username": username, "role": role}, reason=reason, correlation_id=correlation_id)
    return user


def end_sessions(user: User) -> None:
    """End every session of ``user``: a session cookie names the user by this token, so a
    cookie issued before (even one captured and replayed) no longer finds anyone."""
    user.session_token = secrets.token_hex(32)


def set_password(session: Session, user: User, password: str, *, actor: str, correlation_id: str = "") -> None:
    """Change a password; ending the sessions logs the user out everywhere else."""
    validate_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)
    config_audit.record(session, actor=actor, operation="UPDATE", table="users", record_id=user.id,
                 new={"password": "changed"}, correlation_id=correlation_id)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


@functools.cache
def _dummy_hash() -> str:
    """The hash an unknown name is checked against. Made on the first login a process sees, not at
    import: an argon2 hash takes 64 MiB, which processes that never check a password (workers,
    `mutt listen`) should not pay."""
    return _hasher.hash(secrets.token_hex(16))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None. An unknown name costs the same
    hash check as a wrong password, so timing does not tell which names exist."""
    dummy_hash = _dummy_hash()  # before the look-up: a process's first login pays it whatever the name
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    if user is None:
        try:
            _hasher.verify(dummy_hash, password or "")
        except VerificationError:
            pass
        return None
    if not check_password(user, password or "") or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def list_all(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def log_out(session: Session, user_id: int) -> None:
    """Logout: the user's sessions end on the server, not only in the browser that asked."""
    user = session.get(User, user_id)
    if user is not None:
        end_sessions(user)


def get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NoSuchUser(f"no user with id {user_id}")
    return user


def update(session: Session, user: User, *, role: str | None = None, is_active: bool | None = None,
           actor: str, reason: str = "", correlation_id: str = "") -> User:
    """Change a user's role or enable/disable them; disabling ends their sessions."""
    old: dict[str, str | bool] = {}
    new: dict[str, str | bool] = {}
    demoted = (role is not None and role != "admin") or is_active is False
    if demoted and user.role == "admin" and user.is_active:
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))) or 0
        if admins <= 1:
            raise LastAdmin(f"{user.username} is the last active admin; make another admin first")
    if role is not None and role != user.role:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        old["role"], new["role"] = user.role, role
        user.role = role
    if is_active is not None and is_active != user.is_active:
        old["is_active"], new["is_active"] = user.is_active, is_active
        user.is_active = is_active
        if not is_active:
            end_sessions(user)
    if new:
        config_audit.record(session, actor=actor, operation="UPDATE", table="users", record_id=user.id,
                     old=old, new=new, reason=reason, correlation_id=correlation_id)
    return user


def to_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "username": user.username, "role": user.role, "is_active": user.is_active,
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }
