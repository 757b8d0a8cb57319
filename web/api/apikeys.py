"""/api/v2 routes: apikeys."""

from web.api import bp  # noqa: F401
