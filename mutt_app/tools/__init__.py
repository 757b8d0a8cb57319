"""Operator tools that talk to a MUTT from outside: smoke/validate checks, test traffic, the Moogsoft stand-in."""
