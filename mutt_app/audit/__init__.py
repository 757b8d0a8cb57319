"""The config audit trail and searching it and the event audit."""
