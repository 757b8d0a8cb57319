"""MUTT 3: takes network events, decides what they mean, forwards what needs a human."""

__version__ = "3.0.0.dev0"
