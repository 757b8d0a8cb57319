"""Suppression: silences (maintenance windows) that mute matching events for a time."""
