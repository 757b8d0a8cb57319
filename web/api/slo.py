"""/api/v2 routes: slo."""

from web.api import bp  # noqa: F401
