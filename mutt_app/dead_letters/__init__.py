"""What could not be processed, kept with its reason: the dead-letter store (putting it back: mutt_app.remediation)."""
