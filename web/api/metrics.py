"""/api/v2 routes: metrics."""

from web.api import bp  # noqa: F401
