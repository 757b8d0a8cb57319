"""/api/v2 routes: teams."""

from web.api import bp  # noqa: F401
