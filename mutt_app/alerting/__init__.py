"""What events mean: batches claimed from the buffer, rules applied, alerts raised, the unhandled roll-up; the dry run."""
