"""The red-team class: a tiny course and one submission per attack (make_batch)."""
