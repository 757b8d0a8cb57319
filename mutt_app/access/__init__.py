"""Who may do what: people (users, roles, login throttling) and machines (API keys)."""
