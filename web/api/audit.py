"""/api/v2 routes: audit."""

from web.api import bp  # noqa: F401
