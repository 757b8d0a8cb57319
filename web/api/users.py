"""/api/v2 routes: users."""

from web.api import bp  # noqa: F401
