"""The rule book: stored rules, development hosts and device teams; the matcher; rules as code."""
