"""What every part uses and that knows nothing of events or alerts: logs, metrics, limits, strict parsing."""
