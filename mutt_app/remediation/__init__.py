"""Dead letters back into the pipeline: replay (by an operator or remediation) and remediation, which replays what has cleared."""
