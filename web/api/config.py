"""/api/v2 routes: config."""

from web.api import bp  # noqa: F401
