"""What could not be processed, kept with its reason, and remediation that replays it."""
