"""/api/v2 routes: rules."""

from web.api import bp  # noqa: F401
