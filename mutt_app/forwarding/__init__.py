"""Alerts going out to Moogsoft: the payload and client, the circuit breaker, the forwarder."""
