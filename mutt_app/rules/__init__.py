"""The rule book: stored rules, development hosts and device teams (what they must be, storing them,
loading them for the alerter); the matcher; rules as code."""
