"""What every part uses and that knows nothing of events or alerts: logs, metrics, limits, strict parsing."""

from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    # Temporary (issue #21): runtime settings moved to mutt_app.dynconfig. forwarding/delivery.py and
    # tasks/alerter.py, which helper "lifecycle" is reshaping, still say `from mutt_app.core import
    # dynconfig`; delete this once they import it from mutt_app (and its entry in pyproject.toml).
    if name == "dynconfig":
        from mutt_app import dynconfig

        return dynconfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
