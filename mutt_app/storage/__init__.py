"""Where state lives: the database (engine, tables, partitions, migrations) and Redis (clients, every key name)."""
