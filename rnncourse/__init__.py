"""The course's small teaching package: data generators, training loop, plotting, devices.

Shared by the book and the exercises. It never contains an exercise's solution.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .device import pick_device
from .env import is_grading
from .train import train, warmup_cosine

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
    "pick_device",
    "is_grading",
    "train",
    "warmup_cosine",
]
