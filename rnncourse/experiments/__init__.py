"""Experiments the book runs while it builds: one module per chapter topic, each <= 60 s on 2 CPU cores."""
