"""Who is calling: an API key (machines) or a logged-in user (people).

API keys come only in the ``X-API-KEY`` or ``Authorization: Bearer`` header, never in a URL.
"""

from __future__ import annotations

from functools import wraps

from flask import g, request
from flask_login import current_user

from mutt_app import services
from mutt_app.access import api_keys
from mutt_app.storage import redis_client
from web.errors import api_error
from web.extensions import csrf

# The user role that carries each API scope.
ROLE_FOR_SCOPE = {"read": "viewer", "operator": "operator", "admin": "admin"}
RANK = {"viewer": 0, "operator": 1, "admin": 2}

API_KEYS = "api key cache"  # its name in the process's services


def key_cache() -> api_keys.KeyCache:
    """This process's API key cache."""
    return services.current().own(API_KEYS, lambda: api_keys.KeyCache(redis_client.get()))


def presented_key(headers=None) -> str | None:
    """The key in ``headers`` (default: the current request's), or None."""
    headers = request.headers if headers is None else headers
    key = headers.get("X-API-KEY")
    if key:
        return key.strip()
    authorization = headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def authenticate_key(headers=None) -> api_keys.KeyInfo | None:
    return key_cache().verify(presented_key(headers))


def actor() -> str:
    """How the config audit names the caller: a user name or a key name, never key material."""
    key = getattr(g, "api_key", None)
    if key is not None:
        return f"key:{key.name} ({key.prefix})"
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.username}"
    return "anonymous"


def api_auth(scope: str):
    """Require an API key with ``scope``, or a logged-in user whose role carries it."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if presented_key() is not None:
                key = authenticate_key()
                if key is None:
                    return api_error(401, "missing, unknown or revoked API key")
                if not key.allows(scope):
                    return api_error(403, f"this API key lacks the {scope} scope")
                g.api_key = key
                return view(*args, **kwargs)
            if current_user and current_user.is_authenticated:
                if RANK[current_user.role] < RANK[ROLE_FOR_SCOPE[scope]]:
                    return api_error(403, f"your role ({current_user.role}) cannot do this")
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    csrf.protect()  # a browser session must prove the request came from our pages
                return view(*args, **kwargs)
            return api_error(401, "authenticate with an API key (X-API-KEY header) or log in")

        return wrapper

    return decorate
