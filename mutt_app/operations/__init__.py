"""Keeping MUTT running: the janitor, beat jobs, status, dashboard, SLOs; `mutt up`'s supervisor and its embedded Redis."""
