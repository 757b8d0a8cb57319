"""Lua scripts that run in Redis, kept as ``.lua`` files next to the module that runs them.

A script is named ``<package>:<name>``: the file ``<package>/lua/<name>.lua`` (``setup.cfg`` ships
them as package data). A line ``-- include <package>:<name>`` in a script is replaced by that
file's text, so a shared piece (``mutt_app.core:now_ms``, ``mutt_app.core:gcra``) lives in one
file and is spliced into every script that needs it. Each file is read once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script

_INCLUDE = re.compile(r"^-- include ([\w.]+:\w+)$", re.MULTILINE)


@cache
def source(name: str) -> str:
    """The text of the script ``name`` (``package:name``), with its includes spliced in."""
    package, _, script_name = name.partition(":")
    text = resources.files(package).joinpath("lua", f"{script_name}.lua").read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda include: source(include[1]), text)


def script(redis_client: Redis, name: str) -> Script:
    """The script ``name`` (``package:name``) registered with ``redis_client``: redis-py runs it by
    its SHA and loads it into the server when the server does not know it."""
    return redis_client.register_script(source(name))


NOW_MS = "mutt_app.core:now_ms"  # the piece a script includes to read the Redis server's clock


class RedisClock:
    """The Redis server's clock (``TIME``), read by the scripts that include :data:`NOW_MS` when
    they run. Scripts that read it are registered through a clock, so that a test can give them
    one it moves itself (tests/support/clock.py) instead of waiting for Redis's to pass."""

    def register(self, redis_client: Redis, name: str) -> Callable[..., Any]:
        """The script ``name`` registered on ``redis_client``, reading this clock."""
        return script(redis_client, name)


REDIS_CLOCK = RedisClock()
