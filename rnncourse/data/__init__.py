"""Data sets generated in the repository or read from files that PyPI packages ship.

Nothing here downloads anything. One module per task; each function is seeded.
"""
