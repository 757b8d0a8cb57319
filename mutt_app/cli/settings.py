"""mutt settings commands (to be filled in by their issue)."""

COMMANDS: list = []
