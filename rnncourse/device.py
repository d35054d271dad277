"""Device choice: ``cuda`` when available, else ``cpu`` (override with RNNCOURSE_DEVICE)."""

import os

import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train on.

    ``prefer`` or the environment variable ``RNNCOURSE_DEVICE`` (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``) wins; otherwise CUDA if present, else the CPU.
    """
    name = prefer or os.environ.get("RNNCOURSE_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
