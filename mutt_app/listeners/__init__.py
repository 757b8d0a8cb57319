"""Native inputs: syslog (UDP, TCP) and SNMP traps, received by `mutt listen`.

Above ``mutt_app.ingest``: every message becomes the item HTTP ingest would have received and goes
through the same accept path (``Ingest``: normalisation, rate limit per source, backlog limit,
batching, dead letters). ``syslog`` parses, ``framing`` cuts TCP streams, ``sources`` says who may
send, ``server`` runs the sockets (ADR 0013). Only the CLI imports this package.
"""
