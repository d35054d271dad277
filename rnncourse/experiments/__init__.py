"""Experiments that the book's chapters run while it builds (one module per chapter family)."""
