"""Small experiments that the book runs while it builds (one module per experiment)."""
