"""Reference implementations from PyTorch itself, with weights copied from a params dict.

These are the oracles of the authors' guide (docs/exercises.md): a student's function is compared with
``torch.nn`` modules holding the same weights, never with the course's solution.
One module per model family: ``rnn``, and the chapters' own (``gru``, ``lstm``, ...).
"""
