"""Measured experiments that the book's chapters run at build time."""
