"""Keeping MUTT running: the janitor, beat jobs, status, dashboard, SLOs, the embedded supervisor."""
