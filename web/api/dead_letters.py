"""/api/v2 routes: dead_letters."""

from web.api import bp  # noqa: F401
