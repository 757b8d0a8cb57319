"""/api/v2 routes: hosts."""

from web.api import bp  # noqa: F401
